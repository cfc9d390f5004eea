#include "io/oci.h"

#include <simdjson.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "io/reader.h"

namespace trustgate::io {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Documents up to this size reuse a per-thread parser; larger ones (rare,
// up to kManifestMaxBytes) get their own so that no thread keeps a
// multi-MiB tape alive.
constexpr size_t kReusedParserMaxBytes = 256 * 1024;

base::Error<IoError> Malformed(std::string detail) {
  return base::MakeError(IoError::kMalformed, std::move(detail));
}

// FoldKey folds `key` the way Go's encoding/json matches object keys to
// struct fields (Notation is written in Go): ASCII case-insensitively, with
// U+017F LATIN SMALL LETTER LONG S matching 's' and U+212A KELVIN SIGN
// matching 'k'.
std::string FoldKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c == 0xC5 && i + 1 < key.size() &&
        static_cast<unsigned char>(key[i + 1]) == 0xBF) {
      out += 's';
      i += 1;
    } else if (c == 0xE2 && i + 2 < key.size() &&
               static_cast<unsigned char>(key[i + 1]) == 0x84 &&
               static_cast<unsigned char>(key[i + 2]) == 0xAA) {
      out += 'k';
      i += 2;
    } else if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// CheckKnownKeys rejects a key that is not one of `known` but that Go's
// encoding/json would still bind to one of them ("MediaType", "ſubject"):
// such a document reads differently in Notation than here.
base::Status<IoError> CheckKnownKeys(
    object obj, std::initializer_list<std::string_view> known,
    std::string_view where) {
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (std::find(known.begin(), known.end(), key) != known.end()) {
      continue;
    }
    const std::string folded = FoldKey(key);
    for (std::string_view k : known) {
      if (folded == FoldKey(k)) {
        return Malformed(std::string(where) + ": key \"" + std::string(key) +
                         "\" differs from \"" + std::string(k) +
                         "\" only in letter case; Go JSON decoders would "
                         "read it as \"" +
                         std::string(k) + "\"");
      }
    }
  }
  return base::Ok{};
}

// RejectDuplicateKeys walks the whole document: an object that names a key
// twice is ambiguous (Go keeps the last value, other parsers the first),
// so it is refused wherever it appears.
base::Status<IoError> RejectDuplicateKeys(element e) {
  array arr;
  if (e.get_array().get(arr) == simdjson::SUCCESS) {
    for (element child : arr) {
      TG_RETURN_IF_ERROR(RejectDuplicateKeys(child));
    }
    return base::Ok{};
  }
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return base::Ok{};
  }
  std::vector<std::string_view> keys;
  keys.reserve(obj.size());
  for (auto field : obj) {
    keys.push_back(field.key);
    TG_RETURN_IF_ERROR(RejectDuplicateKeys(field.value));
  }
  std::sort(keys.begin(), keys.end());
  const auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup != keys.end()) {
    return Malformed("duplicate JSON key \"" + std::string(*dup) + "\"");
  }
  return base::Ok{};
}

base::Result<std::string, IoError> GetString(element e,
                                             std::string_view where) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    return Malformed(std::string(where) + " must be a string");
  }
  return std::string(s);
}

base::Result<std::map<std::string, std::string>, IoError> GetStringMap(
    element e, std::string_view where) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return Malformed(std::string(where) + " must be an object of strings");
  }
  std::map<std::string, std::string> out;
  for (auto field : obj) {
    std::string_view value;
    if (field.value.get_string().get(value) != simdjson::SUCCESS) {
      return Malformed(std::string(where) + "[\"" + std::string(field.key) +
                       "\"] must be a string");
    }
    out.emplace(std::string(field.key), std::string(value));
  }
  return out;
}

base::Result<std::vector<std::string>, IoError> GetStringArray(
    element e, std::string_view where) {
  array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return Malformed(std::string(where) + " must be an array of strings");
  }
  std::vector<std::string> out;
  out.reserve(arr.size());
  for (element item : arr) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) {
      return Malformed(std::string(where) + " must hold strings only");
    }
    out.emplace_back(s);
  }
  return out;
}

