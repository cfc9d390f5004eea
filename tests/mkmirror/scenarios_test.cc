#include "tools/mkmirror/scenarios.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/mkmirror/envelope_check.h"
#include "tests/mkmirror/temp_dir.h"
#include "tools/mkmirror/drbg.h"
#include "tools/mkmirror/util.h"

namespace trustgate::mkmirror {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::TempDir;

constexpr int64_t kNow = kDefaultNowUnix;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Json ParseOrNull(const std::string& text) {
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::vector<Json> ReadExpected(const fs::path& out) {
  std::vector<Json> lines;
  std::ifstream in(out / "expected.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(ParseOrNull(line));
  }
  return lines;
}

fs::path RepoDir(const fs::path& out, const std::string& uri) {
  return out / "mirror" / uri;
}

fs::path BlobFile(const fs::path& repo, const std::string& digest) {
  return repo / "blobs" / digest.substr(0, digest.find(':')) /
         digest.substr(digest.find(':') + 1);
}

// Signature is one signature manifest of an artifact.
struct Signature {
  Json manifest;
  std::vector<testing::CheckedEnvelope> envelopes;  // one per layer
  std::vector<std::string> layer_types;
};

std::vector<Signature> SignaturesOf(const fs::path& repo,
                                    const std::string& digest) {
  std::vector<Signature> out;
  const Json index = ParseOrNull(Slurp(repo / "index.json"));
  for (const Json& entry : index["manifests"]) {
    if (entry.value("artifactType", "") !=
        "application/vnd.cncf.notary.signature") {
      continue;
    }
    Signature s;
    s.manifest =
        ParseOrNull(Slurp(BlobFile(repo, entry["digest"].get<std::string>())));
    if (s.manifest["subject"]["digest"] != digest) {
      continue;
    }
    for (const Json& layer : s.manifest["layers"]) {
      const std::string bytes =
          Slurp(BlobFile(repo, layer["digest"].get<std::string>()));
      s.layer_types.push_back(layer["mediaType"].get<std::string>());
      s.envelopes.push_back(
          testing::CheckEnvelope(s.layer_types.back(), base::AsBytes(bytes)));
    }
    out.push_back(std::move(s));
  }
  return out;
}

// IntegrityOk is a reference check of everything Notation's integrity
// step covers: manifest shape, envelope structure and signature, algorithm
// against key, no unknown critical attribute, leaf key usage, payload
// target equal to the artifact's descriptor.
bool IntegrityOk(const Signature& s, const Json& artifact_descriptor) {
  if (s.manifest["artifactType"] != "application/vnd.cncf.notary.signature" ||
      s.manifest["config"]["mediaType"] !=
          "application/vnd.oci.empty.v1+json" ||
      s.envelopes.size() != 1) {
    return false;
  }
  const testing::CheckedEnvelope& e = s.envelopes[0];
  if (!e.parsed || !e.signature_valid || !e.other_protected.empty() ||
      !testing::KeyMatchesAlg(e.chain[0], e.alg) ||
      !testing::LeafUsageOk(e.chain[0]) ||
      e.content_type != "application/vnd.cncf.notary.payload.v1+json") {
    return false;
  }
  const Json payload = ParseOrNull(e.payload);
  const Json& target = payload["targetArtifact"];
  return target["mediaType"] == artifact_descriptor["mediaType"] &&
         target["digest"] == artifact_descriptor["digest"] &&
         target["size"] == artifact_descriptor["size"];
}

// ChainTrusted verifies the envelope's chain with OpenSSL against the PEM
// roots in `store_dir`, at `at`.
bool ChainTrusted(const testing::CheckedEnvelope& e, const fs::path& store_dir,
                  int64_t at) {
  X509_STORE* store = X509_STORE_new();
  for (const auto& entry : fs::directory_iterator(store_dir)) {
    FILE* f = fopen(entry.path().c_str(), "r");
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    fclose(f);
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
  }
  std::vector<X509*> certs;
  for (const base::Bytes& der : e.chain) {
    const unsigned char* p = der.data();
    certs.push_back(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < certs.size(); ++i) {
    sk_X509_push(untrusted, certs[i]);
  }
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, certs[0], untrusted);
  X509_STORE_CTX_set_time(ctx, 0, static_cast<time_t>(at));
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  for (X509* c : certs) {
    X509_free(c);
  }
  X509_STORE_free(store);
  return ok;
}

std::string LeafSubject(const base::Bytes& der) {
  const unsigned char* p = der.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  X509_free(cert);
  return buf;
}

Json DescriptorOf(const fs::path& repo, const std::string& digest) {
  const Json index = ParseOrNull(Slurp(repo / "index.json"));
  for (const Json& entry : index["manifests"]) {
    if (entry["digest"] == digest) {
      return entry;
    }
  }
  return Json();
}

Options TestOptions(const fs::path& out, uint64_t seed = 1) {
  Options o;
  o.out = out;
  o.preset = Preset::kTest;
  o.seed = seed;
  return o;
}

class TestPreset : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto summary = Generate(TestOptions(dir_->path()));
    ASSERT_TRUE(summary.ok()) << summary.detail();
    summary_ = *summary;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static const fs::path& out() { return dir_->path(); }

  static TempDir* dir_;
  static Summary summary_;
};
TempDir* TestPreset::dir_ = nullptr;
Summary TestPreset::summary_;

TEST_F(TestPreset, ExpectedListsEveryCaseOnce) {
  const std::vector<Json> lines = ReadExpected(out());
  const std::vector<ExpectedCase> cases = TestPresetCases();
  ASSERT_EQ(lines.size(), cases.size());
  EXPECT_EQ(summary_.artifacts, static_cast<int64_t>(cases.size()));
  std::set<std::string> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    const Json& l = lines[i];
    ASSERT_TRUE(l.is_object());
    EXPECT_EQ(l["case"], cases[i].name);
    EXPECT_EQ(l["verdict"], cases[i].verdict);
    EXPECT_EQ(l["reason"], cases[i].reason);
    EXPECT_EQ(l["tag"], cases[i].name);
    EXPECT_TRUE(seen.insert(cases[i].name).second);
    // Listed in its repository's index.json under that tag.
    const fs::path repo = RepoDir(out(), l["repository"]);
    const Json d = DescriptorOf(repo, l["digest"]);
    ASSERT_TRUE(d.is_object()) << cases[i].name;
    EXPECT_EQ(d["annotations"]["org.opencontainers.image.ref.name"],
              cases[i].name);
  }
  // The brief's case list, each present with its verdict.
  const std::map<std::string, std::string> kRequired = {
      {"good-jws-es256", "ok"},
      {"good-jws-es384", "ok"},
      {"good-jws-es521", "ok"},
      {"good-jws-ps256", "ok"},
      {"good-jws-ps384", "ok"},
      {"good-jws-ps512", "ok"},
      {"good-cose-es256", "ok"},
      {"good-cose-es384", "ok"},
      {"good-cose-es521", "ok"},
      {"good-cose-ps256", "ok"},
      {"good-cose-ps384", "ok"},
      {"good-cose-ps512", "ok"},
      {"good-signing-authority-jws", "ok"},
      {"good-signing-authority-cose", "ok"},
      {"good-index", "ok"},
      {"good-future-expiry", "ok"},
      {"good-multi-sig", "ok"},
      {"good-sha512-layer", "ok"},
      {"unsigned", "unsigned"},
      {"bad-tampered-payload", "integrity"},
      {"bad-corrupted-signature", "integrity"},
      {"bad-wrong-chain", "authenticity"},
      {"bad-identity", "trusted-identity"},
      {"bad-expired-cert", "authentic-timestamp"},
      {"bad-expired-signature", "expiry"},
      {"bad-unknown-critical", "integrity"},
      {"bad-key-usage", "integrity"},
      {"bad-rsa1024", "integrity"},
      {"bad-target-mismatch", "integrity"},
      {"bad-target-size", "integrity"},
      {"bad-two-layers", "integrity"},
      {"bad-envelope-garbage", "integrity"},
      {"bad-blob-tampered", "blob-integrity"},
      {"bad-blob-missing", "blob-missing"},
      {"bad-manifest-tampered", "manifest-integrity"},
      {"bad-malformed-manifest", "malformed"},
      {"many-signatures", "integrity"},
      {"no-policy", "no-policy"},
  };
  for (const auto& [name, reason] : kRequired) {
    bool found = false;
    for (const Json& l : lines) {
      if (l["case"] == name) {
        found = true;
        EXPECT_EQ(l["reason"], reason) << name;
        EXPECT_EQ(l["verdict"], reason == "ok" ? "verified" : "failed") << name;
      }
    }
    EXPECT_TRUE(found) << name;
  }
}

