#include "io/referrers.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace trustgate::io {

namespace {

// Warnings beyond this many are counted, not stored (a hostile layout can
// produce one per manifest).
constexpr size_t kMaxWarnings = 1000;
// Longest chain of references followed from index.json (index children are
// further bounded by GraphLimits::max_index_depth).
constexpr size_t kMaxWalkDepth = 64;

bool IsLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// IsReferrersTag recognises the referrers tag schema of the OCI
// distribution-spec ("Referrers Tag Schema": <alg>-<ref>, ref being the
// subject's encoded digest cut to 64 characters): "sha256-<64 hex>" and
// "sha512-<first 64 hex>".
bool IsReferrersTag(std::string_view tag) {
  std::string_view hex;
  if (tag.starts_with("sha256-")) {
    hex = tag.substr(7);
  } else if (tag.starts_with("sha512-")) {
    hex = tag.substr(7);
  } else {
    return false;
  }
  if (hex.size() != 64) {
    return false;
  }
  for (char c : hex) {
    if (!IsLowerHex(c)) {
      return false;
    }
  }
  return true;
}

bool IsManifestOrIndex(std::string_view media_type) {
  return IsManifestMediaType(media_type) || IsIndexMediaType(media_type);
}

// Cached is what reading one (digest, mediaType) proved, independent of the
// size a particular descriptor claims. To keep memory proportional to the
// output, the parsed manifest of an image manifest is handed out (moved)
// on first use and only its summary stays; image indexes stay cached whole
// (recording walks revisit their children).
struct Cached {
  bool read = false;         // bytes were read (actual_size is meaningful)
  uint64_t actual_size = 0;  // bytes on disk
  bool parsed = false;       // read, digest-checked and parsed
  ManifestKind kind = ManifestKind::kImageManifest;
  bool is_signature = false;
  std::optional<Manifest> manifest;  // while not yet handed out, or index
  std::optional<base::Error<IoError>> error;
};

// Recording collects the descendants of one artifact index.
struct Recording {
  ArtifactNode* artifact = nullptr;
  std::unordered_set<std::string> recorded;  // digests already recorded
  bool limit_marked = false;
};

class GraphBuilder {
 public:
  GraphBuilder(const Repository& repo, Reader& reader,
               const GraphLimits& limits)
      : repo_(repo), reader_(reader), limits_(limits) {}

  base::Result<RepositoryGraph, IoError> Build();

 private:
  void Warn(std::string message) {
    if (graph_.warnings.size() < kMaxWarnings) {
      graph_.warnings.push_back(std::move(message));
    } else {
      ++suppressed_warnings_;
    }
  }

  static std::string Key(const Descriptor& d) {
    return d.digest.ToString() + "|" + d.media_type;
  }

  ManifestLoad Load(const Descriptor& d);
  Cached Fetch(const Descriptor& d);
  const Cached* Peek(const Descriptor& d) const;
  bool Expanded(const Descriptor& d) const {
    return expanded_.contains(Key(d));
  }
  void Classify(const Descriptor& d, const Manifest& m);
  void Visit(const Descriptor& d, const Manifest& m, size_t depth,
             Recording* rec);
  void VisitEdge(const Descriptor& edge, std::string_view what);
  bool Record(Recording* rec, const ManifestLoad& load);
  void FilterSubjects();

