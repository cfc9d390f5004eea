#include "tools/mkmirror/scenarios.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>

#include "tools/mkmirror/drbg.h"
#include "tools/mkmirror/layout_writer.h"
#include "tools/mkmirror/revocation_writer.h"
#include "tools/mkmirror/timestamp_writer.h"

namespace trustgate::mkmirror {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kYear = 365 * kDay;
constexpr std::string_view kRegistry = "registry.example.com";

// The test preset's cases: name, expected verdict, reason. Generation and
// TestPresetCases() both read this table, so they cannot disagree.
const ExpectedCase kTestCases[] = {
    {"good-jws-es256", "verified", "ok"},
    {"good-jws-es384", "verified", "ok"},
    {"good-jws-es521", "verified", "ok"},
    {"good-cose-es256", "verified", "ok"},
    {"good-cose-es384", "verified", "ok"},
    {"good-cose-es521", "verified", "ok"},
    {"good-index", "verified", "ok"},
    {"good-future-expiry", "verified", "ok"},
    {"good-multi-sig", "verified", "ok"},
    {"good-sha512-layer", "verified", "ok"},
    {"unsigned", "failed", "unsigned"},
    {"bad-tampered-payload", "failed", "integrity"},
    {"bad-cose-tampered-payload", "failed", "integrity"},
    {"bad-corrupted-signature", "failed", "integrity"},
    {"bad-cose-corrupted-signature", "failed", "integrity"},
    {"bad-wrong-chain", "failed", "authenticity"},
    {"bad-identity", "failed", "trusted-identity"},
    {"bad-expired-cert", "failed", "authentic-timestamp"},
    {"bad-expired-signature", "failed", "expiry"},
    {"bad-unknown-critical", "failed", "integrity"},
    {"bad-cose-unknown-critical", "failed", "integrity"},
    {"bad-key-usage", "failed", "integrity"},
    {"bad-target-mismatch", "failed", "integrity"},
    {"bad-target-size", "failed", "integrity"},
    {"bad-two-layers", "failed", "integrity"},
    {"bad-envelope-garbage", "failed", "integrity"},
    {"many-signatures", "failed", "integrity"},
    {"bad-blob-tampered", "failed", "blob-integrity"},
    {"bad-blob-missing", "failed", "blob-missing"},
    {"bad-manifest-tampered", "failed", "manifest-integrity"},
    {"bad-malformed-manifest", "failed", "malformed"},
    {"good-jws-ps256", "verified", "ok"},
    {"good-jws-ps384", "verified", "ok"},
    {"good-jws-ps512", "verified", "ok"},
    {"good-cose-ps256", "verified", "ok"},
    {"good-cose-ps384", "verified", "ok"},
    {"good-cose-ps512", "verified", "ok"},
    {"bad-rsa1024", "failed", "integrity"},
    {"revocation-unknown", "failed", "revocation"},
    {"plugin-required", "failed", "plugin"},
    {"good-signing-authority-jws", "verified", "ok"},
    {"good-signing-authority-cose", "verified", "ok"},
    {"no-policy", "failed", "no-policy"},
    // Timestamps (releases/timestamped: verifyTimestamp always;
    // releases/legacy: afterCertExpiry; both with a tsa store).
    {"ts-expired-cert-rescued", "verified", "ok"},
    {"ts-after-expiry-rescued", "verified", "ok"},
    {"ts-valid-cert-after-expiry-policy", "verified", "ok"},
    {"ts-missing", "failed", "authentic-timestamp"},
    {"ts-untrusted-tsa", "failed", "authentic-timestamp"},
    {"ts-outside-validity", "failed", "authentic-timestamp"},
    {"ts-garbage-token", "failed", "authentic-timestamp"},
    {"ts-revoked-tsa", "failed", "authentic-timestamp"},
    // Revocation (releases/app, vendor/agent).
    {"crl-good", "verified", "ok"},
    {"crl-revoked", "failed", "revocation"},
    {"crl-hold", "failed", "revocation"},
    {"crl-delta-revoked", "failed", "revocation"},
    {"crl-expired", "failed", "revocation"},
    {"crl-wrong-issuer", "failed", "revocation"},
    {"ocsp-good", "verified", "ok"},
    {"ocsp-revoked", "failed", "revocation"},
    {"ocsp-unknown-fallback-crl-good", "verified", "ok"},
    {"intermediate-revoked", "failed", "revocation"},
    // notary.x509.signingAuthority: a CRL entry whose invalidity date is
    // after the authentic signing time leaves the certificate good for that
    // signature (notation-core-go v1.3 revocation/internal/crl
    // checkRevocation; see the vendor CRL below).
    {"sa-revoked-after-signing", "verified", "ok"},
    {"sa-revoked-before-signing", "failed", "revocation"},
    // AWS-Signer-style signatures (aws/app): without the plugin every one
    // fails `plugin`, as in Notation (kPluginOutcomes: with it).
    {"aws-good-jws", "failed", "plugin"},
    {"aws-good-cose", "failed", "plugin"},
    {"aws-other-profile", "failed", "plugin"},
    {"aws-revoked-job", "failed", "plugin"},
    {"aws-revocation-unknown", "failed", "plugin"},
    {"aws-min-version-too-high", "failed", "plugin"},
    {"aws-untrusted-root", "failed", "plugin"},
    {"aws-expired-signature", "failed", "plugin"},
};

// The outcomes with the test plugin installed as kAwsSignerPlugin and
// --plugin-config revocation_file=OUT/plugin-revocation.txt
// (expected-plugin.jsonl); other cases are as without it.
const ExpectedCase kPluginOutcomes[] = {
    {"aws-good-jws", "verified", "ok"},
    {"aws-good-cose", "verified", "ok"},
    // TRUSTED_IDENTITY: another signing profile than the policy's.
    {"aws-other-profile", "failed", "trusted-identity"},
    // REVOCATION_CHECK: the job is listed revoked / unknown in the fixture.
    {"aws-revoked-job", "failed", "revocation"},
    {"aws-revocation-unknown", "failed", "revocation"},
    // verificationPluginMinVersion 9.0.0 > the plugin's 1.2.0.
    {"aws-min-version-too-high", "failed", "plugin"},
    // Native checks the plugin does not replace still run first.
    {"aws-untrusted-root", "failed", "authenticity"},
    {"aws-expired-signature", "failed", "expiry"},
};

// The cases whose outcome differs when no revocation data is available
// (expected-offline.jsonl): every certificate that names a CRL or OCSP
// responder is then of unknown status, which fails revocation under strict
// (trust-store-trust-policy.md, "Certificate Revocation Evaluation"), or,
// for a TSA certificate, the authentic timestamp (notation-go v1.3
// verifier.go verifyTimestamp checks the TSA chain's revocation). The
// cases already failing with these reasons keep them.
const ExpectedCase kOfflineOutcomes[] = {
    {"ts-after-expiry-rescued", "failed", "authentic-timestamp"},
    {"crl-good", "failed", "revocation"},
    {"ocsp-good", "failed", "revocation"},
    {"ocsp-unknown-fallback-crl-good", "failed", "revocation"},
    {"sa-revoked-after-signing", "failed", "revocation"},
};

// FindTestCase returns the case `name` with its offline outcome filled in.
std::optional<ExpectedCase> FindTestCase(std::string_view name) {
  for (const ExpectedCase& c : kTestCases) {
    if (c.name == name) {
      ExpectedCase out = c;
      out.offline_verdict = c.verdict;
      out.offline_reason = c.reason;
      out.plugin_verdict = c.verdict;
      out.plugin_reason = c.reason;
      for (const ExpectedCase& o : kPluginOutcomes) {
        if (o.name == name) {
          out.plugin_verdict = o.verdict;
          out.plugin_reason = o.reason;
        }
      }
      for (const ExpectedCase& o : kOfflineOutcomes) {
        if (o.name == name) {
          out.offline_verdict = o.verdict;
          out.offline_reason = o.reason;
        }
      }
      return out;
    }
  }
  return std::nullopt;
}

std::string Rfc3339(int64_t seconds) {
  return base::FormatRfc3339(base::TimeFromUnixSeconds(seconds));
}

uint64_t LabelHash(std::string_view label) {
  const std::string hex =
      HexDigest(HashAlgorithm::kSha256, base::AsBytes(label));
  return std::stoull(hex.substr(0, 16), nullptr, 16);
}

// StoreType is a signing trust store type (trust-store-trust-policy.md).
enum class StoreType { kCa, kSigningAuthority };

std::string_view StoreDir(StoreType type) {
  return type == StoreType::kCa ? "ca" : "signingAuthority";
}

// Team is one organisation unit: a root CA, an intermediate CA and its
// code-signing leaves.
struct Team {
  std::string name;
  StoreType store = StoreType::kCa;
  std::unique_ptr<Credential> root;
  std::unique_ptr<Credential> intermediate;
  std::vector<std::unique_ptr<Credential>> leaves;
};

// Statement is a trust policy statement.
struct Statement {
  std::string name;
  std::vector<std::string> scopes;
  std::vector<std::string> trust_stores;  // "ca:payments", "tsa:..."
  std::vector<std::string> identities;
  // signatureVerification.verifyTimestamp ("always", "afterCertExpiry"),
  // written only when set.
  std::string verify_timestamp = {};
};

// TsaStore is a `tsa` trust store: the root of a test TSA.
struct TsaStore {
  std::string name;
  const Credential* root = nullptr;
};

// Repo is one repository being written.
struct Repo {
  std::string uri;
  std::unique_ptr<LayoutWriter> layout;
};

// ImageSpec describes a generated image.
struct ImageSpec {
  std::string label;  // distinct per image: seeds its content
  int64_t layers = 1;
  int64_t layer_size = 256;
  HashAlgorithm layer_algorithm = HashAlgorithm::kSha256;
};

// Image is a written image: its manifest's descriptor and content.
struct Image {
  Descriptor manifest;
  std::string manifest_json;
  Descriptor config;
  std::vector<Descriptor> layers;
};

// SignatureShape makes a deliberately malformed signature manifest.
enum class SignatureShape {
  kNormal,
  kTwoLayers,        // two envelope layers
  kGarbageEnvelope,  // jose+json layer that is not JSON
};

DistinguishedName LeafDn(std::string_view ou, std::string_view cn) {
  return {{"C", "US"},
          {"ST", "WA"},
          {"L", "Seattle"},
          {"O", "Acme Corp"},
          {"OU", std::string(ou)},
          {"CN", std::string(cn)}};
}

// NormalizeRevocationUrl checks a --revocation-url and drops trailing
// slashes: http only (trust-store-trust-policy.md, Notation supports http
// CRL and OCSP URLs only), a host, no query, fragment, escapes, spaces or
// control characters (the URL's path is joined to file names as is).
std::optional<std::string> NormalizeRevocationUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return std::nullopt;
  }
  std::string out(url);
  while (out.size() > kScheme.size() && out.back() == '/') {
    out.pop_back();
  }
  const std::string_view rest = std::string_view(out).substr(kScheme.size());
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return std::nullopt;
  }
  for (const char c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '?' || c == '#' || c == '%' ||
        c == '\\' || c == '@') {
      return std::nullopt;
    }
  }
  return out;
}

std::string IdentityFor(std::string_view team) {
  // trust-store-trust-policy.md, Trusted Identities: a subset of the leaf
  // subject; C, ST and O are required.
  return "x509.subject: C=US, ST=WA, O=Acme Corp, OU=" + std::string(team);
}

class Generator {
 public:
  explicit Generator(const Options& options) : options_(options) {}

