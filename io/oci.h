#pragma once

// The OCI image layout model: descriptors, image manifests, image indexes
// and index.json (OCI image-spec: descriptor.md, manifest.md,
// image-index.md, image-layout.md).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "io/digest.h"
#include "io/error.h"

namespace trustgate::io {

inline constexpr std::string_view kMediaTypeImageManifest =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaTypeImageIndex =
    "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaTypeDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kMediaTypeDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kMediaTypeEmptyJson =
    "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kArtifactTypeNotarySignature =
    "application/vnd.cncf.notary.signature";
inline constexpr std::string_view kAnnotationRefName =
    "org.opencontainers.image.ref.name";
// kImageLayoutVersion is the only imageLayoutVersion of the oci-layout file
// (image-layout.md), the one oras-go (Notation) accepts.
inline constexpr std::string_view kImageLayoutVersion = "1.0.0";

// Platform is a descriptor's optional platform.
struct Platform {
  std::string architecture;
  std::string os;
  std::string variant;
};

// Descriptor is an OCI content descriptor. `digest` is validated.
struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::string artifact_type;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
  std::optional<Platform> platform;
};

// ManifestKind separates image manifests from image indexes.
enum class ManifestKind { kImageManifest, kImageIndex };

// Manifest is a parsed image manifest or image index (also index.json).
struct Manifest {
  ManifestKind kind = ManifestKind::kImageManifest;
  std::string media_type;     // the document's own mediaType (may be empty)
  std::string artifact_type;  // artifactType (may be empty)
  std::optional<Descriptor> config;   // image manifest only
  std::vector<Descriptor> layers;     // image manifest only
  std::vector<Descriptor> manifests;  // image index only
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  // IsNotarySignature is true for a Notation signature manifest: an image
  // manifest whose artifactType, or else config.mediaType, is
  // application/vnd.cncf.notary.signature.
  bool IsNotarySignature() const;
};

// IsManifestMediaType is true for OCI/Docker image manifest media types.
bool IsManifestMediaType(std::string_view media_type);
// IsIndexMediaType is true for OCI/Docker image index media types.
bool IsIndexMediaType(std::string_view media_type);
// IsNonDistributableLayer is true for layer media types whose blobs may be
// absent from a layout (OCI "non-distributable" and Docker foreign layers).
bool IsNonDistributableLayer(std::string_view media_type);

// ParseManifest parses an image manifest or image index. Every descriptor's
// digest is validated; sizes must be non-negative integers; duplicate keys
// are rejected. `expected_media_type` is the mediaType of the descriptor
// that pointed here (used when the document omits its own mediaType); when
// both are present and differ, parsing fails with kMalformed.
//
// Strictness (kMalformed unless noted): not JSON or not an object; above
// kManifestMaxBytes (kTooLarge); a duplicate key anywhere in the document;
// a key that differs from a known field only in a way Go's encoding/json
// ignores ("MediaType", "ſubject"), since Notation would read it as
// that field; schemaVersion absent or not the integer 2 (image-spec: it is
// REQUIRED); a document mediaType other than the OCI/Docker manifest and
// index types; an image manifest without config or with "manifests"; an
// index without "manifests" or with config/layers; a descriptor without
// mediaType, digest or size, a size that is negative, fractional or above
// int64; a digest Digest::Parse refuses (kBadDigest); a known field of the
// wrong JSON type, null included; platform without architecture and os.
// Unknown fields are ignored (descriptor.md). The kind comes from the
// document's mediaType, else `expected_media_type` when it is a known
// type, else the structure ("manifests" vs "config"/"layers").
base::Result<Manifest, IoError> ParseManifest(
    base::ByteView json, std::string_view expected_media_type);

// ParseIndexJson parses a layout's index.json (an image index).
base::Result<Manifest, IoError> ParseIndexJson(base::ByteView json);

// ParseImageLayoutFile validates the content of a layout's `oci-layout`
// file: a JSON object whose "imageLayoutVersion" is "1.0.0" (kMalformed
// otherwise, kTooLarge above 4 MiB).
base::Status<IoError> ParseImageLayoutFile(base::ByteView json);

}  // namespace trustgate::io