TEST_F(TestPreset, SignaturesMatchTheirExpectations) {
  std::map<std::string, fs::path> stores = {
      {"registry.example.com/payments/api",
       out() / "config/truststore/x509/ca/payments"},
      {"registry.example.com/payments/storage",
       out() / "config/truststore/x509/ca/payments"},
      {"registry.example.com/platform/base",
       out() / "config/truststore/x509/ca/platform"},
      {"registry.example.com/web/frontend",
       out() / "config/truststore/x509/signingAuthority/web"},
      {"registry.example.com/orphans/app",
       out() / "config/truststore/x509/ca/payments"},
  };
  for (const Json& l : ReadExpected(out())) {
    const std::string name = l["case"];
    const std::string reason = l["reason"];
    const fs::path repo = RepoDir(out(), l["repository"]);
    const Json descriptor = DescriptorOf(repo, l["digest"]);
    const std::vector<Signature> sigs = SignaturesOf(repo, l["digest"]);
    int integrity_ok = 0;
    int trusted = 0;
    std::string subject;
    for (const Signature& s : sigs) {
      // Notation's signature manifest shape.
      EXPECT_EQ(s.manifest["subject"]["mediaType"], descriptor["mediaType"]);
      EXPECT_EQ(s.manifest["subject"]["size"], descriptor["size"]);
      EXPECT_EQ(s.manifest["config"]["digest"],
                "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060"
                "f61caaff8a");
      EXPECT_TRUE(s.manifest["annotations"].contains(
          "org.opencontainers.image.created"));
      if (IntegrityOk(s, descriptor)) {
        ++integrity_ok;
        subject = LeafSubject(s.envelopes[0].chain[0]);
        if (ChainTrusted(s.envelopes[0], stores[l["repository"]], kNow)) {
          ++trusted;
        }
      }
    }
    if (reason == "unsigned") {
      EXPECT_TRUE(sigs.empty()) << name;
      continue;
    }
    ASSERT_FALSE(sigs.empty()) << name;
    if (reason == "integrity") {
      EXPECT_EQ(integrity_ok, 0) << name;
    } else if (reason == "blob-integrity" || reason == "blob-missing" ||
               reason == "manifest-integrity" || reason == "malformed") {
      EXPECT_EQ(integrity_ok, 1) << name;  // the signature is fine
    } else {
      EXPECT_GE(integrity_ok, 1) << name;
    }
    if (reason == "ok") {
      EXPECT_GE(trusted, 1) << name;
      EXPECT_NE(
          subject.find(
              "OU=" +
              l["repository"].get<std::string>().substr(
                  21, l["repository"].get<std::string>().find('/', 21) - 21)),
          std::string::npos)
          << name << " " << subject;
    }
    if (reason == "authenticity") {
      EXPECT_EQ(trusted, 0) << name;
    }
    if (reason == "trusted-identity") {
      EXPECT_EQ(trusted, 1) << name;
      EXPECT_EQ(subject.find("OU=payments"), std::string::npos) << subject;
    }
    if (reason == "authentic-timestamp") {
      EXPECT_EQ(trusted, 0) << name;  // expired at now
      EXPECT_TRUE(ChainTrusted(SignaturesOf(repo, l["digest"])[0].envelopes[0],
                               stores[l["repository"]], kNow - 60 * 86400))
          << name;
    }
    if (reason == "expiry") {
      EXPECT_EQ(trusted, 1) << name;
      EXPECT_LE(sigs[0].envelopes[0].expiry.value_or(kNow + 1), kNow);
    }
    if (name == "many-signatures") {
      EXPECT_EQ(sigs.size(), 150u);
    }
    if (name == "good-multi-sig") {
      EXPECT_EQ(sigs.size(), 2u);
      EXPECT_EQ(integrity_ok, 1);
    }
    if (name == "good-future-expiry") {
      EXPECT_GT(sigs[0].envelopes[0].expiry.value_or(0), kNow);
    }
    if (name.starts_with("good-signing-authority")) {
      EXPECT_EQ(sigs[0].envelopes[0].signing_scheme,
                "notary.x509.signingAuthority");
      EXPECT_TRUE(sigs[0].envelopes[0].authentic_signing_time.has_value());
    }
    if (name == "good-index") {
      EXPECT_EQ(descriptor["mediaType"],
                "application/vnd.oci.image.index.v1+json");
    }
    if (name.find("cose") != std::string::npos && sigs.size() == 1) {
      EXPECT_EQ(sigs[0].layer_types[0], "application/cose") << name;
    }
  }
}

