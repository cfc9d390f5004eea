#pragma once

// The referrer graph of one repository: which manifests are artifacts,
// which are Notation signature manifests, and which signatures refer to
// which artifact through `subject` (as Notation's OCI-layout support finds
// them: every manifest reachable from index.json is indexed).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "io/digest.h"
#include "io/error.h"
#include "io/mirror.h"
#include "io/oci.h"
#include "io/reader.h"

namespace trustgate::io {

// GraphLimits bounds the work a hostile layout can cause. Each limit, when
// hit, adds a warning and a kLimitExceeded node where the walk stopped.
struct GraphLimits {
  // Manifest reads per repository (also bounds the child records kept for
  // all artifacts together).
  size_t max_manifests = 1'000'000;
  // Nesting of image indexes below an index.json entry (an entry is at
  // depth 0, its children at 1, ...).
  size_t max_index_depth = 8;
  // Children read per image index below index.json (index.json itself is
  // bounded by its 4 MiB size and by max_manifests).
  size_t max_children = 10'000;
};

// ManifestLoad is what reading one manifest proved.
struct ManifestLoad {
  Descriptor descriptor;                      // as it was referenced
  std::optional<Manifest> manifest;           // set when read and parsed
  std::optional<base::Error<IoError>> error;  // set when it failed
};

// ArtifactNode is one artifact of the repository: a manifest or index
// listed in index.json that is neither a signature manifest nor a
// referrers-tag-schema index (an image index whose every index.json entry
// is tagged "sha256-<64 hex>" or "sha512-<64 hex>"). Entries of index.json
// with the same digest are merged (the first entry's descriptor is used);
// their tags collected in order, without repeats. An entry whose
// mediaType is not an OCI/Docker manifest or index is an artifact with a
// kMalformed load (it cannot be verified).
struct ArtifactNode {
  ManifestLoad load;
  std::vector<std::string> tags;  // org.opencontainers.image.ref.name values
  // children: for an index, every manifest below it (nested indexes and
  // their children too), in depth-first pre-order, each digest once, read
  // and digest/size-checked, with its own load result (kNotFound,
  // kDigestMismatch, kLimitExceeded, kCycle, ...). Children whose
  // mediaType is not a manifest or index type are not read (warning).
  // They get no verdict of their own.
  std::vector<ManifestLoad> children;
};

// SignatureNode is a signature manifest found through its subject: a
// manifest reachable from index.json, referenced with the OCI image
// manifest media type, for which Manifest::IsNotarySignature() holds and
// which has a subject (oras-go Referrers, as used by notation-go).
struct SignatureNode {
  ManifestLoad load;  // load.manifest is set (we needed it to see subject)
};

// RepositoryGraph is the result of LoadRepositoryGraph.
struct RepositoryGraph {
  std::vector<ArtifactNode> artifacts;  // in index.json order
  // signatures_by_subject maps "<alg>:<hex>" of a subject to its signature
  // manifests, in discovery order, deduplicated by digest. When the subject
  // is an artifact, only signatures whose subject descriptor equals the
  // artifact's index.json descriptor in mediaType and size too are kept
  // (oras-go keys its predecessor graph by the whole descriptor, so
  // Notation does not see the others; each dropped one is a warning).
  // Subjects that are no artifact stay listed (with a warning).
  std::map<std::string, std::vector<SignatureNode>> signatures_by_subject;
  // warnings: limits hit, unreadable nodes that are not artifacts,
  // signatures that Notation would not find; at most 1000 plus a count.
  std::vector<std::string> warnings;
};

// LoadRepositoryGraph reads index.json and every manifest reachable from
// it (bounded by `limits`, cycles cut), classifying each. Manifest bytes
// are digest- and size-checked against their descriptors; a failure is
// recorded on that node (kNotFound, kDigestMismatch, kSizeMismatch,
// kMalformed, kTooLarge), never fatal. Fails only when index.json itself
// cannot be read or parsed.
//
// Reachable means what oras-go's OCI store indexes (content.Successors
// from every index.json entry): the children of image indexes, the subject
// of OCI manifests and indexes, and configs or layers that are themselves
// manifests. Each (digest, mediaType) is read once (a manifest already
// handed out is read again only when a second artifact index shares it).
// Unlike Notation, which refuses the whole layout when one reachable
// manifest is broken, a failure stays on its node. `reader` is used from
// the calling thread only.
base::Result<RepositoryGraph, IoError> LoadRepositoryGraph(
    const Repository& repo, Reader& reader, const GraphLimits& limits = {});

}  // namespace trustgate::io