// image-spec image-index.md, "platform": architecture and os REQUIRED,
// variant, os.version, os.features, features OPTIONAL.
base::Result<Platform, IoError> ParsePlatform(element e,
                                              std::string_view where) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return Malformed(std::string(where) + " must be an object");
  }
  TG_RETURN_IF_ERROR(CheckKnownKeys(obj,
                                    {"architecture", "os", "variant",
                                     "os.version", "os.features", "features"},
                                    where));
  Platform p;
  bool has_arch = false;
  bool has_os = false;
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (key == "architecture") {
      TG_ASSIGN_OR_RETURN(p.architecture,
                          GetString(field.value, "platform.architecture"));
      has_arch = true;
    } else if (key == "os") {
      TG_ASSIGN_OR_RETURN(p.os, GetString(field.value, "platform.os"));
      has_os = true;
    } else if (key == "variant") {
      TG_ASSIGN_OR_RETURN(p.variant,
                          GetString(field.value, "platform.variant"));
    } else if (key == "os.version") {
      TG_RETURN_IF_ERROR(GetString(field.value, "platform.os.version"));
    } else if (key == "os.features" || key == "features") {
      TG_RETURN_IF_ERROR(GetStringArray(field.value, "platform features"));
    }
  }
  if (!has_arch || !has_os) {
    return Malformed(std::string(where) +
                     " needs both \"architecture\" and \"os\"");
  }
  return p;
}

// image-spec descriptor.md, "Properties": mediaType, digest and size are
// REQUIRED; urls, annotations, data, artifactType, platform OPTIONAL.
base::Result<Descriptor, IoError> ParseDescriptor(element e,
                                                  const std::string& where) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    return Malformed(where + " must be a descriptor object");
  }
  TG_RETURN_IF_ERROR(
      CheckKnownKeys(obj,
                     {"mediaType", "digest", "size", "urls", "annotations",
                      "data", "artifactType", "platform"},
                     where));
  std::optional<std::string> media_type;
  std::optional<Digest> digest;
  std::optional<int64_t> size;
  std::string artifact_type;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
  std::optional<Platform> platform;
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (key == "mediaType") {
      TG_ASSIGN_OR_RETURN(media_type,
                          GetString(field.value, where + ".mediaType"));
    } else if (key == "digest") {
      TG_ASSIGN_OR_RETURN(std::string text,
                          GetString(field.value, where + ".digest"));
      auto parsed = Digest::Parse(text);
      if (!parsed.ok()) {
        return base::MakeError(IoError::kBadDigest,
                               where + ".digest: " + parsed.detail());
      }
      digest = std::move(parsed).value();
    } else if (key == "size") {
      // descriptor.md: size is an int64; Go refuses fractions and
      // exponents for integer fields, so do we. Negative sizes make no
      // sense for content.
      int64_t v = 0;
      if (field.value.type() != element_type::INT64 ||
          field.value.get_int64().get(v) != simdjson::SUCCESS) {
        return Malformed(where + ".size must be a non-negative integer");
      }
      if (v < 0) {
        return Malformed(where + ".size must not be negative");
      }
      size = v;
    } else if (key == "artifactType") {
      TG_ASSIGN_OR_RETURN(artifact_type,
                          GetString(field.value, where + ".artifactType"));
    } else if (key == "annotations") {
      TG_ASSIGN_OR_RETURN(annotations,
                          GetStringMap(field.value, where + ".annotations"));
    } else if (key == "urls") {
      TG_ASSIGN_OR_RETURN(urls, GetStringArray(field.value, where + ".urls"));
    } else if (key == "platform") {
      TG_ASSIGN_OR_RETURN(platform,
                          ParsePlatform(field.value, where + ".platform"));
    } else if (key == "data") {
      // Embedded content (base64). We never use it; only its type matters.
      TG_RETURN_IF_ERROR(GetString(field.value, where + ".data"));
    }
    // descriptor.md: unknown properties MUST be ignored.
  }
  if (!media_type.has_value()) {
    return Malformed(where + " lacks the REQUIRED \"mediaType\"");
  }
  if (!digest.has_value()) {
    return Malformed(where + " lacks the REQUIRED \"digest\"");
  }
  if (!size.has_value()) {
    return Malformed(where + " lacks the REQUIRED \"size\"");
  }
  return Descriptor{
      std::move(*media_type),   std::move(*digest),     *size,
      std::move(artifact_type), std::move(annotations), std::move(urls),
      std::move(platform)};
}

base::Result<std::vector<Descriptor>, IoError> ParseDescriptorArray(
    element e, const std::string& where) {
  array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return Malformed(where + " must be an array of descriptors");
  }
  std::vector<Descriptor> out;
  out.reserve(arr.size());
  size_t i = 0;
  for (element item : arr) {
    TG_ASSIGN_OR_RETURN(
        Descriptor d,
        ParseDescriptor(item, where + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(d));
    ++i;
  }
  return out;
}