// Every blob is named by its digest, except the ones broken on purpose.
TEST_F(TestPreset, BlobsMatchTheirDigests) {
  std::set<std::string> broken;  // digests whose file must not match
  std::string missing;
  for (const Json& l : ReadExpected(out())) {
    const fs::path repo = RepoDir(out(), l["repository"]);
    if (l["case"] == "bad-manifest-tampered") {
      broken.insert(l["digest"]);
    }
    if (l["case"] == "bad-blob-tampered" || l["case"] == "bad-blob-missing") {
      // The manifest is intact; its first layer is not.
      const Json m = ParseOrNull(Slurp(BlobFile(repo, l["digest"])));
      ASSERT_TRUE(m.is_object());
      const std::string layer = m["layers"][0]["digest"];
      if (l["case"] == "bad-blob-missing") {
        missing = layer;
        EXPECT_FALSE(fs::exists(BlobFile(repo, layer)));
      } else {
        broken.insert(layer);
      }
    }
    if (l["case"] == "bad-malformed-manifest") {
      EXPECT_FALSE(ParseOrNull(Slurp(BlobFile(repo, l["digest"]))).is_object());
    }
    if (l["case"] == "good-sha512-layer") {
      const Json m = ParseOrNull(Slurp(BlobFile(repo, l["digest"])));
      EXPECT_EQ(m["layers"][0]["digest"].get<std::string>().substr(0, 7),
                "sha512:");
    }
  }
  ASSERT_EQ(broken.size(), 2u);
  ASSERT_FALSE(missing.empty());
  int checked = 0;
  int mismatched = 0;
  for (const auto& entry : fs::recursive_directory_iterator(out() / "mirror")) {
    const fs::path& p = entry.path();
    if (!entry.is_regular_file() ||
        p.parent_path().parent_path().filename() != "blobs") {
      continue;
    }
    const std::string alg = p.parent_path().filename();
    const std::string digest = alg + ":" + p.filename().string();
    const std::string content = Slurp(p);
    const std::string actual = OciDigest(
        alg == "sha256" ? HashAlgorithm::kSha256 : HashAlgorithm::kSha512,
        base::AsBytes(content));
    ++checked;
    if (broken.count(digest) != 0) {
      EXPECT_NE(actual, digest);
      ++mismatched;
    } else {
      EXPECT_EQ(actual, digest) << p;
    }
  }
  EXPECT_EQ(mismatched, 2);
  EXPECT_GT(checked, 300);
}

