#pragma once

// Writing OCI image layouts (OCI image-spec image-layout.md): content-
// addressed blobs, image manifests and indexes, and the top-level
// index.json, with the JSON field order Go's encoders produce (as
// Notation's and ORAS's layouts have it). Blobs are written as they come
// (streaming); only the index.json entries are kept in memory.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {

inline constexpr std::string_view kMediaTypeImageManifest =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaTypeImageIndex =
    "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaTypeImageConfig =
    "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaTypeLayer =
    "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kMediaTypeEmpty =
    "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kArtifactTypeNotation =
    "application/vnd.cncf.notary.signature";
inline constexpr std::string_view kAnnotationRefName =
    "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationCreated =
    "org.opencontainers.image.created";
inline constexpr std::string_view kAnnotationThumbprints =
    "io.cncf.notary.x509chain.thumbprint#S256";

// Platform is an index entry's platform (image-index.md).
struct Platform {
  std::string architecture;
  std::string os;
};

// Descriptor is an OCI content descriptor (descriptor.md).
struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<std::string> data;  // base64 of the content, if embedded
  std::optional<Platform> platform;
  std::optional<std::string> artifact_type;
};

// ImageManifest is an OCI image manifest (manifest.md).
struct ImageManifest {
  std::optional<std::string> artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

// EmptyConfigDescriptor returns the OCI empty descriptor ("{}",
// sha256:44136fa3..., size 2, data "e30="), as ORAS's PackManifest writes it
// for Notation signatures.
Descriptor EmptyConfigDescriptor();

// ManifestJson / IndexJson return compact JSON in Go's field order.
std::string ManifestJson(const ImageManifest& manifest);
std::string IndexJson(const std::vector<Descriptor>& manifests);

// LayoutWriter writes one OCI image layout directory.
class LayoutWriter {
 public:
  // Create makes `root` (and its blobs directory).
  static base::Result<std::unique_ptr<LayoutWriter>, MkError> Create(
      std::filesystem::path root);

  // WriteBlob stores `bytes` at blobs/<alg>/<hex> (once per digest) and
  // returns its descriptor.
  base::Result<Descriptor, MkError> WriteBlob(
      std::string_view media_type, base::ByteView bytes,
      HashAlgorithm algorithm = HashAlgorithm::kSha256);

  // WriteRawBlob stores `bytes` at the path of `digest` whatever they hash
  // to (for deliberately broken layouts).
  base::Status<MkError> WriteRawBlob(std::string_view digest,
                                     base::ByteView bytes);

  // AddIndexEntry appends `descriptor` to index.json.
  void AddIndexEntry(Descriptor descriptor);

  // Finish writes oci-layout and index.json.
  base::Status<MkError> Finish();

  // BlobPath returns the file of `digest` ("sha256:<hex>").
  std::filesystem::path BlobPath(std::string_view digest) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  explicit LayoutWriter(std::filesystem::path root) : root_(std::move(root)) {}

  std::filesystem::path root_;
  std::vector<Descriptor> entries_;
  std::unordered_set<std::string> written_;
  bool sha512_dir_ = false;
};

}  // namespace trustgate::mkmirror
