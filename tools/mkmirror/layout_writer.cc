#include "tools/mkmirror/layout_writer.h"

#include <nlohmann/json.hpp>

namespace trustgate::mkmirror {
namespace {

using Json = nlohmann::ordered_json;

Json AnnotationsJson(const std::map<std::string, std::string>& annotations) {
  Json out = Json::object();
  for (const auto& [key, value] : annotations) {  // sorted, as Go maps are
    out[key] = value;
  }
  return out;
}

// Field order of Go's ocispec.Descriptor.
Json DescriptorJson(const Descriptor& d) {
  Json out;
  out["mediaType"] = d.media_type;
  out["digest"] = d.digest;
  out["size"] = d.size;
  if (!d.annotations.empty()) {
    out["annotations"] = AnnotationsJson(d.annotations);
  }
  if (d.data) {
    out["data"] = *d.data;
  }
  if (d.platform) {
    out["platform"]["architecture"] = d.platform->architecture;
    out["platform"]["os"] = d.platform->os;
  }
  if (d.artifact_type) {
    out["artifactType"] = *d.artifact_type;
  }
  return out;
}

}  // namespace

Descriptor EmptyConfigDescriptor() {
  // OCI image-spec manifest.md, Guidance for an Empty Descriptor.
  Descriptor d;
  d.media_type = kMediaTypeEmpty;
  d.digest =
      "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
  d.size = 2;
  d.data = "e30=";
  return d;
}

std::string ManifestJson(const ImageManifest& manifest) {
  Json out;
  out["schemaVersion"] = 2;
  out["mediaType"] = kMediaTypeImageManifest;
  if (manifest.artifact_type) {
    out["artifactType"] = *manifest.artifact_type;
  }
  out["config"] = DescriptorJson(manifest.config);
  Json layers = Json::array();
  for (const Descriptor& layer : manifest.layers) {
    layers.push_back(DescriptorJson(layer));
  }
  out["layers"] = std::move(layers);
  if (manifest.subject) {
    out["subject"] = DescriptorJson(*manifest.subject);
  }
  if (!manifest.annotations.empty()) {
    out["annotations"] = AnnotationsJson(manifest.annotations);
  }
  return out.dump();
}

std::string IndexJson(const std::vector<Descriptor>& manifests) {
  Json out;
  out["schemaVersion"] = 2;
  out["mediaType"] = kMediaTypeImageIndex;
  Json list = Json::array();
  for (const Descriptor& d : manifests) {
    list.push_back(DescriptorJson(d));
  }
  out["manifests"] = std::move(list);
  return out.dump();
}

base::Result<std::unique_ptr<LayoutWriter>, MkError> LayoutWriter::Create(
    std::filesystem::path root) {
  TG_RETURN_IF_ERROR(MakeDirectories(root / "blobs" / "sha256"));
  return std::unique_ptr<LayoutWriter>(new LayoutWriter(std::move(root)));
}

std::filesystem::path LayoutWriter::BlobPath(std::string_view digest) const {
  const size_t colon = digest.find(':');
  return root_ / "blobs" / std::string(digest.substr(0, colon)) /
         std::string(digest.substr(colon + 1));
}

base::Result<Descriptor, MkError> LayoutWriter::WriteBlob(
    std::string_view media_type, base::ByteView bytes,
    HashAlgorithm algorithm) {
  Descriptor d;
  d.media_type = media_type;
  d.digest = OciDigest(algorithm, bytes);
  d.size = static_cast<int64_t>(bytes.size());
  if (written_.insert(d.digest).second) {
    TG_RETURN_IF_ERROR(WriteRawBlob(d.digest, bytes));
  }
  return d;
}

base::Status<MkError> LayoutWriter::WriteRawBlob(std::string_view digest,
                                                 base::ByteView bytes) {
  if (digest.starts_with("sha512:") && !sha512_dir_) {
    TG_RETURN_IF_ERROR(MakeDirectories(root_ / "blobs" / "sha512"));
    sha512_dir_ = true;
  }
  return WriteFile(BlobPath(digest), bytes);
}

void LayoutWriter::AddIndexEntry(Descriptor descriptor) {
  entries_.push_back(std::move(descriptor));
}

base::Status<MkError> LayoutWriter::Finish() {
  // image-layout.md: oci-layout file and index.json.
  TG_RETURN_IF_ERROR(
      WriteFile(root_ / "oci-layout",
                base::AsBytes(R"({"imageLayoutVersion":"1.0.0"})")));
  Json out;
  out["schemaVersion"] = 2;
  Json list = Json::array();
  for (const Descriptor& d : entries_) {
    list.push_back(DescriptorJson(d));
  }
  out["manifests"] = std::move(list);
  return WriteFile(root_ / "index.json", base::AsBytes(out.dump()));
}

}  // namespace trustgate::mkmirror