  base::Result<Summary, MkError> Run() {
    // Every key, nonce and salt from the seeded DRBG, for this run only.
    ScopedDeterministicRng rng;
    if (!rng.ok()) {
      return base::MakeError(MkError::kCrypto,
                             "cannot install the deterministic RNG");
    }
    TG_RETURN_IF_ERROR(Prepare());
    switch (options_.preset) {
      case Preset::kTest:
        TG_RETURN_IF_ERROR(RunTest());
        break;
      case Preset::kDemo:
        TG_RETURN_IF_ERROR(RunDemo());
        break;
      case Preset::kBench:
        TG_RETURN_IF_ERROR(RunBench());
        break;
    }
    TG_RETURN_IF_ERROR(FinishRepos());
    TG_RETURN_IF_ERROR(WriteConfig());
    expected_.flush();
    expected_offline_.flush();
    expected_plugin_.flush();
    if (!expected_ || !expected_offline_ || !expected_plugin_) {
      return base::MakeError(MkError::kIo, "cannot write expected*.jsonl");
    }
    return summary_;
  }

 private:
  int64_t now() const { return options_.now; }

  base::Status<MkError> Prepare() {
    for (const char* name : {"mirror", "config", "revocation", "expected.jsonl",
                             "expected-offline.jsonl", "expected-plugin.jsonl",
                             "plugin-revocation.txt"}) {
      std::error_code ec;
      if (std::filesystem::exists(options_.out / name, ec)) {
        return base::MakeError(
            MkError::kUsage, (options_.out / name).string() +
                                 " already exists; use a new --out directory");
      }
    }
    TG_RETURN_IF_ERROR(MakeDirectories(options_.out / "mirror"));
    expected_.open(options_.out / "expected.jsonl",
                   std::ios::binary | std::ios::trunc);
    expected_offline_.open(options_.out / "expected-offline.jsonl",
                           std::ios::binary | std::ios::trunc);
    expected_plugin_.open(options_.out / "expected-plugin.jsonl",
                          std::ios::binary | std::ios::trunc);
    if (!expected_ || !expected_offline_ || !expected_plugin_) {
      return base::MakeError(MkError::kIo,
                             "cannot create the expected*.jsonl files in " +
                                 options_.out.string());
    }
    return base::Ok{};
  }

  // --- PKI ----------------------------------------------------------------

  base::Result<Team*, MkError> MakeTeam(const std::string& name,
                                        StoreType store, KeyType ca_key,
                                        const std::string& rng_name) {
    auto team = std::make_unique<Team>();
    team->name = name;
    team->store = store;
    CertSpec spec;
    spec.role = CertRole::kRoot;
    spec.subject = {{"C", "US"},      {"ST", "WA"},
                    {"L", "Seattle"}, {"O", "Acme Corp"},
                    {"OU", name},     {"CN", name + " root CA"}};
    spec.not_before = now() - kYear;
    spec.not_after = now() + 20 * kYear;
    ReseedRng(options_.seed, "ca:" + rng_name + ":root");
    TG_ASSIGN_OR_RETURN(team->root, IssueCertificate(spec, ca_key, nullptr));
    spec.role = CertRole::kIntermediate;
    spec.subject.back().second = name + " intermediate CA";
    ReseedRng(options_.seed, "ca:" + rng_name + ":intermediate");
    TG_ASSIGN_OR_RETURN(team->intermediate,
                        IssueCertificate(spec, ca_key, team->root.get()));
    Team* raw = team.get();
    teams_.push_back(std::move(team));
    return raw;
  }

  // AddLeaf issues a leaf under `team`'s intermediate. `rng_label` must be
  // unique in the run.
  base::Result<const Credential*, MkError> AddLeaf(
      Team& team, KeyType type, const std::string& rng_label,
      DistinguishedName subject, int64_t not_before, int64_t not_after,
      LeafUsage usage = LeafUsage::kCodeSigning, std::string crl_url = {}) {
    CertSpec spec;
    spec.role = CertRole::kLeaf;
    spec.subject = std::move(subject);
    spec.not_before = not_before;
    spec.not_after = not_after;
    spec.leaf_usage = usage;
    spec.crl_url = std::move(crl_url);
    ReseedRng(options_.seed, "leaf:" + rng_label);
    TG_ASSIGN_OR_RETURN(std::unique_ptr<Credential> leaf,
                        IssueCertificate(spec, type, team.intermediate.get()));
    team.leaves.push_back(std::move(leaf));
    return team.leaves.back().get();
  }

  base::Result<const Credential*, MkError> AddTeamLeaf(Team& team,
                                                       KeyType type) {
    const std::string cn =
        team.name + " signer " + std::to_string(team.leaves.size() + 1);
    return AddLeaf(team, type, team.name + ":" + cn, LeafDn(team.name, cn),
                   now() - kDay, now() + 10 * kYear);
  }

  static Signer SignerOf(const Team& team, const Credential* leaf) {
    return Signer{leaf, {leaf, team.intermediate.get(), team.root.get()}};
  }

  // --- Repositories ---------------------------------------------------------

  base::Result<Repo*, MkError> OpenRepo(const std::string& path) {
    auto it = repos_.find(path);
    if (it != repos_.end()) {
      return it->second.get();
    }
    auto repo = std::make_unique<Repo>();
    repo->uri = std::string(kRegistry) + "/" + path;
    TG_ASSIGN_OR_RETURN(repo->layout, LayoutWriter::Create(
                                          options_.out / "mirror" / repo->uri));
    ++summary_.repositories;
    Repo* raw = repo.get();
    repos_.emplace(path, std::move(repo));
    return raw;
  }

  base::Status<MkError> FinishRepo(Repo& repo) {
    TG_RETURN_IF_ERROR(repo.layout->Finish());
    repo.layout.reset();
    return base::Ok{};
  }

  base::Status<MkError> FinishRepos() {
    for (auto& [path, repo] : repos_) {
      if (repo->layout) {
        TG_RETURN_IF_ERROR(FinishRepo(*repo));
      }
    }
    return base::Ok{};
  }

  // --- Content --------------------------------------------------------------

  base::Result<Image, MkError> WriteImage(
      Repo& repo, const ImageSpec& spec,
      std::string_view architecture = "amd64") {
    Image image;
    FastStream content(options_.seed, LabelHash(spec.label));
    nlohmann::json diff_ids = nlohmann::json::array();
    base::Bytes buffer;
    for (int64_t i = 0; i < spec.layers; ++i) {
      buffer.resize(static_cast<size_t>(spec.layer_size));
      content.Fill(buffer.data(), buffer.size());
      TG_ASSIGN_OR_RETURN(Descriptor layer,
                          repo.layout->WriteBlob(kMediaTypeLayer, buffer,
                                                 spec.layer_algorithm));
      diff_ids.push_back(layer.digest);
      image.layers.push_back(std::move(layer));
    }
    // OCI image-spec config.md (keys sorted).
    nlohmann::json config = nlohmann::json::object();
    config["architecture"] = architecture;
    config["os"] = "linux";
    config["created"] = Rfc3339(now() - kDay);
    config["config"]["Labels"]["org.example.image"] = spec.label;
    config["rootfs"]["type"] = "layers";
    config["rootfs"]["diff_ids"] = std::move(diff_ids);
    TG_ASSIGN_OR_RETURN(image.config,
                        repo.layout->WriteBlob(kMediaTypeImageConfig,
                                               base::AsBytes(config.dump())));
    ImageManifest manifest;
    manifest.config = image.config;
    manifest.layers = image.layers;
    manifest.annotations[std::string(kAnnotationCreated)] =
        Rfc3339(now() - kDay);
    image.manifest_json = ManifestJson(manifest);
    TG_ASSIGN_OR_RETURN(
        image.manifest,
        repo.layout->WriteBlob(kMediaTypeImageManifest,
                               base::AsBytes(image.manifest_json)));
    return image;
  }

  // WriteIndexImage writes an image index with an amd64 and an arm64 child
  // (children are blobs only; they are not listed in index.json).
  base::Result<Descriptor, MkError> WriteIndexImage(Repo& repo,
                                                    const std::string& label) {
    std::vector<Descriptor> children;
    for (const char* arch : {"amd64", "arm64"}) {
      ImageSpec spec;
      spec.label = label + "/" + arch;
      TG_ASSIGN_OR_RETURN(Image child, WriteImage(repo, spec, arch));
      child.manifest.platform = Platform{arch, "linux"};
      children.push_back(child.manifest);
    }
    return repo.layout->WriteBlob(kMediaTypeImageIndex,
                                  base::AsBytes(IndexJson(children)));
  }

  void AddTagged(Repo& repo, Descriptor descriptor, const std::string& tag) {
    descriptor.annotations[std::string(kAnnotationRefName)] = tag;
    repo.layout->AddIndexEntry(std::move(descriptor));
  }

  static TargetDescriptor TargetOf(const Descriptor& d) {
    return TargetDescriptor{d.media_type, d.digest, d.size};
  }

  EnvelopeRequest DefaultRequest(EnvelopeFormat format,
                                 const Descriptor& subject) const {
    EnvelopeRequest request;
    request.format = format;
    request.scheme = SigningScheme::kX509;
    request.signing_time = now() - kHour;
    request.target = TargetOf(subject);
    return request;
  }

  // WriteSignature signs `subject` and writes the signature manifest as
  // Notation does (signature-specification.md, Storage): artifactType
  // application/vnd.cncf.notary.signature, the empty config, one envelope
  // layer, `subject`, and the thumbprint and created annotations; listed in
  // index.json.
  base::Status<MkError> WriteSignature(
      Repo& repo, const Descriptor& subject, const EnvelopeRequest& request,
      const Signer& signer, const std::string& rng_label,
      SignatureShape shape = SignatureShape::kNormal) {
    ReseedRng(options_.seed, "sig:" + rng_label);
    std::vector<Descriptor> layers;
    if (shape == SignatureShape::kGarbageEnvelope) {
      TG_ASSIGN_OR_RETURN(Descriptor layer,
                          repo.layout->WriteBlob(
                              MediaType(EnvelopeFormat::kJws),
                              base::AsBytes("this is not a JWS envelope\n")));
      layers.push_back(std::move(layer));
    } else {
      TG_ASSIGN_OR_RETURN(base::Bytes envelope, BuildEnvelope(request, signer));
      TG_ASSIGN_OR_RETURN(
          Descriptor layer,
          repo.layout->WriteBlob(MediaType(request.format), envelope));
      layers.push_back(std::move(layer));
      if (shape == SignatureShape::kTwoLayers) {
        EnvelopeRequest second = request;
        second.format = request.format == EnvelopeFormat::kJws
                            ? EnvelopeFormat::kCose
                            : EnvelopeFormat::kJws;
        TG_ASSIGN_OR_RETURN(base::Bytes other, BuildEnvelope(second, signer));
        TG_ASSIGN_OR_RETURN(
            Descriptor layer2,
            repo.layout->WriteBlob(MediaType(second.format), other));
        layers.push_back(std::move(layer2));
      }
    }
    const Descriptor empty = EmptyConfigDescriptor();
    // The empty config's blob is stored too, as ORAS does.
    TG_ASSIGN_OR_RETURN(
        Descriptor empty_blob,
        repo.layout->WriteBlob(kMediaTypeEmpty, base::AsBytes("{}")));
    static_cast<void>(empty_blob);
    ImageManifest manifest;
    manifest.artifact_type = std::string(kArtifactTypeNotation);
    manifest.config = empty;
    manifest.layers = std::move(layers);
    Descriptor subject_ref;
    subject_ref.media_type = subject.media_type;
    subject_ref.digest = subject.digest;
    subject_ref.size = subject.size;
    manifest.subject = subject_ref;
    if (shape != SignatureShape::kGarbageEnvelope) {
      nlohmann::json thumbprints = nlohmann::json::array();
      for (const Credential* cert : signer.chain) {
        thumbprints.push_back(cert->sha256_hex);
      }
      manifest.annotations[std::string(kAnnotationThumbprints)] =
          thumbprints.dump();
    }
    manifest.annotations[std::string(kAnnotationCreated)] =
        Rfc3339(request.signing_time);
    TG_ASSIGN_OR_RETURN(
        Descriptor written,
        repo.layout->WriteBlob(kMediaTypeImageManifest,
                               base::AsBytes(ManifestJson(manifest))));
    written.annotations = manifest.annotations;
    written.artifact_type = std::string(kArtifactTypeNotation);
    repo.layout->AddIndexEntry(std::move(written));
    ++summary_.signatures;
    return base::Ok{};
  }