TEST_F(TestPreset, ConfigIsANotationConfigDir) {
  const Json policy =
      ParseOrNull(Slurp(out() / "config" / "trustpolicy.oci.json"));
  ASSERT_TRUE(policy.is_object());
  EXPECT_EQ(policy["version"], "1.0");
  std::set<std::string> scopes;
  for (const Json& s : policy["trustPolicies"]) {
    EXPECT_EQ(s["signatureVerification"]["level"], "strict");
    for (const Json& scope : s["registryScopes"]) {
      EXPECT_NE(scope, "*");
      EXPECT_TRUE(scopes.insert(scope.get<std::string>()).second);
    }
    const std::string store = s["trustStores"][0];
    const std::string type = store.substr(0, store.find(':'));
    const std::string name = store.substr(store.find(':') + 1);
    EXPECT_TRUE(
        fs::is_directory(out() / "config/truststore/x509" / type / name))
        << store;
    for (const Json& id : s["trustedIdentities"]) {
      EXPECT_EQ(id.get<std::string>().rfind("x509.subject: C=US, ST=WA, O=", 0),
                0u);
    }
  }
  EXPECT_EQ(scopes.count("registry.example.com/orphans/app"), 0u);
  EXPECT_EQ(scopes.count("registry.example.com/payments/api"), 1u);
}

TEST_F(TestPreset, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir again;
  ASSERT_TRUE(Generate(TestOptions(again.path())).ok());
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(out())) {
    if (entry.is_regular_file()) {
      files.push_back(fs::relative(entry.path(), out()));
    }
  }
  size_t other_count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(again.path())) {
    other_count += entry.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(files.size(), other_count);
  for (const fs::path& f : files) {
    EXPECT_EQ(Slurp(out() / f), Slurp(again.path() / f)) << f;
  }

  TempDir other;
  ASSERT_TRUE(Generate(TestOptions(other.path(), 2)).ok());
  EXPECT_NE(Slurp(out() / "expected.jsonl"),
            Slurp(other.path() / "expected.jsonl"));
  EXPECT_NE(
      Slurp(out() / "config/truststore/x509/ca/payments/payments-root-ca.pem"),
      Slurp(other.path() /
            "config/truststore/x509/ca/payments/payments-root-ca.pem"));
}