bool IsKnownDocumentMediaType(std::string_view media_type) {
  return IsManifestMediaType(media_type) || IsIndexMediaType(media_type);
}

base::Result<Manifest, IoError> ParseDocument(element root,
                                              std::string_view expected) {
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) {
    return Malformed("a manifest must be a JSON object");
  }
  TG_RETURN_IF_ERROR(
      CheckKnownKeys(obj,
                     {"schemaVersion", "mediaType", "artifactType", "config",
                      "layers", "manifests", "subject", "annotations"},
                     "manifest"));

  Manifest m;
  bool has_schema_version = false;
  bool has_config = false;
  bool has_layers = false;
  bool has_manifests = false;
  std::optional<element> config;
  std::optional<element> layers;
  std::optional<element> manifests;
  std::optional<element> subject;
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (key == "schemaVersion") {
      // manifest.md / image-index.md: schemaVersion is REQUIRED and MUST be
      // 2 (an integer, not 2.0).
      int64_t version = 0;
      if (field.value.type() != element_type::INT64 ||
          field.value.get_int64().get(version) != simdjson::SUCCESS ||
          version != 2) {
        return Malformed("\"schemaVersion\" must be the integer 2");
      }
      has_schema_version = true;
    } else if (key == "mediaType") {
      TG_ASSIGN_OR_RETURN(m.media_type, GetString(field.value, "mediaType"));
    } else if (key == "artifactType") {
      TG_ASSIGN_OR_RETURN(m.artifact_type,
                          GetString(field.value, "artifactType"));
    } else if (key == "config") {
      config = field.value;
      has_config = true;
    } else if (key == "layers") {
      layers = field.value;
      has_layers = true;
    } else if (key == "manifests") {
      manifests = field.value;
      has_manifests = true;
    } else if (key == "subject") {
      subject = field.value;
    } else if (key == "annotations") {
      TG_ASSIGN_OR_RETURN(m.annotations,
                          GetStringMap(field.value, "annotations"));
    }
  }
  if (!has_schema_version) {
    return Malformed("\"schemaVersion\" is REQUIRED (image-spec)");
  }

  // Which kind of document is this? Its own mediaType (manifest.md: when
  // used it MUST be the manifest media type), else the referencing
  // descriptor's, else its structure.
  if (!m.media_type.empty() && !IsKnownDocumentMediaType(m.media_type)) {
    return Malformed("unsupported document mediaType \"" + m.media_type +
                     "\" (expected an OCI or Docker v2 manifest or index)");
  }
  if (!m.media_type.empty() && !expected.empty() && m.media_type != expected) {
    return Malformed("document mediaType \"" + m.media_type +
                     "\" differs from its descriptor's \"" +
                     std::string(expected) + "\"");
  }
  const std::string_view kind_type =
      m.media_type.empty() ? expected : std::string_view(m.media_type);
  if (IsManifestMediaType(kind_type)) {
    m.kind = ManifestKind::kImageManifest;
  } else if (IsIndexMediaType(kind_type)) {
    m.kind = ManifestKind::kImageIndex;
  } else if (has_manifests && !has_config && !has_layers) {
    m.kind = ManifestKind::kImageIndex;
  } else if (!has_manifests && (has_config || has_layers)) {
    m.kind = ManifestKind::kImageManifest;
  } else {
    return Malformed(
        "cannot tell an image manifest from an image index: no known "
        "mediaType and the document has " +
        std::string(has_manifests ? "both \"manifests\" and "
                                    "\"config\"/\"layers\""
                                  : "neither \"manifests\" nor \"config\""));
  }

  // A document must not read as both kinds: one tool could see the layers,
  // another the manifests.
  if (m.kind == ManifestKind::kImageManifest) {
    if (has_manifests) {
      return Malformed("an image manifest must not have \"manifests\"");
    }
    if (!has_config) {
      return Malformed("an image manifest needs the REQUIRED \"config\"");
    }
    TG_ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, "config"));
    if (has_layers) {
      TG_ASSIGN_OR_RETURN(m.layers, ParseDescriptorArray(*layers, "layers"));
    }
  } else {
    if (has_config || has_layers) {
      return Malformed("an image index must not have \"config\" or \"layers\"");
    }
    if (!has_manifests) {
      return Malformed("an image index needs the REQUIRED \"manifests\"");
    }
    TG_ASSIGN_OR_RETURN(m.manifests,
                        ParseDescriptorArray(*manifests, "manifests"));
  }
  if (subject.has_value()) {
    TG_ASSIGN_OR_RETURN(m.subject, ParseDescriptor(*subject, "subject"));
  }
  return m;
}