  // Expect records an artifact's expected outcome, online and (when
  // different) offline.
  void Expect(const Repo& repo, const Descriptor& artifact,
              const std::string& tag, const std::string& case_name,
              std::string_view verdict, std::string_view reason,
              std::string_view offline_verdict = {},
              std::string_view offline_reason = {},
              std::string_view plugin_verdict = {},
              std::string_view plugin_reason = {}) {
    Json line;
    line["repository"] = repo.uri;
    line["digest"] = artifact.digest;
    line["tag"] = tag;
    line["case"] = case_name;
    line["verdict"] = verdict;
    line["reason"] = reason;
    expected_ << line.dump() << '\n';
    Json with_plugin = line;
    if (!plugin_verdict.empty()) {
      with_plugin["verdict"] = plugin_verdict;
      with_plugin["reason"] = plugin_reason;
    }
    expected_plugin_ << with_plugin.dump() << '\n';
    if (!offline_verdict.empty()) {
      line["verdict"] = offline_verdict;
      line["reason"] = offline_reason;
    }
    expected_offline_ << line.dump() << '\n';
    ++summary_.artifacts;
  }

  // ExpectTestCase records a test-preset case from kTestCases.
  void ExpectTestCase(const Repo& repo, const Descriptor& artifact,
                      const std::string& name) {
    const std::optional<ExpectedCase> c = FindTestCase(name);
    if (!c) {
      Expect(repo, artifact, name, name, "?", "?");
      return;
    }
    Expect(repo, artifact, name, name, c->verdict, c->reason,
           c->offline_verdict, c->offline_reason, c->plugin_verdict,
           c->plugin_reason);
  }

  // --- Config ---------------------------------------------------------------

  base::Status<MkError> WriteConfig() {
    const std::filesystem::path config = options_.out / "config";
    for (const auto& team : teams_) {
      if (team->name.starts_with("untrusted")) {
        continue;
      }
      const std::filesystem::path dir =
          config / "truststore" / "x509" / StoreDir(team->store) / team->name;
      TG_RETURN_IF_ERROR(MakeDirectories(dir));
      TG_RETURN_IF_ERROR(WriteFile(dir / (team->name + "-root-ca.pem"),
                                   base::AsBytes(ToPem(*team->root))));
    }
    // trust-store-trust-policy.md, Trust Store: `tsa` stores hold the roots
    // of timestamping authorities.
    for (const TsaStore& tsa : tsa_stores_) {
      const std::filesystem::path dir =
          config / "truststore" / "x509" / "tsa" / tsa.name;
      TG_RETURN_IF_ERROR(MakeDirectories(dir));
      TG_RETURN_IF_ERROR(WriteFile(dir / (tsa.name + "-root.pem"),
                                   base::AsBytes(ToPem(*tsa.root))));
    }
    // trust-store-trust-policy.md, Trust Policy: version 1.0, one statement
    // per team, strict.
    Json policy;
    policy["version"] = "1.0";
    Json statements = Json::array();
    for (const Statement& s : statements_) {
      Json j;
      j["name"] = s.name;
      j["registryScopes"] = s.scopes;
      j["signatureVerification"]["level"] = "strict";
      if (!s.verify_timestamp.empty()) {
        j["signatureVerification"]["verifyTimestamp"] = s.verify_timestamp;
      }
      j["trustStores"] = s.trust_stores;
      j["trustedIdentities"] = s.identities;
      statements.push_back(std::move(j));
    }
    policy["trustPolicies"] = std::move(statements);
    TG_RETURN_IF_ERROR(MakeDirectories(config));
    return WriteFile(config / "trustpolicy.oci.json",
                     base::AsBytes(policy.dump(4) + "\n"));
  }

  std::string RepoUri(const std::string& path) const {
    return std::string(kRegistry) + "/" + path;
  }

  // --- Presets --------------------------------------------------------------

  // --- AWS Signer -----------------------------------------------------------

  // AwsPki is an AWS-Signer-like chain: root -> intermediate ->
  // intermediate 2 -> three-day leaves, all P-384.
  struct AwsPki {
    Team* team = nullptr;
    const Credential* intermediate2 = nullptr;
    std::vector<const Credential*> leaves;
  };

  base::Result<AwsPki, MkError> MakeAwsPki(const std::string& name,
                                           int64_t leaves) {
    AwsPki pki;
    auto team = std::make_unique<Team>();
    team->name = name;
    team->store = StoreType::kSigningAuthority;
    CertSpec spec;
    spec.role = CertRole::kRoot;
    spec.subject = {{"C", "US"},      {"ST", "WA"},
                    {"L", "Seattle"}, {"O", "Acme Corp"},
                    {"OU", name},     {"CN", name + " root CA"}};
    spec.not_before = now() - kYear;
    spec.not_after = now() + 20 * kYear;
    ReseedRng(options_.seed, "ca:" + name + ":root");
    TG_ASSIGN_OR_RETURN(team->root,
                        IssueCertificate(spec, KeyType::kEc384, nullptr));
    spec.role = CertRole::kIntermediate;
    spec.path_length = 1;  // the second intermediate below it
    spec.subject.back().second = name + " intermediate CA";
    ReseedRng(options_.seed, "ca:" + name + ":intermediate");
    TG_ASSIGN_OR_RETURN(
        team->intermediate,
        IssueCertificate(spec, KeyType::kEc384, team->root.get()));
    pki.team = team.get();
    teams_.push_back(std::move(team));
    spec.path_length = 0;
    spec.subject.back().second = name + " intermediate CA 2";
    spec.not_after = now() + 10 * kYear;
    ReseedRng(options_.seed, "ca:" + name + ":intermediate2");
    TG_ASSIGN_OR_RETURN(
        std::unique_ptr<Credential> second,
        IssueCertificate(spec, KeyType::kEc384, pki.team->intermediate.get()));
    pki.intermediate2 = second.get();
    owned_.push_back(std::move(second));
    for (int64_t i = 0; i < leaves; ++i) {
      CertSpec leaf;
      leaf.role = CertRole::kLeaf;
      leaf.subject = LeafDn(name, name + " signer " + std::to_string(i + 1));
      // AWS Signer issues a leaf per signing job, valid for a few days;
      // the signingAuthority scheme only asks that it was valid when the
      // signature was made.
      leaf.not_before = now() - kDay;
      leaf.not_after = now() + 2 * kDay;
      ReseedRng(options_.seed, "leaf:" + name + ":" + std::to_string(i));
      TG_ASSIGN_OR_RETURN(
          std::unique_ptr<Credential> cred,
          IssueCertificate(leaf, KeyType::kEc384, pki.intermediate2));
      pki.leaves.push_back(cred.get());
      owned_.push_back(std::move(cred));
    }
    return pki;
  }

  static Signer AwsSignerOf(const AwsPki& pki, const Credential* leaf) {
    return Signer{leaf,
                  {leaf, pki.intermediate2, pki.team->intermediate.get(),
                   pki.team->root.get()}};
  }

  // AwsJobArn returns a signing-job ARN unique to `label`.
  static std::string AwsJobArn(const std::string& label) {
    const std::string h =
        HexDigest(HashAlgorithm::kSha256, base::AsBytes(label));
    return "arn:aws:signer:us-west-2:123456789012:/signing-jobs/" +
           h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
           h.substr(16, 4) + "-" + h.substr(20, 12);
  }

  // AwsRequest is what AWS Signer writes for `subject`.
  EnvelopeRequest AwsRequest(EnvelopeFormat format, const Descriptor& subject,
                             const std::string& profile_arn,
                             const std::string& job_arn) const {
    EnvelopeRequest request = DefaultRequest(format, subject);
    request.scheme = SigningScheme::kX509SigningAuthority;
    request.expiry = now() + 2 * kYear;
    request.attributes = {{"io.cncf.notary.verificationPlugin",
                           std::string(kAwsSignerPlugin), true},
                          {"com.amazonaws.signer.signingProfileVersion",
                           profile_arn + "/Ab12Cd34Ef", true},
                          {"com.amazonaws.signer.signingJob", job_arn, true}};
    return request;
  }

  base::Status<MkError> RunTestAwsSigner();

  base::Status<MkError> RunTest();
  base::Status<MkError> RunTestTimestampsAndRevocation();
  base::Status<MkError> RunDemo();
  base::Status<MkError> RunBench();

  const Options& options_;
  std::ofstream expected_;
  std::ofstream expected_offline_;
  std::ofstream expected_plugin_;
  Summary summary_;
  std::vector<std::unique_ptr<Team>> teams_;
  std::vector<TsaStore> tsa_stores_;
  // Credentials outside the teams (second intermediates, TSAs, OCSP
  // responders, leaves of those).
  std::vector<std::unique_ptr<Credential>> owned_;
  std::map<std::string, std::unique_ptr<Repo>> repos_;
  std::vector<Statement> statements_;
};

// ---------------------------------------------------------------------------
// test preset
// ---------------------------------------------------------------------------

