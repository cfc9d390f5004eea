#include "tools/mkmirror/scenarios.h"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
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

std::vector<Json> ReadExpected(const fs::path& out,
                               const char* file = "expected.jsonl") {
  std::vector<Json> lines;
  std::ifstream in(out / file);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(ParseOrNull(line));
  }
  return lines;
}

X509* ReadPem(const fs::path& file) {
  FILE* f = fopen(file.c_str(), "r");
  if (f == nullptr) {
    return nullptr;
  }
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  return cert;
}

X509* FromDer(const base::Bytes& der) {
  const unsigned char* p = der.data();
  return d2i_X509(nullptr, &p, static_cast<long>(der.size()));
}

// UrisOf returns the URIs of `cert`'s CRL distribution points (kind
// NID_crl_distribution_points) or OCSP responders (NID_info_access).
std::vector<std::string> UrisOf(X509* cert, int nid) {
  std::vector<std::string> out;
  auto uri = [&](const GENERAL_NAME* name) {
    if (name->type == GEN_URI) {
      const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       ASN1_STRING_length(s));
    }
  };
  if (nid == NID_crl_distribution_points) {
    auto* points = static_cast<CRL_DIST_POINTS*>(
        X509_get_ext_d2i(cert, nid, nullptr, nullptr));
    for (int i = 0; i < sk_DIST_POINT_num(points); ++i) {
      const DIST_POINT* dp = sk_DIST_POINT_value(points, i);
      if (dp->distpoint != nullptr && dp->distpoint->type == 0) {
        for (int j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname);
             ++j) {
          uri(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j));
        }
      }
    }
    CRL_DIST_POINTS_free(points);
  } else {
    auto* info = static_cast<AUTHORITY_INFO_ACCESS*>(
        X509_get_ext_d2i(cert, nid, nullptr, nullptr));
    for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(info); ++i) {
      const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(info, i);
      if (OBJ_obj2nid(ad->method) == NID_ad_OCSP) {
        uri(ad->location);
      }
    }
    AUTHORITY_INFO_ACCESS_free(info);
  }
  return out;
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
  // Attributes we do not know are for the verification plugin the
  // envelope names, if any (signature-specification.md).
  const bool names_plugin =
      std::find(e.crit.begin(), e.crit.end(),
                "io.cncf.notary.verificationPlugin") != e.crit.end();
  if (!e.parsed || !e.signature_valid ||
      (!e.other_protected.empty() && !names_plugin) ||
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
      {"ts-expired-cert-rescued", "ok"},
      {"ts-after-expiry-rescued", "ok"},
      {"ts-valid-cert-after-expiry-policy", "ok"},
      {"ts-missing", "authentic-timestamp"},
      {"ts-untrusted-tsa", "authentic-timestamp"},
      {"ts-outside-validity", "authentic-timestamp"},
      {"ts-garbage-token", "authentic-timestamp"},
      {"ts-revoked-tsa", "authentic-timestamp"},
      {"crl-good", "ok"},
      {"crl-revoked", "revocation"},
      {"crl-hold", "revocation"},
      {"crl-delta-revoked", "revocation"},
      {"crl-expired", "revocation"},
      {"crl-wrong-issuer", "revocation"},
      {"ocsp-good", "ok"},
      {"ocsp-revoked", "revocation"},
      {"ocsp-unknown-fallback-crl-good", "ok"},
      {"intermediate-revoked", "revocation"},
      {"sa-revoked-after-signing", "ok"},
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

// expected-offline.jsonl lists the same artifacts in the same order; only
// the cases that depend on revocation data differ, and they fail.
TEST_F(TestPreset, OfflineExpectationsMirrorTheOnlineOnes) {
  const std::vector<Json> online = ReadExpected(out());
  const std::vector<Json> offline =
      ReadExpected(out(), "expected-offline.jsonl");
  const std::vector<ExpectedCase> cases = TestPresetCases();
  ASSERT_EQ(offline.size(), online.size());
  ASSERT_EQ(offline.size(), cases.size());
  const std::set<std::string> kDiffer = {
      "ts-after-expiry-rescued", "crl-good", "ocsp-good",
      "ocsp-unknown-fallback-crl-good", "sa-revoked-after-signing"};
  for (size_t i = 0; i < online.size(); ++i) {
    for (const char* key : {"repository", "digest", "tag", "case"}) {
      EXPECT_EQ(offline[i][key], online[i][key]) << i;
    }
    const std::string name = cases[i].name;
    EXPECT_EQ(offline[i]["verdict"], cases[i].offline_verdict) << name;
    EXPECT_EQ(offline[i]["reason"], cases[i].offline_reason) << name;
    if (kDiffer.count(name) != 0) {
      EXPECT_EQ(online[i]["verdict"], "verified") << name;
      EXPECT_EQ(offline[i]["verdict"], "failed") << name;
      EXPECT_EQ(offline[i]["reason"],
                name.starts_with("ts-") ? "authentic-timestamp" : "revocation")
          << name;
    } else {
      EXPECT_EQ(offline[i], online[i]) << name;
    }
  }
}

// The aws/app cases are shaped as AWS Signer signs: ES384, the
// signingAuthority scheme with authentic signing time and expiry, the
// plugin attribute and the AWS attributes (critical, ARNs), a chain of
// four with a leaf valid for three days; expected-plugin.jsonl differs from
// expected.jsonl exactly in them.
TEST_F(TestPreset, AwsSignerCasesLookLikeAwsSigner) {
  const std::vector<Json> plain = ReadExpected(out());
  const std::vector<Json> with_plugin =
      ReadExpected(out(), "expected-plugin.jsonl");
  const std::vector<ExpectedCase> cases = TestPresetCases();
  ASSERT_EQ(with_plugin.size(), plain.size());
  int aws = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    const std::string name = plain[i]["case"];
    EXPECT_EQ(with_plugin[i]["verdict"], cases[i].plugin_verdict) << name;
    EXPECT_EQ(with_plugin[i]["reason"], cases[i].plugin_reason) << name;
    if (!name.starts_with("aws-")) {
      EXPECT_EQ(with_plugin[i], plain[i]) << name;
      continue;
    }
    ++aws;
    EXPECT_EQ(plain[i]["reason"], "plugin") << name;
    const fs::path repo = RepoDir(out(), plain[i]["repository"]);
    const std::vector<Signature> sigs = SignaturesOf(repo, plain[i]["digest"]);
    ASSERT_EQ(sigs.size(), 1u) << name;
    const testing::CheckedEnvelope& e = sigs[0].envelopes[0];
    EXPECT_TRUE(e.signature_valid) << name;
    EXPECT_EQ(e.alg, "ES384") << name;
    EXPECT_EQ(e.signing_scheme, "notary.x509.signingAuthority") << name;
    EXPECT_TRUE(e.authentic_signing_time.has_value()) << name;
    EXPECT_TRUE(e.expiry.has_value()) << name;
    for (const char* attribute : {"io.cncf.notary.verificationPlugin",
                                  "com.amazonaws.signer.signingProfileVersion",
                                  "com.amazonaws.signer.signingJob"}) {
      EXPECT_NE(std::find(e.crit.begin(), e.crit.end(), attribute),
                e.crit.end())
          << name << " " << attribute;
    }
    ASSERT_EQ(e.chain.size(), 4u) << name;
    const unsigned char* p = e.chain[0].data();
    X509* leaf = d2i_X509(nullptr, &p, static_cast<long>(e.chain[0].size()));
    ASSERT_NE(leaf, nullptr);
    int days = 0;
    int seconds = 0;
    ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(leaf),
                             X509_get0_notAfter(leaf)),
              1);
    EXPECT_EQ(days, 3) << name;
    X509_free(leaf);
  }
  EXPECT_EQ(aws, 8);
  const std::string fixture = Slurp(out() / "plugin-revocation.txt");
  EXPECT_NE(
      fixture.find("arn:aws:signer:us-west-2:123456789012:/signing-jobs/"),
      std::string::npos);
  EXPECT_NE(fixture.find("unknown arn:aws:signer:"), std::string::npos);
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
      {"registry.example.com/aws/app",
       out() / "config/truststore/x509/signingAuthority/aws-signer"},
      {"registry.example.com/orphans/app",
       out() / "config/truststore/x509/ca/payments"},
      {"registry.example.com/releases/timestamped",
       out() / "config/truststore/x509/ca/releases"},
      {"registry.example.com/releases/legacy",
       out() / "config/truststore/x509/ca/releases"},
      {"registry.example.com/releases/app",
       out() / "config/truststore/x509/ca/releases"},
      {"registry.example.com/vendor/agent",
       out() / "config/truststore/x509/signingAuthority/vendor"},
  };
  // The rescued signatures' leaves expired: their chains are checked at
  // their signing time instead.
  const std::map<std::string, int64_t> kCheckedAt = {
      {"ts-expired-cert-rescued", kNow - 60 * 86400},
      {"ts-after-expiry-rescued", kNow - 45 * 86400},
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
        const int64_t at =
            kCheckedAt.count(name) != 0 ? kCheckedAt.at(name) : kNow;
        if (ChainTrusted(s.envelopes[0], stores[l["repository"]], at)) {
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
    if (reason == "revocation") {
      EXPECT_EQ(trusted, 1) << name;  // only revocation is wrong
    }
    // Timestamp tokens: present and DER where a case needs one.
    const std::optional<base::Bytes>& token =
        sigs[0].envelopes[0].timestamp_token;
    if (name == "ts-missing" || name == "ts-valid-cert-after-expiry-policy" ||
        !name.starts_with("ts-")) {
      EXPECT_FALSE(token.has_value()) << name;
    } else {
      ASSERT_TRUE(token.has_value()) << name;
      EXPECT_FALSE(sigs[0].envelopes[0].timestamp_malformed) << name;
      EXPECT_EQ(token->empty() ? 0 : (*token)[0],
                name == "ts-garbage-token" ? 't' : 0x30)
          << name;
    }
    if (reason == "authentic-timestamp" && name == "bad-expired-cert") {
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

// Every CRL and OCSP response in OUT/revocation parses with OpenSSL and
// verifies with its issuer's key (except the forged CRL, which must not);
// every CRL and OCSP URL the certificates name below the revocation URL has
// its file; every timestamp token verifies with OpenSSL's own RFC 3161
// verifier against the tsa store (except the untrusted and garbage ones).
TEST_F(TestPreset, RevocationDataAndTokensVerifyWithTheirIssuers) {
  const std::string base = std::string(kDefaultRevocationUrl) + "/";
  // Every certificate of the new cases' envelopes and tokens, by subject.
  std::vector<X509*> certs;
  std::map<std::string, const testing::CheckedEnvelope*> envelopes;
  std::vector<std::vector<Signature>> keep;
  for (const Json& l : ReadExpected(out())) {
    const std::string repo = l["repository"];
    if (repo.find("/releases/") == std::string::npos &&
        repo.find("/vendor/") == std::string::npos) {
      continue;
    }
    keep.push_back(SignaturesOf(RepoDir(out(), repo), l["digest"]));
    ASSERT_EQ(keep.back().size(), 1u) << l["case"];
    const testing::CheckedEnvelope& e = keep.back()[0].envelopes[0];
    envelopes[l["case"]] = &e;
    for (const base::Bytes& der : e.chain) {
      certs.push_back(FromDer(der));
    }
    if (e.timestamp_token && !e.timestamp_token->empty() &&
        (*e.timestamp_token)[0] == 0x30) {
      const unsigned char* p = e.timestamp_token->data();
      PKCS7* p7 =
          d2i_PKCS7(nullptr, &p, static_cast<long>(e.timestamp_token->size()));
      ASSERT_NE(p7, nullptr) << l["case"];
      STACK_OF(X509)* embedded = p7->d.sign->cert;
      for (int i = 0; i < sk_X509_num(embedded); ++i) {
        X509* c = sk_X509_value(embedded, i);
        X509_up_ref(c);
        certs.push_back(c);
      }
      PKCS7_free(p7);
    }
  }
  ASSERT_EQ(envelopes.size(), 20u);
  X509* tsa_root = nullptr;
  for (const auto& f : fs::directory_iterator(
           out() / "config/truststore/x509/tsa/mkmirror-tsa")) {
    tsa_root = ReadPem(f.path());
  }
  ASSERT_NE(tsa_root, nullptr);
  certs.push_back(tsa_root);  // owned by `certs`, freed with them below
  auto issuer_of = [&](const X509_NAME* name) -> X509* {
    for (X509* c : certs) {
      if (X509_NAME_cmp(X509_get_subject_name(c), name) == 0) {
        return c;
      }
    }
    return nullptr;
  };

  // Every URL named below the base has its file.
  std::set<std::string> named_files;
  int ocsp_certs = 0;
  for (X509* c : certs) {
    for (const std::string& url : UrisOf(c, NID_crl_distribution_points)) {
      ASSERT_TRUE(url.starts_with(base)) << url;
      named_files.insert(url.substr(base.size()));
    }
    for (const std::string& url : UrisOf(c, NID_info_access)) {
      EXPECT_EQ(url + "/", base);
      ++ocsp_certs;
    }
  }
  for (const std::string& f : named_files) {
    EXPECT_TRUE(fs::is_regular_file(out() / "revocation" / f)) << f;
  }

  int crls = 0;
  int forged = 0;
  int ocsp = 0;
  for (const auto& entry : fs::directory_iterator(out() / "revocation")) {
    ASSERT_TRUE(entry.is_regular_file());
    const std::string name = entry.path().filename();
    const std::string bytes = Slurp(entry.path());
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    if (name.ends_with(".crl")) {
      X509_CRL* crl =
          d2i_X509_CRL(nullptr, &p, static_cast<long>(bytes.size()));
      ASSERT_NE(crl, nullptr) << name;
      X509* issuer = issuer_of(X509_CRL_get_issuer(crl));
      ASSERT_NE(issuer, nullptr) << name;
      const bool verifies = X509_CRL_verify(crl, X509_get0_pubkey(issuer)) == 1;
      if (name == "releases-ca-forged.crl") {
        EXPECT_FALSE(verifies);
        ++forged;
      } else {
        EXPECT_TRUE(verifies) << name;
      }
      // Every CRL is named by a certificate or by a base's freshestCRL.
      auto* fresh = static_cast<CRL_DIST_POINTS*>(
          X509_CRL_get_ext_d2i(crl, NID_freshest_crl, nullptr, nullptr));
      for (int i = 0; i < sk_DIST_POINT_num(fresh); ++i) {
        const GENERAL_NAMES* names =
            sk_DIST_POINT_value(fresh, i)->distpoint->name.fullname;
        const ASN1_IA5STRING* uri =
            sk_GENERAL_NAME_value(names, 0)->d.uniformResourceIdentifier;
        named_files.insert(std::string(reinterpret_cast<const char*>(
                                           ASN1_STRING_get0_data(uri)),
                                       ASN1_STRING_length(uri))
                               .substr(base.size()));
      }
      CRL_DIST_POINTS_free(fresh);
      X509_CRL_free(crl);
      ++crls;
      continue;
    }
    OCSP_RESPONSE* response =
        d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(bytes.size()));
    ASSERT_NE(response, nullptr) << name;
    OCSP_BASICRESP* basic = OCSP_response_get1_basic(response);
    ASSERT_NE(basic, nullptr) << name;
    // The response is about a certificate of ours; its issuer signed it
    // (directly or through a delegated responder it issued).
    const OCSP_CERTID* id = OCSP_SINGLERESP_get0_id(OCSP_resp_get0(basic, 0));
    ASN1_INTEGER* serial = nullptr;
    ASSERT_EQ(OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial,
                                const_cast<OCSP_CERTID*>(id)),
              1);
    X509* subject = nullptr;
    for (X509* c : certs) {
      if (ASN1_INTEGER_cmp(X509_get0_serialNumber(c), serial) == 0) {
        subject = c;
      }
    }
    ASSERT_NE(subject, nullptr) << name;
    X509* issuer = issuer_of(X509_get_issuer_name(subject));
    X509* root = issuer_of(X509_get_issuer_name(issuer));
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root);
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, issuer);
    EXPECT_EQ(OCSP_basic_verify(basic, untrusted, store, 0), 1) << name;
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(response);
    ++ocsp;
  }
  EXPECT_EQ(crls, 7);
  EXPECT_EQ(forged, 1);
  EXPECT_EQ(ocsp, 3);
  EXPECT_EQ(ocsp_certs, 3);
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(out() / "revocation")) {
    files += entry.is_regular_file() ? 1 : 0;
  }
  EXPECT_EQ(named_files.size() + 3, files);  // + the OCSP responses

  // Tokens: OpenSSL's TS verifier, imprint over the signature bytes with
  // the signature algorithm's hash.
  for (const auto& [name, e] : envelopes) {
    if (!e->timestamp_token || name == "ts-garbage-token") {
      continue;
    }
    const unsigned char* p = e->timestamp_token->data();
    PKCS7* p7 =
        d2i_PKCS7(nullptr, &p, static_cast<long>(e->timestamp_token->size()));
    ASSERT_NE(p7, nullptr) << name;
    const EVP_MD* md = e->alg == "ES384" ? EVP_sha384() : EVP_sha256();
    unsigned int len = 0;
    auto* imprint = static_cast<unsigned char*>(OPENSSL_malloc(64));
    EVP_Digest(e->signature.data(), e->signature.size(), imprint, &len, md,
               nullptr);
    TS_VERIFY_CTX* ctx = TS_VERIFY_CTX_new();
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, tsa_root);
    TS_VERIFY_CTX_set_store(ctx, store);
    TS_VERIFY_CTX_set_imprint(ctx, imprint, len);
    TS_VERIFY_CTX_set_flags(ctx,
                            TS_VFY_SIGNATURE | TS_VFY_VERSION | TS_VFY_IMPRINT);
    const bool ok = TS_RESP_verify_token(ctx, p7) == 1;
    TS_VERIFY_CTX_free(ctx);
    PKCS7_free(p7);
    EXPECT_EQ(ok, name != "ts-untrusted-tsa") << name;
  }
  for (X509* c : certs) {
    X509_free(c);
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
    for (const Json& j : s["trustStores"]) {
      const std::string store = j;
      const std::string type = store.substr(0, store.find(':'));
      const std::string name = store.substr(store.find(':') + 1);
      EXPECT_TRUE(
          fs::is_directory(out() / "config/truststore/x509" / type / name))
          << store;
      EXPECT_TRUE(type == "ca" || type == "signingAuthority" || type == "tsa")
          << store;
    }
    const std::string verify_timestamp =
        s["signatureVerification"].value("verifyTimestamp", "always");
    EXPECT_TRUE(verify_timestamp == "always" ||
                verify_timestamp == "afterCertExpiry");
    for (const Json& id : s["trustedIdentities"]) {
      // AWS Signer's identities are signing-profile ARNs (for its plugin).
      EXPECT_EQ(id.get<std::string>().rfind(
                    s["name"] == "aws-signer" ? "arn:aws:signer:"
                                              : "x509.subject: C=US, ST=WA, O=",
                    0),
                0u);
    }
  }
  EXPECT_EQ(scopes.count("registry.example.com/orphans/app"), 0u);
  EXPECT_EQ(scopes.count("registry.example.com/payments/api"), 1u);
  EXPECT_EQ(scopes.count("registry.example.com/releases/legacy"), 1u);
  // The tsa store holds the TSA root, a self-signed CA.
  int roots = 0;
  for (const auto& f : fs::directory_iterator(
           out() / "config/truststore/x509/tsa/mkmirror-tsa")) {
    X509* cert = ReadPem(f.path());
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(X509_check_issued(cert, cert), X509_V_OK);
    EXPECT_EQ(X509_check_ca(cert), 1);
    X509_free(cert);
    ++roots;
  }
  EXPECT_EQ(roots, 1);
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
  o.out = dir.path();
  o.artifacts = 1;
  for (const char* bad :
       {"https://127.0.0.1:9", "http://", "http:///x", "127.0.0.1:9",
        "http://host/a?b", "http://host/a#b", "http://host/a b",
        "http://host/%41", "http://user@host"}) {
    o.revocation_url = bad;
    auto refused = Generate(o);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.code(), MkError::kUsage) << bad;
  }
  EXPECT_FALSE(fs::exists(dir.path() / "mirror"));
}

TEST(Generate, Names) {
  EXPECT_EQ(PresetFromName("bench"), Preset::kBench);
  EXPECT_EQ(PresetFromName("x"), std::nullopt);
  EXPECT_EQ(EnvelopeChoiceFromName("mixed"), EnvelopeChoice::kMixed);
  EXPECT_EQ(ToString(Preset::kDemo), "demo");
}

}  // namespace
}  // namespace trustgate::mkmirror