TEST_F(TestPreset, LeavesOpenSslRngAlone) {
  EXPECT_FALSE(DeterministicRngInstalled());
}

TEST_F(TestPreset, RefusesToOverwrite) {
  auto again = Generate(TestOptions(out()));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.code(), MkError::kUsage);
}

TEST(DemoPreset, MostlyGoodWithThreeQuarantineFailures) {
  TempDir dir;
  Options o;
  o.out = dir.path();
  o.preset = Preset::kDemo;
  auto summary = Generate(o);
  ASSERT_TRUE(summary.ok()) << summary.detail();
  EXPECT_EQ(summary->repositories, 10);
  const std::vector<Json> lines = ReadExpected(dir.path());
  EXPECT_EQ(lines.size(), 40u);
  int failed = 0;
  std::set<std::string> envelope_types;
  for (const Json& l : lines) {
    const fs::path repo = RepoDir(dir.path(), l["repository"]);
    const Json descriptor = DescriptorOf(repo, l["digest"]);
    if (l["verdict"] == "failed") {
      ++failed;
      EXPECT_EQ(l["repository"], "registry.example.com/quarantine/imports");
      continue;
    }
    const auto sigs = SignaturesOf(repo, l["digest"]);
    ASSERT_EQ(sigs.size(), 1u);
    EXPECT_TRUE(IntegrityOk(sigs[0], descriptor)) << l.dump();
    envelope_types.insert(sigs[0].layer_types[0]);
  }
  EXPECT_EQ(failed, 3);
  EXPECT_EQ(envelope_types.size(), 2u);  // JWS and COSE
}

TEST(BenchPreset, SmallRun) {
  TempDir dir;
  Options o;
  o.out = dir.path();
  o.preset = Preset::kBench;
  o.artifacts = 30;
  o.repos = 3;
  o.key = KeyType::kEc384;
  o.leaves = 2;
  o.envelope = EnvelopeChoice::kMixed;
  o.layers = 2;
  o.layer_size = 100;
  auto summary = Generate(o);
  ASSERT_TRUE(summary.ok()) << summary.detail();
  EXPECT_EQ(summary->repositories, 3);
  EXPECT_EQ(summary->signatures, 30);
  const std::vector<Json> lines = ReadExpected(dir.path());
  ASSERT_EQ(lines.size(), 30u);
  std::set<std::string> leaves, digests, formats;
  for (const Json& l : lines) {
    EXPECT_EQ(l["verdict"], "verified");
    const fs::path repo = RepoDir(dir.path(), l["repository"]);
    const Json descriptor = DescriptorOf(repo, l["digest"]);
    const Json m = ParseOrNull(Slurp(BlobFile(repo, l["digest"])));
    ASSERT_EQ(m["layers"].size(), 2u);
    EXPECT_EQ(m["layers"][0]["size"], 100);
    const auto sigs = SignaturesOf(repo, l["digest"]);
    ASSERT_EQ(sigs.size(), 1u);
    ASSERT_TRUE(IntegrityOk(sigs[0], descriptor)) << l.dump();
    EXPECT_EQ(sigs[0].envelopes[0].alg, "ES384");
    EXPECT_TRUE(ChainTrusted(sigs[0].envelopes[0],
                             dir.path() / "config/truststore/x509/ca/bench",
                             kNow));
    leaves.insert(std::string(sigs[0].envelopes[0].chain[0].begin(),
                              sigs[0].envelopes[0].chain[0].end()));
    digests.insert(l["digest"]);
    formats.insert(sigs[0].layer_types[0]);
  }
  EXPECT_EQ(leaves.size(), 2u);
  EXPECT_EQ(digests.size(), 30u);
  EXPECT_EQ(formats.size(), 2u);
}

TEST(Generate, RejectsBadOptions) {
  TempDir dir;
  Options o;
  o.out = dir.path();
  o.preset = Preset::kBench;
  o.artifacts = 0;
  auto r = Generate(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), MkError::kUsage);
  o.out.clear();
  EXPECT_FALSE(Generate(o).ok());
}

TEST(Generate, Names) {
  EXPECT_EQ(PresetFromName("bench"), Preset::kBench);
  EXPECT_EQ(PresetFromName("x"), std::nullopt);
  EXPECT_EQ(EnvelopeChoiceFromName("mixed"), EnvelopeChoice::kMixed);
  EXPECT_EQ(ToString(Preset::kDemo), "demo");
}

}  // namespace
}  // namespace trustgate::mkmirror