base::Status<MkError> Generator::RunTest() {
  // PKI. Team CAs use the team's key type; signingAuthority for web.
  TG_ASSIGN_OR_RETURN(Team * payments, MakeTeam("payments", StoreType::kCa,
                                                KeyType::kEc256, "payments"));
  TG_ASSIGN_OR_RETURN(Team * platform, MakeTeam("platform", StoreType::kCa,
                                                KeyType::kRsa3072, "platform"));
  TG_ASSIGN_OR_RETURN(Team * web, MakeTeam("web", StoreType::kSigningAuthority,
                                           KeyType::kEc384, "web"));
  // An impersonator: same names as payments, keys nobody trusts.
  TG_ASSIGN_OR_RETURN(Team * untrusted, MakeTeam("payments", StoreType::kCa,
                                                 KeyType::kEc256, "untrusted"));
  untrusted->name = "untrusted-payments";

  TG_ASSIGN_OR_RETURN(const Credential* es256,
                      AddTeamLeaf(*payments, KeyType::kEc256));
  TG_ASSIGN_OR_RETURN(const Credential* es384,
                      AddTeamLeaf(*payments, KeyType::kEc384));
  TG_ASSIGN_OR_RETURN(const Credential* es521,
                      AddTeamLeaf(*payments, KeyType::kEc521));
  TG_ASSIGN_OR_RETURN(const Credential* ps384,
                      AddTeamLeaf(*platform, KeyType::kRsa3072));
  TG_ASSIGN_OR_RETURN(const Credential* ps256,
                      AddTeamLeaf(*platform, KeyType::kRsa2048));
  TG_ASSIGN_OR_RETURN(const Credential* ps512,
                      AddTeamLeaf(*platform, KeyType::kRsa4096));
  TG_ASSIGN_OR_RETURN(const Credential* web_leaf,
                      AddTeamLeaf(*web, KeyType::kEc384));
  TG_ASSIGN_OR_RETURN(const Credential* impostor,
                      AddLeaf(*untrusted, KeyType::kEc256, "untrusted:1",
                              LeafDn("payments", "payments signer 1"),
                              now() - kDay, now() + 10 * kYear));
  TG_ASSIGN_OR_RETURN(const Credential* contractor,
                      AddLeaf(*payments, KeyType::kEc256, "payments:contractor",
                              LeafDn("contractors", "contractor signer 1"),
                              now() - kDay, now() + 10 * kYear));
  TG_ASSIGN_OR_RETURN(
      const Credential* bad_usage,
      AddLeaf(*payments, KeyType::kEc256, "payments:bad-usage",
              LeafDn("payments", "payments signer (bad key usage)"),
              now() - kDay, now() + 10 * kYear, LeafUsage::kCertSignOnly));
  TG_ASSIGN_OR_RETURN(const Credential* expired,
                      AddLeaf(*payments, KeyType::kEc256, "payments:expired",
                              LeafDn("payments", "payments signer (expired)"),
                              now() - 360 * kDay, now() - 30 * kDay));
  TG_ASSIGN_OR_RETURN(const Credential* rsa1024,
                      AddLeaf(*platform, KeyType::kRsa1024, "platform:rsa1024",
                              LeafDn("platform", "platform signer (rsa1024)"),
                              now() - kDay, now() + 10 * kYear));

  // A leaf naming a CRL nobody serves (the discard port): its revocation
  // status cannot be determined, which fails revocation under strict.
  TG_ASSIGN_OR_RETURN(
      const Credential* revocable,
      AddLeaf(*platform, KeyType::kRsa3072, "platform:revocable",
              LeafDn("platform", "platform signer (revocable)"), now() - kDay,
              now() + 10 * kYear, LeafUsage::kCodeSigning,
              "http://127.0.0.1:9/platform-intermediate.crl"));

  const std::string kApi = "payments/api";
  const std::string kStorage = "payments/storage";
  const std::string kBase = "platform/base";
  const std::string kFrontend = "web/frontend";
  const std::string kOrphans = "orphans/app";
  statements_.push_back({"payments",
                         {RepoUri(kApi), RepoUri(kStorage)},
                         {"ca:payments"},
                         {IdentityFor("payments")}});
  statements_.push_back({"platform",
                         {RepoUri(kBase)},
                         {"ca:platform"},
                         {IdentityFor("platform")}});
  statements_.push_back({"web",
                         {RepoUri(kFrontend)},
                         {"signingAuthority:web"},
                         {IdentityFor("web")}});

  std::map<std::string, Descriptor> artifacts;
  int64_t image_number = 0;
  // SignedCase writes one image, tags it, signs it once, records it.
  auto image_for =
      [&](Repo& repo, const std::string& name,
          HashAlgorithm alg =
              HashAlgorithm::kSha256) -> base::Result<Image, MkError> {
    ImageSpec spec;
    spec.label = repo.uri + ":" + name;
    spec.layers = 1 + (image_number++ % 2);
    spec.layer_size = 64 + 32 * (image_number % 7);
    spec.layer_algorithm = alg;
    TG_ASSIGN_OR_RETURN(Image image, WriteImage(repo, spec));
    AddTagged(repo, image.manifest, name);
    artifacts[name] = image.manifest;
    return image;
  };
  auto signed_case = [&](const std::string& repo_path, const std::string& name,
                         EnvelopeFormat format, const Team& team,
                         const Credential* leaf,
                         auto&& customize) -> base::Status<MkError> {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(repo_path));
    TG_ASSIGN_OR_RETURN(Image image, image_for(*repo, name));
    EnvelopeRequest request = DefaultRequest(format, image.manifest);
    if (team.store == StoreType::kSigningAuthority) {
      request.scheme = SigningScheme::kX509SigningAuthority;
    }
    SignatureShape shape = SignatureShape::kNormal;
    customize(request, shape);
    TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, request,
                                      SignerOf(team, leaf),
                                      repo->uri + ":" + name, shape));
    ExpectTestCase(*repo, image.manifest, name);
    return base::Ok{};
  };
  auto plain = [](EnvelopeRequest&, SignatureShape&) {};
  constexpr EnvelopeFormat kJws = EnvelopeFormat::kJws;
  constexpr EnvelopeFormat kCose = EnvelopeFormat::kCose;

  // payments/api: ECDSA leaves and the signature-level negative cases.
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "good-jws-es256", kJws, *payments, es256, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "good-jws-es384", kJws, *payments, es384, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "good-jws-es521", kJws, *payments, es521, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "good-cose-es256", kCose, *payments, es256, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "good-cose-es384", kCose, *payments, es384, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "good-cose-es521", kCose, *payments, es521, plain));
  {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kApi));
    TG_ASSIGN_OR_RETURN(Descriptor index,
                        WriteIndexImage(*repo, repo->uri + ":good-index"));
    AddTagged(*repo, index, "good-index");
    TG_RETURN_IF_ERROR(WriteSignature(*repo, index, DefaultRequest(kJws, index),
                                      SignerOf(*payments, es256),
                                      repo->uri + ":good-index"));
    ExpectTestCase(*repo, index, "good-index");
  }
  TG_RETURN_IF_ERROR(signed_case(
      kApi, "good-future-expiry", kJws, *payments, es256,
      [&](EnvelopeRequest& r, SignatureShape&) { r.expiry = now() + kYear; }));
  {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kApi));
    TG_ASSIGN_OR_RETURN(Image image, image_for(*repo, "good-multi-sig"));
    EnvelopeRequest bad = DefaultRequest(kJws, image.manifest);
    bad.defect = EnvelopeDefect::kCorruptedSignature;
    TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, bad,
                                      SignerOf(*payments, es256),
                                      repo->uri + ":good-multi-sig:1"));
    TG_RETURN_IF_ERROR(WriteSignature(
        *repo, image.manifest, DefaultRequest(kCose, image.manifest),
        SignerOf(*payments, es384), repo->uri + ":good-multi-sig:2"));
    ExpectTestCase(*repo, image.manifest, "good-multi-sig");
  }
  {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kApi));
    TG_ASSIGN_OR_RETURN(Image image, image_for(*repo, "good-sha512-layer",
                                               HashAlgorithm::kSha512));
    TG_RETURN_IF_ERROR(WriteSignature(
        *repo, image.manifest, DefaultRequest(kJws, image.manifest),
        SignerOf(*payments, es256), repo->uri + ":good-sha512-layer"));
    ExpectTestCase(*repo, image.manifest, "good-sha512-layer");
  }
  {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kApi));
    TG_ASSIGN_OR_RETURN(Image image, image_for(*repo, "unsigned"));
    ExpectTestCase(*repo, image.manifest, "unsigned");
  }
  auto defect = [](EnvelopeDefect d) {
    return [d](EnvelopeRequest& r, SignatureShape&) { r.defect = d; };
  };
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-tampered-payload", kJws, *payments,
                                 es256,
                                 defect(EnvelopeDefect::kTamperedPayload)));
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-cose-tampered-payload", kCose,
                                 *payments, es256,
                                 defect(EnvelopeDefect::kTamperedPayload)));
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-corrupted-signature", kJws,
                                 *payments, es256,
                                 defect(EnvelopeDefect::kCorruptedSignature)));
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-cose-corrupted-signature", kCose,
                                 *payments, es256,
                                 defect(EnvelopeDefect::kCorruptedSignature)));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "bad-wrong-chain", kJws, *untrusted, impostor, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "bad-identity", kJws, *payments, contractor, plain));
  // notary.x509 without a timestamp: the chain must be valid now
  // (signing-scheme.md). The leaf expired 30 days ago, inside its CAs'
  // validity; the claimed signing time lies inside the leaf's validity, as
  // in Notation's own e2e-with-expired-cert layout.
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-expired-cert", kJws, *payments,
                                 expired,
                                 [&](EnvelopeRequest& r, SignatureShape&) {
                                   r.signing_time = now() - 60 * kDay;
                                 }));
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-expired-signature", kJws, *payments,
                                 es256,
                                 [&](EnvelopeRequest& r, SignatureShape&) {
                                   r.signing_time = now() - 3 * kHour;
                                   r.expiry = now() - 2 * kHour;
                                 }));
  auto unknown_critical = [](EnvelopeRequest& r, SignatureShape&) {
    r.extra_critical = std::make_pair(std::string("com.example.unknown"),
                                      std::string("must-understand"));
  };
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-unknown-critical", kJws, *payments,
                                 es256, unknown_critical));
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-cose-unknown-critical", kCose,
                                 *payments, es256, unknown_critical));
  TG_RETURN_IF_ERROR(
      signed_case(kApi, "bad-key-usage", kJws, *payments, bad_usage, plain));
  const std::string other_digest = artifacts["good-jws-es256"].digest;
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-target-mismatch", kJws, *payments,
                                 es256,
                                 [&](EnvelopeRequest& r, SignatureShape&) {
                                   r.target.digest = other_digest;
                                 }));
  TG_RETURN_IF_ERROR(signed_case(
      kApi, "bad-target-size", kJws, *payments, es256,
      [&](EnvelopeRequest& r, SignatureShape&) { r.target.size += 1; }));
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-two-layers", kJws, *payments, es256,
                                 [](EnvelopeRequest&, SignatureShape& s) {
                                   s = SignatureShape::kTwoLayers;
                                 }));
  TG_RETURN_IF_ERROR(signed_case(kApi, "bad-envelope-garbage", kJws, *payments,
                                 es256,
                                 [](EnvelopeRequest&, SignatureShape& s) {
                                   s = SignatureShape::kGarbageEnvelope;
                                 }));
  {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kApi));
    TG_ASSIGN_OR_RETURN(Image image, image_for(*repo, "many-signatures"));
    EnvelopeRequest bad = DefaultRequest(kJws, image.manifest);
    bad.defect = EnvelopeDefect::kCorruptedSignature;
    for (int i = 0; i < 150; ++i) {
      TG_RETURN_IF_ERROR(
          WriteSignature(*repo, image.manifest, bad, SignerOf(*payments, es256),
                         repo->uri + ":many-signatures:" + std::to_string(i)));
    }
    ExpectTestCase(*repo, image.manifest, "many-signatures");
  }

  // payments/storage: problems with the artifact's own blobs, each signed
  // with a good signature.
  {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kStorage));
    auto sign_good = [&](const Descriptor& d,
                         const std::string& name) -> base::Status<MkError> {
      return WriteSignature(*repo, d, DefaultRequest(kJws, d),
                            SignerOf(*payments, es256), repo->uri + ":" + name);
    };
    {
      TG_ASSIGN_OR_RETURN(Image image, image_for(*repo, "bad-blob-tampered"));
      TG_RETURN_IF_ERROR(sign_good(image.manifest, "bad-blob-tampered"));
      std::string altered(static_cast<size_t>(image.layers[0].size), 'X');
      TG_RETURN_IF_ERROR(repo->layout->WriteRawBlob(image.layers[0].digest,
                                                    base::AsBytes(altered)));
      ExpectTestCase(*repo, image.manifest, "bad-blob-tampered");
    }
    {
      TG_ASSIGN_OR_RETURN(Image image, image_for(*repo, "bad-blob-missing"));
      TG_RETURN_IF_ERROR(sign_good(image.manifest, "bad-blob-missing"));
      std::error_code ec;
      std::filesystem::remove(repo->layout->BlobPath(image.layers[0].digest),
                              ec);
      if (ec) {
        return base::MakeError(MkError::kIo, "cannot remove a layer blob");
      }
      ExpectTestCase(*repo, image.manifest, "bad-blob-missing");
    }
    {
      TG_ASSIGN_OR_RETURN(Image image,
                          image_for(*repo, "bad-manifest-tampered"));
      TG_RETURN_IF_ERROR(sign_good(image.manifest, "bad-manifest-tampered"));
      // Still valid JSON, but no longer the bytes its digest names.
      std::string altered = image.manifest_json;
      const size_t at = altered.rfind(Rfc3339(now() - kDay));
      altered.replace(at, 4, "1999");
      TG_RETURN_IF_ERROR(repo->layout->WriteRawBlob(image.manifest.digest,
                                                    base::AsBytes(altered)));
      ExpectTestCase(*repo, image.manifest, "bad-manifest-tampered");
    }
    {
      // A manifest that is not JSON, listed with its true digest and size.
      ImageSpec spec;
      spec.label = repo->uri + ":bad-malformed-manifest";
      TG_ASSIGN_OR_RETURN(Image image, WriteImage(*repo, spec));
      const std::string truncated =
          image.manifest_json.substr(0, image.manifest_json.size() / 2);
      TG_ASSIGN_OR_RETURN(Descriptor broken,
                          repo->layout->WriteBlob(kMediaTypeImageManifest,
                                                  base::AsBytes(truncated)));
      AddTagged(*repo, broken, "bad-malformed-manifest");
      TG_RETURN_IF_ERROR(sign_good(broken, "bad-malformed-manifest"));
      ExpectTestCase(*repo, broken, "bad-malformed-manifest");
    }
  }

  // platform/base: RSA-PSS leaves.
  TG_RETURN_IF_ERROR(
      signed_case(kBase, "good-jws-ps256", kJws, *platform, ps256, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kBase, "good-jws-ps384", kJws, *platform, ps384, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kBase, "good-jws-ps512", kJws, *platform, ps512, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kBase, "good-cose-ps256", kCose, *platform, ps256, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kBase, "good-cose-ps384", kCose, *platform, ps384, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kBase, "good-cose-ps512", kCose, *platform, ps512, plain));
  TG_RETURN_IF_ERROR(
      signed_case(kBase, "bad-rsa1024", kJws, *platform, rsa1024, plain));
  TG_RETURN_IF_ERROR(signed_case(kBase, "revocation-unknown", kJws, *platform,
                                 revocable, plain));
  // plugin-extensibility.md: a signature naming a verification plugin
  // (critical) needs that plugin; none is installed.
  TG_RETURN_IF_ERROR(signed_case(
      kBase, "plugin-required", kJws, *platform, ps384,
      [](EnvelopeRequest& r, SignatureShape&) {
        r.extra_critical =
            std::make_pair(std::string("io.cncf.notary.verificationPlugin"),
                           std::string("com.example.verifier"));
      }));

  // web/frontend: notary.x509.signingAuthority.
  TG_RETURN_IF_ERROR(signed_case(kFrontend, "good-signing-authority-jws", kJws,
                                 *web, web_leaf, plain));
  TG_RETURN_IF_ERROR(signed_case(kFrontend, "good-signing-authority-cose",
                                 kCose, *web, web_leaf, plain));

  // orphans/app: a good signature where no statement applies.
  TG_RETURN_IF_ERROR(
      signed_case(kOrphans, "no-policy", kJws, *payments, es256, plain));
  TG_RETURN_IF_ERROR(RunTestTimestampsAndRevocation());
  return RunTestAwsSigner();
}