  const Repository& repo_;
  Reader& reader_;
  const GraphLimits& limits_;
  RepositoryGraph graph_;
  std::unordered_map<std::string, Cached> cache_;   // by Key()
  std::unordered_set<std::string> expanded_;        // Key()s visited
  std::unordered_set<std::string> on_path_;         // digests being visited
  std::unordered_set<std::string> signature_keys_;  // subject|signature
  size_t reads_ = 0;
  size_t records_ = 0;
  bool read_limit_warned_ = false;
  size_t suppressed_warnings_ = 0;
};

Cached GraphBuilder::Fetch(const Descriptor& d) {
  Cached c;
  auto bytes = reader_.ReadFile(repo_, d.digest.BlobPath(), kManifestMaxBytes);
  if (!bytes.ok()) {
    c.error = std::move(bytes).error();
    return c;
  }
  c.read = true;
  c.actual_size = bytes->size();
  // image-spec descriptor.md, "Verification": the content must hash to the
  // digest before it is used (oras-go content.ReadAll does the same).
  if (!(ComputeDigest(d.digest.algorithm(), bytes->view()) == d.digest)) {
    c.error = base::MakeError(IoError::kDigestMismatch,
                              "manifest " + d.digest.ToString() +
                                  " does not hash to its digest: altered or "
                                  "corrupted");
    return c;
  }
  auto parsed = ParseManifest(bytes->view(), d.media_type);
  if (!parsed.ok()) {
    c.error = std::move(parsed).error();
    c.error->detail =
        "manifest " + d.digest.ToString() + ": " + c.error->detail;
    return c;
  }
  c.parsed = true;
  c.kind = parsed->kind;
  c.is_signature = parsed->IsNotarySignature();
  c.manifest = std::move(parsed).value();
  return c;
}

const Cached* GraphBuilder::Peek(const Descriptor& d) const {
  auto it = cache_.find(Key(d));
  return it == cache_.end() ? nullptr : &it->second;
}

ManifestLoad GraphBuilder::Load(const Descriptor& d) {
  ManifestLoad out{d, std::nullopt, std::nullopt};
  if (static_cast<uint64_t>(d.size) > kManifestMaxBytes) {
    // Notation caps manifests at 4 MiB; no need to read to know.
    out.error = base::MakeError(IoError::kTooLarge,
                                "manifest " + d.digest.ToString() + " claims " +
                                    std::to_string(d.size) +
                                    " bytes, above the 4 MiB manifest limit");
    return out;
  }
  const std::string key = Key(d);
  auto it = cache_.find(key);
  // A manifest handed out before is read again when needed again (rare: a
  // child shared by two artifact indexes, an artifact that was first
  // reached as a subject).
  const bool fetch = it == cache_.end() ||
                     (it->second.parsed && !it->second.manifest.has_value());
  if (fetch) {
    if (reads_ >= limits_.max_manifests) {
      if (!read_limit_warned_) {
        Warn("more than " + std::to_string(limits_.max_manifests) +
             " manifests in the repository; the rest is not read");
        read_limit_warned_ = true;
      }
      out.error = base::MakeError(
          IoError::kLimitExceeded,
          "manifest " + d.digest.ToString() +
              " not read: the repository exceeds the limit of " +
              std::to_string(limits_.max_manifests) + " manifests");
      return out;
    }
    ++reads_;
    it = cache_.insert_or_assign(key, Fetch(d)).first;
  }
  Cached& c = it->second;
  // oras-go content.ReadAll: size is checked against the descriptor first,
  // then the digest.
  if (c.read && c.actual_size != static_cast<uint64_t>(d.size)) {
    out.error = base::MakeError(IoError::kSizeMismatch,
                                "manifest " + d.digest.ToString() + " has " +
                                    std::to_string(c.actual_size) +
                                    " bytes but its descriptor says " +
                                    std::to_string(d.size));
  } else if (c.error.has_value()) {
    out.error = c.error;
  } else if (c.kind == ManifestKind::kImageIndex) {
    out.manifest = c.manifest;
  } else {
    out.manifest = std::move(c.manifest);
    c.manifest.reset();
  }
  return out;
}

// Classify registers a Notation signature manifest under its subject, the
// way notation-go lists signatures of an OCI layout: oras-go's Referrers
// takes the predecessors of the subject that were referenced with the OCI
// image manifest media type, whose artifactType (else config.mediaType) is
// application/vnd.cncf.notary.signature.
void GraphBuilder::Classify(const Descriptor& d, const Manifest& m) {
  if (!m.IsNotarySignature()) {
    return;
  }
  if (d.media_type != kMediaTypeImageManifest) {
    Warn("signature manifest " + d.digest.ToString() +
         " is referenced with media type \"" + d.media_type +
         "\"; Notation only finds signatures referenced as " +
         std::string(kMediaTypeImageManifest) + ", so it is ignored");
    return;
  }
  if (!m.subject.has_value()) {
    Warn("signature manifest " + d.digest.ToString() +
         " has no subject; it signs nothing and is ignored");
    return;
  }
  const std::string subject = m.subject->digest.ToString();
  if (!signature_keys_.insert(subject + "|" + d.digest.ToString()).second) {
    return;  // already listed for this subject
  }
  graph_.signatures_by_subject[subject].push_back(
      SignatureNode{ManifestLoad{d, m, std::nullopt}});
}

bool GraphBuilder::Record(Recording* rec, const ManifestLoad& load) {
  if (rec == nullptr) {
    return false;
  }
  if (!rec->recorded.insert(load.descriptor.digest.ToString()).second) {
    return false;  // this artifact already lists that child
  }
  // Recording walks once per artifact; a hostile layout sharing one huge
  // index between many artifacts is bounded by max_manifests records.
  if (records_ >= limits_.max_manifests) {
    if (!rec->limit_marked) {
      rec->limit_marked = true;
      Warn("artifact " + rec->artifact->load.descriptor.digest.ToString() +
           ": too many child manifests to record (limit " +
           std::to_string(limits_.max_manifests) + ")");
      rec->artifact->children.push_back(ManifestLoad{
          load.descriptor, std::nullopt,
          base::MakeError(IoError::kLimitExceeded,
                          "child manifests beyond the limit of " +
                              std::to_string(limits_.max_manifests) +
                              " were not checked")});
    }
    return false;
  }
  ++records_;
  rec->artifact->children.push_back(load);
  return true;
}

// VisitEdge follows a non-child edge (subject, or a config/layer that is
// itself a manifest): oras-go's IndexAll indexes those nodes too, so
// signatures reachable only that way are found. An absent target is
// normal (a subject in another repository) and silent.
void GraphBuilder::VisitEdge(const Descriptor& edge, std::string_view what) {
  if (!IsManifestOrIndex(edge.media_type)) {
    return;
  }
  if (on_path_.contains(edge.digest.ToString()) || Expanded(edge)) {
    return;  // already indexed (typically the artifact a signature signs)
  }
  ManifestLoad load = Load(edge);
  if (!load.manifest.has_value()) {
    if (load.error->code != IoError::kNotFound) {
      Warn(std::string(what) + " " + edge.digest.ToString() + ": " +
           std::string(ToString(load.error->code)) + ": " + load.error->detail);
    }
    return;
  }
  Classify(edge, *load.manifest);
  Visit(edge, *load.manifest, 0, nullptr);
}

// Visit follows the successors of a loaded node `d` (its manifest `m`) at
// index nesting `depth`: an index's children (recorded on `rec` when the
// walk belongs to an artifact), and, once per node, its subject and any
// config/layer that is itself a manifest (oras-go content.Successors).
void GraphBuilder::Visit(const Descriptor& d, const Manifest& m, size_t depth,
                         Recording* rec) {
  const std::string digest = d.digest.ToString();
  if (on_path_.size() >= kMaxWalkDepth) {
    // Index nesting is bounded by max_index_depth; this bounds chains of
    // subject edges (and the C++ stack).
    Warn("manifest " + digest + " is more than " +
         std::to_string(kMaxWalkDepth) +
         " references away from index.json; not followed");
    if (rec != nullptr && !rec->limit_marked) {
      rec->limit_marked = true;
      rec->artifact->children.push_back(ManifestLoad{
          d, std::nullopt,
          base::MakeError(
              IoError::kLimitExceeded,
              "reference chain deeper than " + std::to_string(kMaxWalkDepth))});
    }
    return;
  }
  const bool first_visit = expanded_.insert(Key(d)).second;
  if (!first_visit && rec == nullptr) {
    return;  // everything reachable from here is already indexed
  }
  on_path_.insert(digest);

  if (m.kind == ManifestKind::kImageIndex) {
    size_t count = m.manifests.size();
    if (count > limits_.max_children) {
      if (first_visit) {
        Warn("image index " + digest + " lists " + std::to_string(count) +
             " manifests; only the first " +
             std::to_string(limits_.max_children) + " are read");
      }
      if (rec != nullptr) {
        rec->artifact->children.push_back(ManifestLoad{
            m.manifests[limits_.max_children], std::nullopt,
            base::MakeError(IoError::kLimitExceeded,
                            "image index " + digest + " lists " +
                                std::to_string(count) +
                                " manifests, above the limit of " +
                                std::to_string(limits_.max_children))});
      }
      count = limits_.max_children;
    }
    for (size_t i = 0; i < count; ++i) {
      const Descriptor& child = m.manifests[i];
      const std::string child_digest = child.digest.ToString();
      if (!IsManifestOrIndex(child.media_type)) {
        // image-index.md: an unknown mediaType MUST NOT be an error; it is
        // not a manifest we can read.
        if (first_visit) {
          Warn("image index " + digest + ": child " + child_digest +
               " has media type \"" + child.media_type +
               "\", not a manifest; not read");
        }
        continue;
      }
      if (on_path_.contains(child_digest)) {
        // Only reachable with content that fails its digest elsewhere, but
        // never loop on it.
        if (first_visit) {
          Warn("image index " + digest + " refers back to " + child_digest +
               " (cycle)");
        }
        Record(rec, ManifestLoad{child, std::nullopt,
                                 base::MakeError(IoError::kCycle,
                                                 "image index " + digest +
                                                     " refers back to " +
                                                     child_digest)});
        continue;
      }
      if (depth + 1 > limits_.max_index_depth) {
        if (first_visit) {
          Warn("image index " + digest + ": child " + child_digest +
               " is nested deeper than " +
               std::to_string(limits_.max_index_depth) + " levels; not read");
        }
        Record(rec,
               ManifestLoad{
                   child, std::nullopt,
                   base::MakeError(IoError::kLimitExceeded,
                                   "nested deeper than " +
                                       std::to_string(limits_.max_index_depth) +
                                       " image index levels")});
        continue;
      }
      if (rec != nullptr && rec->recorded.contains(child_digest)) {
        continue;  // shared child already recorded for this artifact
      }
      if (rec == nullptr && Expanded(child)) {
        continue;  // already indexed through another parent
      }
      ManifestLoad load = Load(child);
      Record(rec, load);
      if (!load.manifest.has_value()) {
        if (first_visit && rec == nullptr) {
          Warn("image index " + digest + ": child " + child_digest + ": " +
               std::string(ToString(load.error->code)) + ": " +
               load.error->detail);
        }
        continue;
      }
      Classify(child, *load.manifest);
      Visit(child, *load.manifest, depth + 1, rec);
    }
  }

  if (first_visit) {
    // oras-go content.Successors: the subject is an edge of OCI manifests
    // and indexes (not of Docker ones); config and layers of manifests.
    if (m.subject.has_value() && (d.media_type == kMediaTypeImageManifest ||
                                  d.media_type == kMediaTypeImageIndex)) {
      VisitEdge(*m.subject, "subject of " + digest);
    }
    if (m.config.has_value()) {
      VisitEdge(*m.config, "config of " + digest);
    }
    for (const Descriptor& layer : m.layers) {
      VisitEdge(layer, "layer of " + digest);
    }
  }
  on_path_.erase(digest);
}

// FilterSubjects keeps, for a subject that is an artifact, only the
// signatures whose subject descriptor equals the artifact's descriptor in
// mediaType and size as well as digest: oras-go indexes predecessors by
// the whole (mediaType, digest, size) triple, so Notation does not see the
// others. Subjects that are no artifact of the layout are reported.
void GraphBuilder::FilterSubjects() {
  std::unordered_map<std::string, const Descriptor*> artifacts;
  for (const ArtifactNode& a : graph_.artifacts) {
    artifacts.emplace(a.load.descriptor.digest.ToString(), &a.load.descriptor);
  }
  for (auto& [subject, signatures] : graph_.signatures_by_subject) {
    auto found = artifacts.find(subject);
    if (found == artifacts.end()) {
      Warn(std::to_string(signatures.size()) +
           " signature manifest(s) refer to subject " + subject +
           ", which index.json does not list as an artifact");
      continue;
    }
    const Descriptor& artifact = *found->second;
    std::erase_if(signatures, [&](const SignatureNode& s) {
      const Descriptor& sd = *s.load.manifest->subject;
      if (sd.media_type == artifact.media_type && sd.size == artifact.size) {
        return false;
      }
      Warn("signature manifest " + s.load.descriptor.digest.ToString() +
           " names subject " + subject + " with media type \"" + sd.media_type +
           "\" and size " + std::to_string(sd.size) +
           ", but index.json lists it as \"" + artifact.media_type +
           "\" with size " + std::to_string(artifact.size) +
           "; Notation does not associate them, so it is ignored");
      return true;
    });
  }
  std::erase_if(graph_.signatures_by_subject,
                [](const auto& entry) { return entry.second.empty(); });
}

base::Result<RepositoryGraph, IoError> GraphBuilder::Build() {
  // image-layout.md, "index.json file": the entry point of the layout.
  TG_ASSIGN_OR_RETURN(Buffer index_bytes,
                      reader_.ReadFile(repo_, "index.json", kManifestMaxBytes));
  auto parsed = ParseIndexJson(index_bytes.view());
  if (!parsed.ok()) {
    auto error = std::move(parsed).error();
    error.detail = "index.json: " + error.detail;
    return error;
  }
  const Manifest& index = parsed.value();

  // Merge index.json entries by digest, in order of first appearance.
  struct Entry {
    const Descriptor* descriptor;
    std::vector<std::string> tags;
    bool only_referrers_tags = true;
  };
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> by_digest;
  for (const Descriptor& d : index.manifests) {
    const std::string digest = d.digest.ToString();
    auto [it, inserted] = by_digest.emplace(digest, entries.size());
    if (inserted) {
      entries.push_back(Entry{&d, {}, true});
    } else {
      const Descriptor& first = *entries[it->second].descriptor;
      if (first.media_type != d.media_type || first.size != d.size) {
        Warn("index.json lists " + digest +
             " twice with different media types or sizes; the first entry "
             "is used");
      }
    }
    Entry& e = entries[it->second];
    // image-layout.md / annotations.md: org.opencontainers.image.ref.name
    // is the tag of an index.json entry.
    auto tag = d.annotations.find(std::string(kAnnotationRefName));
    if (tag == d.annotations.end()) {
      e.only_referrers_tags = false;  // reachable by digest, untagged
    } else {
      if (!IsReferrersTag(tag->second)) {
        e.only_referrers_tags = false;
      }
      if (std::find(e.tags.begin(), e.tags.end(), tag->second) ==
          e.tags.end()) {
        e.tags.push_back(tag->second);
      }
    }
  }
  // An untagged duplicate of a referrers-tag entry makes it an ordinary
  // entry; a referrers-tag index needs at least one tag.
  for (Entry& e : entries) {
    if (e.tags.empty()) {
      e.only_referrers_tags = false;
    }
  }

  // Reserved up front: Recording keeps a pointer to the artifact being
  // walked while later artifacts are appended.
  graph_.artifacts.reserve(entries.size());
  for (Entry& e : entries) {
    const Descriptor& d = *e.descriptor;
    ManifestLoad load{d, std::nullopt, std::nullopt};
    if (!IsManifestOrIndex(d.media_type)) {
      load.error = base::MakeError(
          IoError::kMalformed,
          "index.json entry " + d.digest.ToString() + " has media type \"" +
              d.media_type +
              "\", which is not an OCI/Docker image manifest or index");
    } else if (const Cached* seen = Peek(d);
               seen != nullptr && seen->parsed && seen->is_signature &&
               seen->actual_size == static_cast<uint64_t>(d.size) &&
               Expanded(d)) {
      continue;  // a signature already indexed (e.g. via a tag index)
    } else {
      load = Load(d);
    }
    if (load.manifest.has_value() && load.manifest->IsNotarySignature()) {
      // ARCHITECTURE.md: signature manifests are not artifacts.
      Classify(d, *load.manifest);
      Visit(d, *load.manifest, 0, nullptr);
      continue;
    }
    if (!load.manifest.has_value() &&
        d.artifact_type == kArtifactTypeNotarySignature) {
      Warn("signature manifest " + d.digest.ToString() + ": " +
           std::string(ToString(load.error->code)) + ": " + load.error->detail);
      continue;
    }
    // Referrers tag schema (distribution-spec): an image index tagged
    // <alg>-<subject hex> lists a subject's referrers; it is bookkeeping,
    // not an artifact, but its children are indexed.
    const bool is_referrers_index =
        e.only_referrers_tags &&
        (load.manifest.has_value()
             ? load.manifest->kind == ManifestKind::kImageIndex
             : IsIndexMediaType(d.media_type));
    if (is_referrers_index) {
      if (load.manifest.has_value()) {
        Visit(d, *load.manifest, 0, nullptr);
      } else {
        Warn("referrers tag index " + d.digest.ToString() + ": " +
             std::string(ToString(load.error->code)) + ": " +
             load.error->detail);
      }
      continue;
    }
    ArtifactNode& artifact = graph_.artifacts.emplace_back(
        ArtifactNode{std::move(load), std::move(e.tags), {}});
    if (artifact.load.manifest.has_value()) {
      Recording rec;
      rec.artifact = &artifact;
      rec.recorded.insert(artifact.load.descriptor.digest.ToString());
      Visit(artifact.load.descriptor, *artifact.load.manifest, 0, &rec);
    }
  }
  FilterSubjects();
  if (suppressed_warnings_ > 0) {
    graph_.warnings.push_back(std::to_string(suppressed_warnings_) +
                              " more warning(s) suppressed");
  }
  return std::move(graph_);
}

}  // namespace

base::Result<RepositoryGraph, IoError> LoadRepositoryGraph(
    const Repository& repo, Reader& reader, const GraphLimits& limits) {
  GraphBuilder builder(repo, reader, limits);
  return builder.Build();
}

}  // namespace trustgate::io