// WithParsedJson parses `json` with simdjson (a padded copy is made), rejects
// duplicate keys anywhere, and hands the root to `fn`.
template <typename T, typename Fn>
base::Result<T, IoError> WithParsedJson(base::ByteView json, Fn&& fn) {
  if (json.size() > kManifestMaxBytes) {
    return base::MakeError(IoError::kTooLarge,
                           "JSON document of " + std::to_string(json.size()) +
                               " bytes exceeds the 4 MiB manifest limit");
  }
  thread_local simdjson::dom::parser reused;
  std::unique_ptr<simdjson::dom::parser> own;
  simdjson::dom::parser* parser = &reused;
  if (json.size() > kReusedParserMaxBytes) {
    own = std::make_unique<simdjson::dom::parser>();
    parser = own.get();
  }
  element root;
  const auto error =
      parser->parse(json.data(), json.size(), /*realloc_if_needed=*/true)
          .get(root);
  if (error != simdjson::SUCCESS) {
    return Malformed(std::string("invalid JSON: ") +
                     simdjson::error_message(error));
  }
  TG_RETURN_IF_ERROR(RejectDuplicateKeys(root));
  return fn(root);
}

}  // namespace

bool Manifest::IsNotarySignature() const {
  // signature-specification.md, "Storage": the signature manifest's
  // artifactType is application/vnd.cncf.notary.signature; oras-go's
  // Referrers (used by notation-go) falls back to config.mediaType when
  // artifactType is empty.
  if (kind != ManifestKind::kImageManifest) {
    return false;
  }
  if (!artifact_type.empty()) {
    return artifact_type == kArtifactTypeNotarySignature;
  }
  return config.has_value() &&
         config->media_type == kArtifactTypeNotarySignature;
}

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == kMediaTypeImageManifest ||
         media_type == kMediaTypeDockerManifest;
}

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == kMediaTypeImageIndex ||
         media_type == kMediaTypeDockerManifestList;
}

bool IsNonDistributableLayer(std::string_view media_type) {
  // image-spec layer.md, "Non-Distributable Layers" (the
  // application/vnd.oci.image.layer.nondistributable.* family, deprecated
  // but still valid), and Docker image manifest v2.2 "foreign" layers.
  return media_type.starts_with(
             "application/vnd.oci.image.layer.nondistributable.") ||
         media_type == "application/vnd.docker.image.rootfs.foreign.diff.tar" ||
         media_type ==
             "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

base::Result<Manifest, IoError> ParseManifest(
    base::ByteView json, std::string_view expected_media_type) {
  return WithParsedJson<Manifest>(json, [&](element root) {
    return ParseDocument(root, expected_media_type);
  });
}

base::Result<Manifest, IoError> ParseIndexJson(base::ByteView json) {
  // image-layout.md, "index.json file": an image index.
  TG_ASSIGN_OR_RETURN(Manifest m, ParseManifest(json, ""));
  if (m.kind != ManifestKind::kImageIndex) {
    return Malformed(
        "index.json must be an image index, not an image "
        "manifest");
  }
  return m;
}

base::Status<IoError> ParseImageLayoutFile(base::ByteView json) {
  return WithParsedJson<base::Ok>(
      json, [](element root) -> base::Status<IoError> {
        object obj;
        if (root.get_object().get(obj) != simdjson::SUCCESS) {
          return Malformed("oci-layout must be a JSON object");
        }
        TG_RETURN_IF_ERROR(
            CheckKnownKeys(obj, {"imageLayoutVersion"}, "oci-layout"));
        std::string_view version;
        if (obj["imageLayoutVersion"].get_string().get(version) !=
            simdjson::SUCCESS) {
          return Malformed("oci-layout needs a string \"imageLayoutVersion\"");
        }
        // image-layout.md, "oci-layout file": imageLayoutVersion "1.0.0";
        // oras-go (Notation) refuses any other value.
        if (version != kImageLayoutVersion) {
          return Malformed("unsupported imageLayoutVersion \"" +
                           std::string(version) + "\" (expected \"1.0.0\")");
        }
        return base::Ok{};
      });
}

}  // namespace trustgate::io