// ---------------------------------------------------------------------------
// test preset: AWS Signer (verification plugin)
// ---------------------------------------------------------------------------

base::Status<MkError> Generator::RunTestAwsSigner() {
  TG_ASSIGN_OR_RETURN(AwsPki aws, MakeAwsPki("aws-signer", 1));
  // An impersonator: the same chain shape under a root nobody trusts.
  TG_ASSIGN_OR_RETURN(AwsPki rogue, MakeAwsPki("untrusted-aws-signer", 1));
  const std::string kAws = "aws/app";
  const std::string profile(kAwsSigningProfileArn);
  statements_.push_back({"aws-signer",
                         {RepoUri(kAws)},
                         {"signingAuthority:aws-signer"},
                         {profile}});
  std::string fixture;
  int64_t image_number = 0;
  auto aws_case = [&](const std::string& name, EnvelopeFormat format,
                      const AwsPki& pki,
                      auto&& customize) -> base::Status<MkError> {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kAws));
    ImageSpec spec;
    spec.label = repo->uri + ":" + name;
    spec.layers = 1 + (image_number++ % 2);
    TG_ASSIGN_OR_RETURN(Image image, WriteImage(*repo, spec));
    AddTagged(*repo, image.manifest, name);
    const std::string job = AwsJobArn(repo->uri + ":" + name);
    EnvelopeRequest request = AwsRequest(format, image.manifest, profile, job);
    customize(request, job);
    TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, request,
                                      AwsSignerOf(pki, pki.leaves.front()),
                                      repo->uri + ":" + name));
    ExpectTestCase(*repo, image.manifest, name);
    return base::Ok{};
  };
  auto plain = [](EnvelopeRequest&, const std::string&) {};
  TG_RETURN_IF_ERROR(
      aws_case("aws-good-jws", EnvelopeFormat::kJws, aws, plain));
  TG_RETURN_IF_ERROR(
      aws_case("aws-good-cose", EnvelopeFormat::kCose, aws, plain));
  TG_RETURN_IF_ERROR(
      aws_case("aws-other-profile", EnvelopeFormat::kJws, aws,
               [](EnvelopeRequest& r, const std::string&) {
                 r.attributes[1].value =
                     "arn:aws:signer:us-west-2:123456789012:/signing-profiles/"
                     "trustgate_other/Zz98Yy76Xx";
               }));
  TG_RETURN_IF_ERROR(aws_case("aws-revoked-job", EnvelopeFormat::kJws, aws,
                              [&](EnvelopeRequest&, const std::string& job) {
                                fixture += job + "\n";
                              }));
  TG_RETURN_IF_ERROR(aws_case("aws-revocation-unknown", EnvelopeFormat::kJws,
                              aws,
                              [&](EnvelopeRequest&, const std::string& job) {
                                fixture += "unknown " + job + "\n";
                              }));
  TG_RETURN_IF_ERROR(aws_case(
      "aws-min-version-too-high", EnvelopeFormat::kJws, aws,
      [](EnvelopeRequest& r, const std::string&) {
        r.attributes.insert(
            r.attributes.begin() + 1,
            {"io.cncf.notary.verificationPluginMinVersion", "9.0.0", true});
      }));
  TG_RETURN_IF_ERROR(
      aws_case("aws-untrusted-root", EnvelopeFormat::kJws, rogue, plain));
  TG_RETURN_IF_ERROR(aws_case("aws-expired-signature", EnvelopeFormat::kJws,
                              aws, [&](EnvelopeRequest& r, const std::string&) {
                                r.expiry = now() - kHour;
                                r.signing_time = now() - 2 * kHour;
                              }));
  return WriteFile(options_.out / "plugin-revocation.txt",
                   base::AsBytes(fixture));
}

// ---------------------------------------------------------------------------
// test preset: timestamps and revocation
// ---------------------------------------------------------------------------

