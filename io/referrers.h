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

// GraphLimits bounds the work a hostile layout can cause.
struct GraphLimits {
  size_t max_manifests = 1'000'000;  // manifests read per repository
  size_t max_index_depth = 8;        // nesting of image indexes
  size_t max_children = 10'000;      // children of one index
};

// ManifestLoad is what reading one manifest proved.
struct ManifestLoad {
  Descriptor descriptor;                      // as it was referenced
  std::optional<Manifest> manifest;           // set when read and parsed
  std::optional<base::Error<IoError>> error;  // set when it failed
};

// ArtifactNode is one artifact of the repository: a manifest or index
// listed in index.json that is neither a signature manifest nor a
// referrers-tag-schema index (tag "sha256-<hex>"). Entries of index.json
// with the same digest are merged; their tags collected.
struct ArtifactNode {
  ManifestLoad load;
  std::vector<std::string> tags;  // org.opencontainers.image.ref.name values
  // children: for an index, its child manifests (read and digest-checked);
  // they get no verdict of their own.
  std::vector<ManifestLoad> children;
};

// SignatureNode is a signature manifest found through its subject.
struct SignatureNode {
  ManifestLoad load;  // load.manifest is set (we needed it to see subject)
};

// RepositoryGraph is the result of LoadRepositoryGraph.
struct RepositoryGraph {
  std::vector<ArtifactNode> artifacts;  // in index.json order
  // signatures_by_subject maps "<alg>:<hex>" of a subject to its signature
  // manifests, in discovery order, deduplicated by digest.
  std::map<std::string, std::vector<SignatureNode>> signatures_by_subject;
  std::vector<std::string> warnings;  // cycles, limits, unreadable entries
};

// LoadRepositoryGraph reads index.json and every manifest reachable from
// it (bounded by `limits`, cycles cut), classifying each. Manifest bytes
// are digest- and size-checked against their descriptors; a failure is
// recorded on that node (kNotFound, kDigestMismatch, kSizeMismatch,
// kMalformed, kTooLarge), never fatal. Fails only when index.json itself
// cannot be read or parsed.
base::Result<RepositoryGraph, IoError> LoadRepositoryGraph(
    const Repository& repo, Reader& reader, const GraphLimits& limits = {});

}  // namespace trustgate::io