// The PKI of these cases, relative to now:
//
//   releases root CA ── releases intermediate CA ── code-signing leaves
//                    │   (CRLs releases-ca.crl + delta, an expired one and
//                    │    a forged one; OCSP by a delegated responder)
//                    └─ releases intermediate CA 2 (revoked in
//                       releases-root.crl) ── one leaf
//   vendor root CA ── vendor intermediate CA (vendor-ca.crl) ── leaves
//                     (signingAuthority store)
//   mkmirror test TSA root (tsa store) ── TSA 1 (RSA, not revocable)
//                                     ├─ TSA 2 (tsa-root.crl, good)
//                                     └─ TSA 3 (tsa-root.crl, revoked)
//   rogue TSA root (in no store) ── rogue TSA
//
// Every CRL names its own URL in a critical issuing distribution point
// (the delta its base's), so that an offline directory can tell the
// issuer's several CRLs apart, as RFC 5280 §5.2.5 intends. Times are chosen
// so that every expectation holds for a verification time from `now` to a
// year after it.
base::Status<MkError> Generator::RunTestTimestampsAndRevocation() {
  const int64_t t0 = now();
  const std::string& base_url = options_.revocation_url;
  auto url = [&](const std::string& file) { return base_url + "/" + file; };
  const std::filesystem::path revocation_dir = options_.out / "revocation";
  TG_RETURN_IF_ERROR(MakeDirectories(revocation_dir));
  auto write_revocation = [&](const std::string& file, const base::Bytes& der) {
    return WriteFile(revocation_dir / file, der);
  };

  // --- PKI ------------------------------------------------------------------
  TG_ASSIGN_OR_RETURN(Team * releases, MakeTeam("releases", StoreType::kCa,
                                                KeyType::kEc256, "releases"));
  TG_ASSIGN_OR_RETURN(Team * vendor,
                      MakeTeam("vendor", StoreType::kSigningAuthority,
                               KeyType::kEc256, "vendor"));
  auto issue = [&](const CertSpec& spec, KeyType type, const Credential* issuer,
                   const std::string& rng_label)
      -> base::Result<const Credential*, MkError> {
    ReseedRng(options_.seed, rng_label);
    TG_ASSIGN_OR_RETURN(std::unique_ptr<Credential> c,
                        IssueCertificate(spec, type, issuer));
    owned_.push_back(std::move(c));
    return owned_.back().get();
  };
  struct LeafOptions {
    int64_t not_before = 0;
    int64_t not_after = 0;
    std::string crl_url = {};
    std::string ocsp_url = {};
    LeafUsage usage = LeafUsage::kCodeSigning;
  };
  auto leaf = [&](const Credential& issuer, KeyType type,
                  DistinguishedName subject, const LeafOptions& o,
                  const std::string& rng_label) {
    CertSpec spec;
    spec.role = CertRole::kLeaf;
    spec.subject = std::move(subject);
    spec.not_before = o.not_before;
    spec.not_after = o.not_after;
    spec.leaf_usage = o.usage;
    spec.crl_url = o.crl_url;
    spec.ocsp_url = o.ocsp_url;
    return issue(spec, type, &issuer, "leaf:" + rng_label);
  };
  const LeafOptions valid{t0 - kDay, t0 + 10 * kYear};
  auto releases_leaf = [&](const std::string& cn, LeafOptions o,
                           KeyType type = KeyType::kEc256) {
    return leaf(*releases->intermediate, type, LeafDn("releases", cn), o,
                "releases:" + cn);
  };
  auto with_crl = [&](const std::string& file) {
    LeafOptions o = valid;
    o.crl_url = url(file);
    return o;
  };
  auto with_ocsp = [&](const std::string& crl_file) {
    LeafOptions o = valid;
    o.ocsp_url = base_url;  // GET BASE/<escaped request>: one level below
    if (!crl_file.empty()) {
      o.crl_url = url(crl_file);
    }
    return o;
  };

  // Second intermediate of the releases root, revoked by the root's CRL.
  CertSpec int2_spec;
  int2_spec.role = CertRole::kIntermediate;
  int2_spec.subject = {
      {"C", "US"},        {"ST", "WA"},
      {"L", "Seattle"},   {"O", "Acme Corp"},
      {"OU", "releases"}, {"CN", "releases intermediate CA 2"}};
  int2_spec.not_before = t0 - kYear;
  int2_spec.not_after = t0 + 20 * kYear;
  int2_spec.crl_url = url("releases-root.crl");
  TG_ASSIGN_OR_RETURN(const Credential* int2,
                      issue(int2_spec, KeyType::kEc256, releases->root.get(),
                            "ca:releases:intermediate-2"));

  // Signing leaves.
  TG_ASSIGN_OR_RETURN(const Credential* ts_valid,
                      releases_leaf("releases signer 1", valid));
  // P-384, so that its tokens' imprints are SHA-384.
  TG_ASSIGN_OR_RETURN(
      const Credential* ts_expired,
      releases_leaf("releases signer (expired)",
                    LeafOptions{t0 - 360 * kDay, t0 - 30 * kDay},
                    KeyType::kEc384));
  TG_ASSIGN_OR_RETURN(
      const Credential* crl_good,
      releases_leaf("releases signer (crl good)", with_crl("releases-ca.crl")));
  TG_ASSIGN_OR_RETURN(const Credential* crl_revoked,
                      releases_leaf("releases signer (crl revoked)",
                                    with_crl("releases-ca.crl")));
  TG_ASSIGN_OR_RETURN(
      const Credential* crl_hold,
      releases_leaf("releases signer (crl hold)", with_crl("releases-ca.crl")));
  TG_ASSIGN_OR_RETURN(const Credential* crl_delta,
                      releases_leaf("releases signer (delta revoked)",
                                    with_crl("releases-ca.crl")));
  TG_ASSIGN_OR_RETURN(const Credential* crl_expired,
                      releases_leaf("releases signer (crl expired)",
                                    with_crl("releases-ca-expired.crl")));
  TG_ASSIGN_OR_RETURN(const Credential* crl_forged,
                      releases_leaf("releases signer (crl forged)",
                                    with_crl("releases-ca-forged.crl")));
  TG_ASSIGN_OR_RETURN(
      const Credential* ocsp_good,
      releases_leaf("releases signer (ocsp good)", with_ocsp("")));
  TG_ASSIGN_OR_RETURN(
      const Credential* ocsp_revoked,
      releases_leaf("releases signer (ocsp revoked)", with_ocsp("")));
  TG_ASSIGN_OR_RETURN(const Credential* ocsp_unknown,
                      releases_leaf("releases signer (ocsp unknown)",
                                    with_ocsp("releases-ca.crl")));
  TG_ASSIGN_OR_RETURN(
      const Credential* int2_leaf,
      leaf(*int2, KeyType::kEc256,
           LeafDn("releases", "releases signer (revoked intermediate)"), valid,
           "releases:revoked-intermediate"));
  TG_ASSIGN_OR_RETURN(const Credential* responder,
                      leaf(*releases->intermediate, KeyType::kEc256,
                           {{"C", "US"},
                            {"O", "Acme Corp"},
                            {"OU", "releases"},
                            {"CN", "releases OCSP responder"}},
                           LeafOptions{t0 - kYear, t0 + 5 * kYear, "", "",
                                       LeafUsage::kOcspSigning},
                           "releases:ocsp-responder"));
  const LeafOptions vendor_options{t0 - 30 * kDay, t0 + 10 * kYear,
                                   url("vendor-ca.crl")};
  TG_ASSIGN_OR_RETURN(
      const Credential* sa_after,
      leaf(*vendor->intermediate, KeyType::kEc256,
           LeafDn("vendor", "vendor signer (revoked after signing)"),
           vendor_options, "vendor:revoked-after"));
  TG_ASSIGN_OR_RETURN(
      const Credential* sa_before,
      leaf(*vendor->intermediate, KeyType::kEc256,
           LeafDn("vendor", "vendor signer (revoked before signing)"),
           vendor_options, "vendor:revoked-before"));

  // TSAs.
  auto tsa_root_spec = [&](const std::string& org, const std::string& cn) {
    CertSpec spec;
    spec.role = CertRole::kRoot;
    spec.subject = {{"C", "US"}, {"O", org}, {"CN", cn}};
    spec.not_before = t0 - 2 * kYear;
    spec.not_after = t0 + 20 * kYear;
    return spec;
  };
  TG_ASSIGN_OR_RETURN(
      const Credential* tsa_root,
      issue(tsa_root_spec("mkmirror test TSA", "mkmirror test TSA root"),
            KeyType::kEc384, nullptr, "tsa:root"));
  TG_ASSIGN_OR_RETURN(const Credential* rogue_root,
                      issue(tsa_root_spec("Rogue TSA", "rogue TSA root"),
                            KeyType::kEc256, nullptr, "tsa:rogue-root"));
  tsa_stores_.push_back({"mkmirror-tsa", tsa_root});
  auto tsa_leaf = [&](const Credential& root, const std::string& org,
                      const std::string& cn, KeyType type,
                      const std::string& crl_url) {
    return leaf(root, type, {{"C", "US"}, {"O", org}, {"CN", cn}},
                LeafOptions{t0 - kYear, t0 + 5 * kYear, crl_url, "",
                            LeafUsage::kTimeStamping},
                "tsa:" + cn);
  };
  TG_ASSIGN_OR_RETURN(const Credential* tsa1,
                      tsa_leaf(*tsa_root, "mkmirror test TSA", "mkmirror TSA 1",
                               KeyType::kRsa2048, ""));
  TG_ASSIGN_OR_RETURN(
      const Credential* tsa2,
      tsa_leaf(*tsa_root, "mkmirror test TSA", "mkmirror TSA 2 (revocable)",
               KeyType::kEc256, url("tsa-root.crl")));
  TG_ASSIGN_OR_RETURN(
      const Credential* tsa3,
      tsa_leaf(*tsa_root, "mkmirror test TSA", "mkmirror TSA 3 (revoked)",
               KeyType::kEc256, url("tsa-root.crl")));
  TG_ASSIGN_OR_RETURN(
      const Credential* rogue_tsa,
      tsa_leaf(*rogue_root, "Rogue TSA", "rogue TSA", KeyType::kEc256, ""));

  // --- CRLs -----------------------------------------------------------------
  // RFC 5280 §5: v2, thisUpdate a day ago and nextUpdate 400 days ahead
  // (current for a year of verification times), cRLNumber, authority key
  // identifier; entries with reasons and invalidity dates.
  auto crl = [&](const std::string& file, const Credential& issuer,
                 CrlSpec spec, EVP_PKEY* signing_key = nullptr,
                 KeyType signing_type =
                     KeyType::kEc256) -> base::Status<MkError> {
    ReseedRng(options_.seed, "crl:" + file);
    if (spec.distribution_point.empty()) {
      spec.distribution_point = url(file);
    }
    if (signing_key == nullptr) {
      signing_key = issuer.key.get();
      signing_type = issuer.type;
    }
    TG_ASSIGN_OR_RETURN(base::Bytes der,
                        BuildCrl(spec, issuer, signing_key, signing_type));
    return write_revocation(file, der);
  };
  auto current = [&](int64_t number) {
    CrlSpec spec;
    spec.this_update = t0 - kDay;
    spec.next_update = t0 + 400 * kDay;
    spec.number = number;
    return spec;
  };
  {
    // The releases intermediate's base CRL (number 7) and its delta
    // (number 8, base 7), found through the base's freshestCRL
    // (notation-core-go v1.3 revocation/crl fetcher.go fetchDeltaCRL).
    CrlSpec base = current(7);
    base.freshest_url = url("releases-ca-delta.crl");
    // keyCompromise with an invalidity date: under notary.x509 no signing
    // time is compared with it (Notation passes a zero time), so revoked.
    base.entries.push_back({crl_revoked, t0 - 10 * kDay,
                            CrlReason::kKeyCompromise, t0 - 12 * kDay});
    // certificateHold: temporarily revoked, which Notation treats as
    // revoked while no later removeFromCRL entry exists.
    base.entries.push_back(
        {crl_hold, t0 - 5 * kDay, CrlReason::kCertificateHold, std::nullopt});
    TG_RETURN_IF_ERROR(crl("releases-ca.crl", *releases->intermediate, base));
    CrlSpec delta = current(8);
    delta.this_update = t0 - kHour;
    delta.delta_base = 7;
    delta.distribution_point = url("releases-ca.crl");  // the base's scope
    delta.entries.push_back(
        {crl_delta, t0 - 2 * kDay, CrlReason::kKeyCompromise, std::nullopt});
    TG_RETURN_IF_ERROR(
        crl("releases-ca-delta.crl", *releases->intermediate, delta));
  }
  {
    // Past its nextUpdate (and listing nothing): status unknown.
    CrlSpec expired;
    expired.this_update = t0 - 40 * kDay;
    expired.next_update = t0 - 10 * kDay;
    expired.number = 3;
    TG_RETURN_IF_ERROR(
        crl("releases-ca-expired.crl", *releases->intermediate, expired));
  }
  {
    // In the intermediate's name (issuer and authority key identifier) but
    // signed by another key, listing nothing: status unknown.
    ReseedRng(options_.seed, "key:releases-ca-forger");
    TG_ASSIGN_OR_RETURN(crypto::UniqueEvpPkey forger,
                        GenerateKey(KeyType::kEc256));
    TG_RETURN_IF_ERROR(crl("releases-ca-forged.crl", *releases->intermediate,
                           current(7), forger.get(), KeyType::kEc256));
  }
  {
    CrlSpec root = current(2);
    root.entries.push_back(
        {int2, t0 - 20 * kDay, CrlReason::kCaCompromise, std::nullopt});
    TG_RETURN_IF_ERROR(crl("releases-root.crl", *releases->root, root));
  }
  {
    // The TSA root's CRL revokes TSA 3 (two days ago). Notation fails a
    // token whose TSA chain is revoked whenever the token was made
    // (notation-go v1.3 verifier.go verifyTimestamp step 5 passes no
    // signing time to the revocation check).
    CrlSpec tsa = current(4);
    tsa.entries.push_back(
        {tsa3, t0 - 2 * kDay, CrlReason::kKeyCompromise, std::nullopt});
    TG_RETURN_IF_ERROR(crl("tsa-root.crl", *tsa_root, tsa));
  }
  // Authentic signing time of both vendor signatures: five days ago.
  const int64_t vendor_signing_time = t0 - 5 * kDay;
  {
    // notation-core-go v1.3 revocation/internal/crl checkRevocation: under
    // notary.x509.signingAuthority, an entry whose invalidity date is after
    // the authentic signing time means the key was still good when it
    // signed: the certificate is good for that signature (ResultOK), even
    // though the entry's reason is keyCompromise. An invalidity date before
    // it leaves the certificate revoked.
    CrlSpec spec = current(5);
    spec.entries.push_back({sa_after, t0 - kDay, CrlReason::kKeyCompromise,
                            vendor_signing_time + 3 * kDay});
    spec.entries.push_back({sa_before, t0 - kDay, CrlReason::kKeyCompromise,
                            vendor_signing_time - 5 * kDay});
    TG_RETURN_IF_ERROR(crl("vendor-ca.crl", *vendor->intermediate, spec));
  }

  // --- OCSP -----------------------------------------------------------------
  // One response per certificate that names the responder, stored under the
  // path element Notation GETs below the responder URL (BASE).
  auto ocsp = [&](const Credential& cert, const Credential& signer,
                  OcspResponseSpec spec) -> base::Status<MkError> {
    TG_ASSIGN_OR_RETURN(base::Bytes request,
                        OcspRequestDer(cert, *releases->intermediate));
    const std::string file = OcspGetPathElement(request);
    if (file.size() >= 255) {
      // Notation would POST; a static directory cannot answer that.
      return base::MakeError(MkError::kCrypto, "OCSP request too long for GET");
    }
    ReseedRng(options_.seed, "ocsp:" + file);
    TG_ASSIGN_OR_RETURN(
        base::Bytes der,
        BuildOcspResponse(spec, cert, *releases->intermediate, signer));
    return write_revocation(file, der);
  };
  OcspResponseSpec good;
  good.produced_at = t0 - kHour;
  good.this_update = t0 - kHour;
  good.next_update = t0 + 400 * kDay;
  TG_RETURN_IF_ERROR(ocsp(*ocsp_good, *responder, good));
  OcspResponseSpec revoked = good;
  revoked.status = OcspCertStatus::kRevoked;
  revoked.revocation_time = t0 - 3 * kDay;
  revoked.reason = CrlReason::kKeyCompromise;
  // Signed by the CA itself rather than the delegated responder (RFC 6960
  // §4.2.2.2 allows both).
  TG_RETURN_IF_ERROR(ocsp(*ocsp_revoked, *releases->intermediate, revoked));
  OcspResponseSpec unknown = good;
  unknown.status = OcspCertStatus::kUnknown;
  TG_RETURN_IF_ERROR(ocsp(*ocsp_unknown, *responder, unknown));

  // --- Policy ---------------------------------------------------------------
  const std::string kTimestamped = "releases/timestamped";
  const std::string kLegacy = "releases/legacy";
  const std::string kApp = "releases/app";
  const std::string kAgent = "vendor/agent";
  const std::string tsa_store = "tsa:" + tsa_stores_.back().name;
  // trust-store-trust-policy.md, Trust Policy Properties: verifyTimestamp.
  statements_.push_back({"releases-timestamped",
                         {RepoUri(kTimestamped)},
                         {"ca:releases", tsa_store},
                         {IdentityFor("releases")},
                         "always"});
  statements_.push_back({"releases-legacy",
                         {RepoUri(kLegacy)},
                         {"ca:releases", tsa_store},
                         {IdentityFor("releases")},
                         "afterCertExpiry"});
  statements_.push_back({"releases",
                         {RepoUri(kApp)},
                         {"ca:releases"},
                         {IdentityFor("releases")}});
  statements_.push_back({"vendor",
                         {RepoUri(kAgent)},
                         {"signingAuthority:vendor"},
                         {IdentityFor("vendor")}});

  // --- Signatures -----------------------------------------------------------
  int64_t image_number = 0;
  auto signed_case = [&](const std::string& repo_path, const std::string& name,
                         EnvelopeFormat format, const Signer& signer,
                         auto&& customize) -> base::Status<MkError> {
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(repo_path));
    ImageSpec spec;
    spec.label = repo->uri + ":" + name;
    spec.layers = 1 + (image_number % 2);
    spec.layer_size = 96 + 32 * (image_number % 5);
    ++image_number;
    TG_ASSIGN_OR_RETURN(Image image, WriteImage(*repo, spec));
    AddTagged(*repo, image.manifest, name);
    EnvelopeRequest request = DefaultRequest(format, image.manifest);
    customize(request);
    TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, request, signer,
                                      repo->uri + ":" + name));
    ExpectTestCase(*repo, image.manifest, name);
    return base::Ok{};
  };
  auto plain = [](EnvelopeRequest&) {};
  const Signer valid_signer = SignerOf(*releases, ts_valid);
  const Signer expired_signer = SignerOf(*releases, ts_expired);
  int64_t token_serial = 1000;
  // stamp returns a countersigner: a token by `tsa` (carrying `certs`) at
  // genTime `gen_time` + `millis`, with `spec`'s accuracy.
  auto stamp = [&](const Credential* tsa, std::vector<const Credential*> certs,
                   int64_t gen_time, TimestampSpec spec) {
    spec.gen_time = gen_time;
    spec.serial = ++token_serial;
    TimestampAuthority authority{tsa, std::move(certs)};
    return Countersigner(
        [authority, spec](base::ByteView signature, const EVP_MD* digest) {
          return IssueTimestampToken(authority, spec, signature, digest);
        });
  };
  TimestampSpec one_second;
  one_second.accuracy_seconds = 1;
  constexpr EnvelopeFormat kJws = EnvelopeFormat::kJws;
  constexpr EnvelopeFormat kCose = EnvelopeFormat::kCose;

  // trust-store-trust-policy.md, "Timestamp Countersignature Verification":
  // with verifyTimestamp always, an expired signing certificate is fine
  // when a trusted TSA proves the signature existed while it was valid
  // (genTime ± accuracy inside every chain certificate's validity).
  TG_RETURN_IF_ERROR(signed_case(kTimestamped, "ts-expired-cert-rescued", kJws,
                                 expired_signer, [&](EnvelopeRequest& r) {
                                   r.signing_time = t0 - 60 * kDay;
                                   TimestampSpec spec = one_second;
                                   spec.gen_time_millis = 250;
                                   r.countersigner =
                                       stamp(tsa1, {tsa1, tsa_root},
                                             r.signing_time + 2, spec);
                                 }));
  // afterCertExpiry and an expired leaf: the timestamp is required and
  // rescues it. The token carries only the TSA leaf (the chain is built to
  // the store's root) and TSA 2 names a CRL that does not list it.
  TG_RETURN_IF_ERROR(signed_case(kLegacy, "ts-after-expiry-rescued", kCose,
                                 expired_signer, [&](EnvelopeRequest& r) {
                                   r.signing_time = t0 - 45 * kDay;
                                   TimestampSpec spec;
                                   spec.accuracy_millis = 500;
                                   r.countersigner = stamp(
                                       tsa2, {tsa2}, r.signing_time + 1, spec);
                                 }));
  // afterCertExpiry and a valid chain: no timestamp needed.
  TG_RETURN_IF_ERROR(signed_case(kLegacy, "ts-valid-cert-after-expiry-policy",
                                 kJws, valid_signer, plain));
  // always: a signature without a token fails.
  TG_RETURN_IF_ERROR(
      signed_case(kTimestamped, "ts-missing", kJws, valid_signer, plain));
  TG_RETURN_IF_ERROR(signed_case(kTimestamped, "ts-untrusted-tsa", kJws,
                                 valid_signer, [&](EnvelopeRequest& r) {
                                   r.countersigner =
                                       stamp(rogue_tsa, {rogue_tsa, rogue_root},
                                             r.signing_time + 1, one_second);
                                 }));
  // The token is genuine, but made 20 days after the leaf expired.
  TG_RETURN_IF_ERROR(signed_case(kTimestamped, "ts-outside-validity", kJws,
                                 expired_signer, [&](EnvelopeRequest& r) {
                                   r.signing_time = t0 - 60 * kDay;
                                   r.countersigner =
                                       stamp(tsa1, {tsa1, tsa_root},
                                             t0 - 10 * kDay, one_second);
                                 }));
  TG_RETURN_IF_ERROR(signed_case(
      kTimestamped, "ts-garbage-token", kJws, valid_signer,
      [](EnvelopeRequest& r) {
        r.countersigner =
            [](base::ByteView,
               const EVP_MD*) -> base::Result<base::Bytes, MkError> {
          const std::string_view garbage = "this is not an RFC 3161 token";
          return base::Bytes(garbage.begin(), garbage.end());
        };
      }));
  TG_RETURN_IF_ERROR(signed_case(kTimestamped, "ts-revoked-tsa", kJws,
                                 valid_signer, [&](EnvelopeRequest& r) {
                                   r.countersigner =
                                       stamp(tsa3, {tsa3, tsa_root},
                                             r.signing_time + 1, one_second);
                                 }));

  // releases/app: revocation of the signing chain.
  auto by = [&](const Credential* l) { return SignerOf(*releases, l); };
  TG_RETURN_IF_ERROR(signed_case(kApp, "crl-good", kJws, by(crl_good), plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApp, "crl-revoked", kJws, by(crl_revoked), plain));
  TG_RETURN_IF_ERROR(signed_case(kApp, "crl-hold", kCose, by(crl_hold), plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApp, "crl-delta-revoked", kJws, by(crl_delta), plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApp, "crl-expired", kJws, by(crl_expired), plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApp, "crl-wrong-issuer", kJws, by(crl_forged), plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApp, "ocsp-good", kCose, by(ocsp_good), plain));
  TG_RETURN_IF_ERROR(
      signed_case(kApp, "ocsp-revoked", kJws, by(ocsp_revoked), plain));
  // trust-store-trust-policy.md, "Certificate Revocation Evaluation": OCSP
  // first; when its answer is unknown, the CRL decides.
  TG_RETURN_IF_ERROR(signed_case(kApp, "ocsp-unknown-fallback-crl-good", kJws,
                                 by(ocsp_unknown), plain));
  TG_RETURN_IF_ERROR(signed_case(
      kApp, "intermediate-revoked", kJws,
      Signer{int2_leaf, {int2_leaf, int2, releases->root.get()}}, plain));

  // vendor/agent: notary.x509.signingAuthority, revocation against the
  // authentic signing time.
  auto authority = [&](EnvelopeRequest& r) {
    r.scheme = SigningScheme::kX509SigningAuthority;
    r.signing_time = vendor_signing_time;
  };
  TG_RETURN_IF_ERROR(signed_case(kAgent, "sa-revoked-after-signing", kJws,
                                 SignerOf(*vendor, sa_after), authority));
  TG_RETURN_IF_ERROR(signed_case(kAgent, "sa-revoked-before-signing", kCose,
                                 SignerOf(*vendor, sa_before), authority));
  return base::Ok{};
}

// ---------------------------------------------------------------------------
// demo preset
// ---------------------------------------------------------------------------

base::Status<MkError> Generator::RunDemo() {
  TG_ASSIGN_OR_RETURN(Team * payments, MakeTeam("payments", StoreType::kCa,
                                                KeyType::kEc256, "payments"));
  TG_ASSIGN_OR_RETURN(Team * platform, MakeTeam("platform", StoreType::kCa,
                                                KeyType::kRsa3072, "platform"));
  TG_ASSIGN_OR_RETURN(Team * web, MakeTeam("web", StoreType::kSigningAuthority,
                                           KeyType::kEc384, "web"));
  TG_ASSIGN_OR_RETURN(Team * untrusted, MakeTeam("platform", StoreType::kCa,
                                                 KeyType::kEc256, "untrusted"));
  untrusted->name = "untrusted-platform";
  TG_ASSIGN_OR_RETURN(const Credential* payments_leaf,
                      AddTeamLeaf(*payments, KeyType::kEc256));
  TG_ASSIGN_OR_RETURN(const Credential* platform_leaf,
                      AddTeamLeaf(*platform, KeyType::kRsa3072));
  TG_ASSIGN_OR_RETURN(const Credential* web_leaf,
                      AddTeamLeaf(*web, KeyType::kEc384));
  TG_ASSIGN_OR_RETURN(const Credential* impostor,
                      AddLeaf(*untrusted, KeyType::kEc256, "untrusted:1",
                              LeafDn("platform", "platform signer 1"),
                              now() - kDay, now() + 10 * kYear));

  struct TeamRepos {
    Team* team;
    const Credential* leaf;
    std::vector<std::string> repos;
  };
  const TeamRepos org[] = {
      {payments, payments_leaf, {"api", "ledger", "gateway"}},
      {platform, platform_leaf, {"base", "runtime", "tools"}},
      {web, web_leaf, {"frontend", "cdn", "admin"}},
  };
  int64_t counter = 0;
  for (const TeamRepos& t : org) {
    Statement statement{
        t.team->name,
        {},
        {std::string(t.team->store == StoreType::kCa ? "ca:"
                                                     : "signingAuthority:") +
         t.team->name},
        {IdentityFor(t.team->name)}};
    for (const std::string& name : t.repos) {
      const std::string path = t.team->name + "/" + name;
      statement.scopes.push_back(RepoUri(path));
      TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(path));
      for (int v = 0; v < 4; ++v) {
        const std::string tag = "v1." + std::to_string(v) + ".0";
        ImageSpec spec;
        spec.label = repo->uri + ":" + tag;
        spec.layers = 1 + (counter % 2);
        spec.layer_size = 512 + 128 * (counter % 5);
        TG_ASSIGN_OR_RETURN(Image image, WriteImage(*repo, spec));
        AddTagged(*repo, image.manifest, tag);
        EnvelopeRequest request = DefaultRequest(
            counter % 2 == 0 ? EnvelopeFormat::kJws : EnvelopeFormat::kCose,
            image.manifest);
        if (t.team->store == StoreType::kSigningAuthority) {
          request.scheme = SigningScheme::kX509SigningAuthority;
        }
        TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, request,
                                          SignerOf(*t.team, t.leaf),
                                          repo->uri + ":" + tag));
        Expect(*repo, image.manifest, tag, "good", "verified", "ok");
        ++counter;
      }
    }
    statements_.push_back(std::move(statement));
  }

  // quarantine/imports: third-party images, governed by their own strict
  // statement that trusts only the platform team.
  const std::string kQuarantine = "quarantine/imports";
  statements_.push_back({"quarantine",
                         {RepoUri(kQuarantine)},
                         {"ca:platform"},
                         {IdentityFor("platform")}});
  TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(kQuarantine));
  struct Import {
    const char* tag;
    const char* verdict;
    const char* reason;
  };
  const Import imports[] = {
      {"curl-8.5.0", "verified", "ok"},
      {"redis-7.2.4", "failed", "integrity"},
      {"nginx-1.25.3", "failed", "authenticity"},
      {"busybox-1.36.1", "failed", "unsigned"},
  };
  for (const Import& imp : imports) {
    ImageSpec spec;
    spec.label = repo->uri + ":" + imp.tag;
    spec.layer_size = 1024;
    TG_ASSIGN_OR_RETURN(Image image, WriteImage(*repo, spec));
    AddTagged(*repo, image.manifest, imp.tag);
    EnvelopeRequest request =
        DefaultRequest(EnvelopeFormat::kJws, image.manifest);
    const std::string label = repo->uri + ":" + imp.tag;
    std::string case_name = "good";
    if (std::string_view(imp.reason) == "ok") {
      TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, request,
                                        SignerOf(*platform, platform_leaf),
                                        label));
    } else if (std::string_view(imp.reason) == "integrity") {
      case_name = "bad-tampered-payload";
      request.defect = EnvelopeDefect::kTamperedPayload;
      TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, request,
                                        SignerOf(*platform, platform_leaf),
                                        label));
    } else if (std::string_view(imp.reason) == "authenticity") {
      case_name = "bad-untrusted-signer";
      TG_RETURN_IF_ERROR(WriteSignature(*repo, image.manifest, request,
                                        SignerOf(*untrusted, impostor), label));
    } else {
      case_name = "unsigned";
    }
    Expect(*repo, image.manifest, imp.tag, case_name, imp.verdict, imp.reason);
  }
  return base::Ok{};
}

// ---------------------------------------------------------------------------
// bench preset
// ---------------------------------------------------------------------------

base::Status<MkError> Generator::RunBench() {
  const int64_t n = options_.artifacts;
  // At least one repository, and no empty ones.
  const int64_t repo_count =
      std::clamp<int64_t>(options_.repos > 0 ? options_.repos : n / 100, 1, n);
  // CAs are P-384 whatever the leaf key: chain checks are cached per
  // distinct chain, so only the leaves' key type matters for throughput.
  const bool aws = options_.signer == SignerStyle::kAwsSigner;
  Team* team = nullptr;
  AwsPki aws_pki;
  std::vector<const Credential*> leaves;
  Statement statement{"bench", {}, {"ca:bench"}, {IdentityFor("bench")}};
  if (aws) {
    // AWS-Signer-style (see scenarios.h): P-384 leaves whatever --key.
    TG_ASSIGN_OR_RETURN(aws_pki, MakeAwsPki("aws-signer", options_.leaves));
    team = aws_pki.team;
    leaves = aws_pki.leaves;
    statement = Statement{"aws-signer",
                          {},
                          {"signingAuthority:aws-signer"},
                          {std::string(kAwsSigningProfileArn)}};
    TG_RETURN_IF_ERROR(
        WriteFile(options_.out / "plugin-revocation.txt", base::Bytes()));
  } else {
    TG_ASSIGN_OR_RETURN(
        team, MakeTeam("bench", StoreType::kCa, KeyType::kEc384, "bench"));
    for (int64_t i = 0; i < options_.leaves; ++i) {
      TG_ASSIGN_OR_RETURN(const Credential* leaf,
                          AddTeamLeaf(*team, options_.key));
      leaves.push_back(leaf);
    }
  }
  const int width = repo_count >= 10000 ? 5 : 4;
  base::Bytes layer;
  int64_t done = 0;
  for (int64_t r = 0; r < repo_count; ++r) {
    std::string number = std::to_string(r);
    number.insert(0,
                  static_cast<size_t>(std::max<int>(
                      0, width - static_cast<int>(number.size()))),
                  '0');
    const std::string path = "bench/service-" + number;
    statement.scopes.push_back(RepoUri(path));
    TG_ASSIGN_OR_RETURN(Repo * repo, OpenRepo(path));
    const int64_t first = r * n / repo_count;
    const int64_t last = (r + 1) * n / repo_count;
    for (int64_t i = first; i < last; ++i) {
      // Per-image content: its own stream, so images are distinct.
      FastStream content(options_.seed,
                         0x62656e6368ULL + static_cast<uint64_t>(i));
      std::vector<Descriptor> layers;
      nlohmann::json diff_ids = nlohmann::json::array();
      for (int64_t l = 0; l < options_.layers; ++l) {
        layer.resize(static_cast<size_t>(options_.layer_size));
        content.Fill(layer.data(), layer.size());
        TG_ASSIGN_OR_RETURN(Descriptor d,
                            repo->layout->WriteBlob(kMediaTypeLayer, layer));
        diff_ids.push_back(d.digest);
        layers.push_back(std::move(d));
      }
      nlohmann::json config = nlohmann::json::object();
      config["architecture"] = "amd64";
      config["os"] = "linux";
      config["config"]["Labels"]["org.example.build"] = std::to_string(i);
      config["rootfs"]["type"] = "layers";
      config["rootfs"]["diff_ids"] = std::move(diff_ids);
      ImageManifest manifest;
      TG_ASSIGN_OR_RETURN(manifest.config, repo->layout->WriteBlob(
                                               kMediaTypeImageConfig,
                                               base::AsBytes(config.dump())));
      manifest.layers = std::move(layers);
      manifest.annotations[std::string(kAnnotationCreated)] =
          Rfc3339(now() - kDay);
      TG_ASSIGN_OR_RETURN(
          Descriptor image,
          repo->layout->WriteBlob(kMediaTypeImageManifest,
                                  base::AsBytes(ManifestJson(manifest))));
      const std::string tag = "build-" + std::to_string(i);
      AddTagged(*repo, image, tag);
      EnvelopeFormat format = EnvelopeFormat::kJws;
      if (options_.envelope == EnvelopeChoice::kCose ||
          (options_.envelope == EnvelopeChoice::kMixed && i % 2 == 1)) {
        format = EnvelopeFormat::kCose;
      }
      const Credential* leaf = leaves[static_cast<size_t>(i) % leaves.size()];
      const std::string label = "bench:" + std::to_string(i);
      if (aws) {
        TG_RETURN_IF_ERROR(WriteSignature(
            *repo, image,
            AwsRequest(format, image, std::string(kAwsSigningProfileArn),
                       AwsJobArn(label)),
            AwsSignerOf(aws_pki, leaf), label));
      } else {
        TG_RETURN_IF_ERROR(WriteSignature(*repo, image,
                                          DefaultRequest(format, image),
                                          SignerOf(*team, leaf), label));
      }
      Expect(*repo, image, tag, "good", "verified", "ok");
      ++done;
      if (options_.progress != nullptr && done % 10000 == 0) {
        *options_.progress << "mkmirror: " << done << "/" << n
                           << " artifacts\n";
        options_.progress->flush();
      }
    }
    TG_RETURN_IF_ERROR(FinishRepo(*repo));
  }
  statements_.push_back(std::move(statement));
  return base::Ok{};
}

}  // namespace

std::string_view ToString(Preset preset) {
  switch (preset) {
    case Preset::kTest:
      return "test";
    case Preset::kDemo:
      return "demo";
    case Preset::kBench:
      return "bench";
  }
  return "unknown";
}

std::optional<Preset> PresetFromName(std::string_view name) {
  for (Preset p : {Preset::kTest, Preset::kDemo, Preset::kBench}) {
    if (ToString(p) == name) {
      return p;
    }
  }
  return std::nullopt;
}

std::string_view ToString(EnvelopeChoice choice) {
  switch (choice) {
    case EnvelopeChoice::kJws:
      return "jws";
    case EnvelopeChoice::kCose:
      return "cose";
    case EnvelopeChoice::kMixed:
      return "mixed";
  }
  return "unknown";
}

std::optional<EnvelopeChoice> EnvelopeChoiceFromName(std::string_view name) {
  for (EnvelopeChoice c :
       {EnvelopeChoice::kJws, EnvelopeChoice::kCose, EnvelopeChoice::kMixed}) {
    if (ToString(c) == name) {
      return c;
    }
  }
  return std::nullopt;
}

base::Result<Summary, MkError> Generate(const Options& options) {
  if (options.out.empty()) {
    return base::MakeError(MkError::kUsage, "--out is required");
  }
  if (options.artifacts < 1 || options.repos < 0 || options.leaves < 1 ||
      options.layers < 0 || options.layer_size < 0 ||
      options.layer_size > (int64_t{1} << 30)) {
    return base::MakeError(MkError::kUsage,
                           "--artifacts and --leaves must be at least 1; "
                           "--repos, --layers and --layer-size not negative "
                           "(layer size at most 1 GiB)");
  }
  const std::optional<std::string> revocation_url =
      NormalizeRevocationUrl(options.revocation_url);
  if (!revocation_url) {
    return base::MakeError(
        MkError::kUsage,
        "--revocation-url must be an http URL with a host and an optional "
        "path, without query, fragment, escapes or spaces, such as "
        "http://127.0.0.1:8080/revocation; got \"" +
            options.revocation_url + "\"");
  }
  Options normalized = options;
  normalized.revocation_url = *revocation_url;
  Generator generator(normalized);
  return generator.Run();
}

std::optional<SignerStyle> SignerStyleFromName(std::string_view name) {
  if (name == "notation") {
    return SignerStyle::kNotation;
  }
  if (name == "aws") {
    return SignerStyle::kAwsSigner;
  }
  return std::nullopt;
}

std::vector<ExpectedCase> TestPresetCases() {
  std::vector<ExpectedCase> out;
  for (const ExpectedCase& c : kTestCases) {
    out.push_back(*FindTestCase(c.name));
  }
  return out;
}

}  // namespace trustgate::mkmirror
