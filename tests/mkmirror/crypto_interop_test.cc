// mkmirror's output read by trustgate's own crypto/: every good envelope
// parses and verifies, every broken one fails where Notation would
// (integrity), across the whole test preset; and the timestamp and
// revocation cases, re-decided from the envelopes, the trust policy, the
// tsa store and OUT/revocation with crypto/'s RFC 3161, CRL and OCSP
// evaluation (Notation's rules), agree with expected.jsonl and
// expected-offline.jsonl at several verification times.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "crypto/chain.h"
#include "crypto/crl.h"
#include "crypto/envelope.h"
#include "crypto/ocsp.h"
#include "crypto/timestamp.h"
#include "tests/mkmirror/temp_dir.h"
#include "tools/mkmirror/drbg.h"
#include "tools/mkmirror/envelope_writer.h"
#include "tools/mkmirror/scenarios.h"

namespace trustgate::mkmirror {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

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

fs::path BlobFile(const fs::path& repo, const std::string& digest) {
  return repo / "blobs" / digest.substr(0, digest.find(':')) /
         digest.substr(digest.find(':') + 1);
}

crypto::EnvelopeFormat FormatOf(std::string_view media_type) {
  return media_type == "application/cose" ? crypto::EnvelopeFormat::kCose
                                          : crypto::EnvelopeFormat::kJws;
}

// SignatureOk runs the integrity part of Notation's verification with
// trustgate's crypto/: manifest shape, envelope parse, no unknown critical
// attribute, signature, chain rules, payload target.
bool SignatureOk(const Json& manifest, const fs::path& repo,
                 const Json& descriptor) {
  if (manifest["artifactType"] != "application/vnd.cncf.notary.signature" ||
      manifest["layers"].size() != 1) {
    return false;
  }
  const std::string media_type = manifest["layers"][0]["mediaType"];
  if (media_type != crypto::kMediaTypeJws &&
      media_type != crypto::kMediaTypeCose) {
    return false;
  }
  const std::string bytes =
      Slurp(BlobFile(repo, manifest["layers"][0]["digest"]));
  auto envelope =
      crypto::ParseEnvelope(FormatOf(media_type), base::AsBytes(bytes));
  if (!envelope.ok()) {
    return false;
  }
  for (const crypto::ExtendedAttribute& a : envelope->extended_attributes) {
    if (a.critical && !envelope->verification_plugin.has_value()) {
      return false;  // no plugin processes it
    }
  }
  if (!crypto::VerifyEnvelopeIntegrity(*envelope).ok() ||
      !crypto::ValidateSigningChain(envelope->certificate_chain).ok()) {
    return false;
  }
  auto target = crypto::ParsePayload(envelope->payload);
  return target.ok() && target->media_type == descriptor["mediaType"] &&
         target->digest == descriptor["digest"] &&
         target->size == descriptor["size"].get<int64_t>();
}

TEST(CryptoInterop, EnvelopeWriterOutputParses) {
  ASSERT_TRUE(InstallDeterministicRng());
  ReseedRng(1, "crypto-interop");
  CertSpec spec;
  spec.subject = {{"C", "US"}, {"ST", "WA"}, {"O", "Acme Corp"}, {"CN", "r"}};
  spec.not_before = kNow - 86400;
  spec.not_after = kNow + 86400 * 365;
  spec.role = CertRole::kRoot;
  auto root = IssueCertificate(spec, KeyType::kEc384, nullptr);
  ASSERT_TRUE(root.ok());
  for (KeyType type :
       {KeyType::kEc256, KeyType::kEc384, KeyType::kEc521, KeyType::kRsa2048}) {
    spec.role = CertRole::kLeaf;
    spec.subject.back().second = "leaf";
    auto leaf = IssueCertificate(spec, type, root->get());
    ASSERT_TRUE(leaf.ok());
    const Signer signer{leaf->get(), {leaf->get(), root->get()}};
    for (EnvelopeFormat format :
         {EnvelopeFormat::kJws, EnvelopeFormat::kCose}) {
      EnvelopeRequest r;
      r.format = format;
      r.signing_time = kNow - 3600;
      r.expiry = kNow + 3600;
      r.target = {"application/vnd.oci.image.manifest.v1+json",
                  "sha256:2f3a23b6373afb134ddcd864be8e037e34a662d090d33ee84947"
                  "1ff73c873345",
                  1024};
      const crypto::EnvelopeFormat cf = format == EnvelopeFormat::kJws
                                            ? crypto::EnvelopeFormat::kJws
                                            : crypto::EnvelopeFormat::kCose;
      auto bytes = BuildEnvelope(r, signer);
      ASSERT_TRUE(bytes.ok());
      auto env = crypto::ParseEnvelope(cf, *bytes);
      ASSERT_TRUE(env.ok()) << ToString(type) << " " << env.detail();
      EXPECT_TRUE(crypto::VerifyEnvelopeIntegrity(*env).ok()) << ToString(type);
      EXPECT_EQ(env->scheme, crypto::SigningScheme::kX509);
      EXPECT_EQ(env->signing_time, base::TimeFromUnixSeconds(kNow - 3600));
      EXPECT_EQ(env->expiry, base::TimeFromUnixSeconds(kNow + 3600));
      EXPECT_EQ(env->certificate_chain.size(), 2u);
      EXPECT_EQ(env->signing_agent, kSigningAgent);
      EXPECT_TRUE(crypto::ValidateSigningChain(env->certificate_chain).ok());
      auto target = crypto::ParsePayload(env->payload);
      ASSERT_TRUE(target.ok());
      EXPECT_EQ(target->digest, r.target.digest);
      EXPECT_EQ(target->size, 1024);

      r.scheme = SigningScheme::kX509SigningAuthority;
      auto sa = crypto::ParseEnvelope(cf, BuildEnvelope(r, signer).value());
      ASSERT_TRUE(sa.ok()) << sa.detail();
      EXPECT_EQ(sa->scheme, crypto::SigningScheme::kX509SigningAuthority);
      EXPECT_EQ(sa->authentic_signing_time,
                base::TimeFromUnixSeconds(kNow - 3600));
      EXPECT_TRUE(crypto::VerifyEnvelopeIntegrity(*sa).ok());

      r.defect = EnvelopeDefect::kTamperedPayload;
      auto tampered =
          crypto::ParseEnvelope(cf, BuildEnvelope(r, signer).value());
      ASSERT_TRUE(tampered.ok()) << tampered.detail();
      EXPECT_FALSE(crypto::VerifyEnvelopeIntegrity(*tampered).ok());

      r.defect = EnvelopeDefect::kCorruptedSignature;
      auto corrupted =
          crypto::ParseEnvelope(cf, BuildEnvelope(r, signer).value());
      ASSERT_TRUE(corrupted.ok()) << corrupted.detail();
      EXPECT_FALSE(crypto::VerifyEnvelopeIntegrity(*corrupted).ok());
    }
  }
}

TEST(CryptoInterop, TestPresetIntegrityVerdicts) {
  testing::TempDir dir;
  Options o;
  o.out = dir.path();
  ASSERT_TRUE(Generate(o).ok());
  std::ifstream in(dir.path() / "expected.jsonl");
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    const Json l = ParseOrNull(line);
    const fs::path repo = dir.path() / "mirror" / l["repository"];
    const Json index = ParseOrNull(Slurp(repo / "index.json"));
    Json descriptor;
    for (const Json& e : index["manifests"]) {
      if (e["digest"] == l["digest"]) {
        descriptor = e;
      }
    }
    int signatures = 0;
    int ok = 0;
    for (const Json& e : index["manifests"]) {
      if (e.value("artifactType", "") !=
          "application/vnd.cncf.notary.signature") {
        continue;
      }
      const Json m = ParseOrNull(Slurp(BlobFile(repo, e["digest"])));
      if (m["subject"]["digest"] != l["digest"]) {
        continue;
      }
      ++signatures;
      ok += SignatureOk(m, repo, descriptor) ? 1 : 0;
    }
    const std::string reason = l["reason"];
    if (reason == "unsigned") {
      EXPECT_EQ(signatures, 0);
    } else if (reason == "integrity") {
      EXPECT_GT(signatures, 0) << l["case"];
      EXPECT_EQ(ok, 0) << l["case"];
    } else {
      EXPECT_GE(ok, 1) << l["case"];
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(TestPresetCases().size()));
}

// --- Timestamps and revocation, re-decided ---------------------------------

using crypto::RevocationStatus;

// ReferenceChecker decides the authentic-timestamp and revocation checks of
// one signature the way notation-go v1.3 does (verifier.go verifyTimestamp,
// verifyRevocation; notation-core-go revocation), with crypto/ for the
// evaluations and OUT/revocation as the only revocation data (online) or
// none at all (offline).
class ReferenceChecker {
 public:
  ReferenceChecker(fs::path out, std::string base_url, bool online)
      : out_(std::move(out)), base_(std::move(base_url)), online_(online) {}

  // Data returns the file a URL names below the base, if it exists.
  std::optional<base::Bytes> Data(const std::string& url) const {
    if (!online_ || !url.starts_with(base_ + "/")) {
      return std::nullopt;
    }
    const fs::path file = out_ / "revocation" / url.substr(base_.size() + 1);
    if (!fs::is_regular_file(file)) {
      return std::nullopt;
    }
    const std::string bytes = Slurp(file);
    return base::Bytes(bytes.begin(), bytes.end());
  }

  crypto::CertRevocation Unknown() const {
    crypto::CertRevocation r;
    r.status = RevocationStatus::kUnknown;
    return r;
  }

  crypto::CertRevocation Crls(const crypto::Certificate& cert,
                              const crypto::Certificate& issuer,
                              const std::vector<std::string>& urls,
                              base::Time at,
                              std::optional<base::Time> signing) const {
    std::vector<crypto::CertRevocation> results;
    for (const std::string& url : urls) {
      const auto der = Data(url);
      auto base = der ? crypto::ParseCrlDer(*der)
                      : base::Result<crypto::CrlPtr, crypto::CryptoError>(
                            base::MakeError(crypto::CryptoError::kMalformed,
                                            "no data"));
      if (!base.ok()) {
        results.push_back(Unknown());
        continue;
      }
      crypto::CrlPtr delta;
      for (const std::string& delta_url : (*base)->freshest_crl_urls()) {
        if (const auto delta_der = Data(delta_url)) {
          auto parsed = crypto::ParseCrlDer(*delta_der);
          if (parsed.ok()) {
            delta = *parsed;
            break;
          }
        }
      }
      results.push_back(
          crypto::EvaluateCrl(cert, issuer, **base, delta.get(), at, signing));
    }
    return crypto::CombineCrlResults(results);
  }

  RevocationStatus Certificate(const crypto::Certificate& cert,
                               const crypto::Certificate& issuer, base::Time at,
                               std::optional<base::Time> signing) const {
    auto responders = crypto::OcspResponders(cert);
    auto cdps = crypto::CrlDistributionPoints(cert);
    if (!responders.ok() || !cdps.ok()) {
      return RevocationStatus::kUnknown;
    }
    if (responders->empty() && cdps->empty()) {
      return RevocationStatus::kGood;  // not revocable
    }
    if (!responders->empty()) {
      auto request = crypto::BuildOcspRequest(cert, issuer);
      std::vector<crypto::CertRevocation> results;
      for (const std::string& responder : *responders) {
        const auto url = request.ok() ? crypto::OcspGetUrl(responder, *request)
                                      : std::nullopt;
        const auto der = url ? Data(*url) : std::nullopt;
        results.push_back(
            der ? crypto::EvaluateOcspResponse(*der, cert, issuer, at, signing)
                : Unknown());
      }
      const auto ocsp = crypto::CombineOcspResults(results);
      // trust-store-trust-policy.md: OCSP first, CRL when it is unknown.
      if (ocsp.status != RevocationStatus::kUnknown || cdps->empty()) {
        return ocsp.status;
      }
    }
    return Crls(cert, issuer, *cdps, at, signing).status;
  }

  // Chain: every certificate but the root; revoked > unknown > good.
  RevocationStatus Chain(const std::vector<crypto::CertificatePtr>& chain,
                         base::Time at,
                         std::optional<base::Time> signing) const {
    RevocationStatus combined = RevocationStatus::kGood;
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      const RevocationStatus s =
          Certificate(*chain[i], *chain[i + 1], at, signing);
      if (s == RevocationStatus::kRevoked) {
        return s;
      }
      if (s == RevocationStatus::kUnknown) {
        combined = s;
      }
    }
    return combined;
  }

  // Reason returns "ok", "authentic-timestamp" or "revocation" for
  // `envelope` under a strict statement with `tsa_roots` (empty: no tsa
  // store) and `verify_timestamp`, verified at `at`.
  std::string Reason(const crypto::Envelope& envelope,
                     const std::vector<crypto::CertificatePtr>& tsa_roots,
                     const std::string& verify_timestamp, base::Time at) const {
    const auto& chain = envelope.certificate_chain;
    std::optional<base::Time> signing;
    if (envelope.scheme == crypto::SigningScheme::kX509) {
      bool perform = !tsa_roots.empty();
      if (perform && verify_timestamp == "afterCertExpiry") {
        perform = false;
        for (const auto& cert : chain) {
          perform = perform || at > cert->not_after();
        }
      }
      if (!perform) {
        for (const auto& cert : chain) {
          if (!cert->ValidAt(at)) {
            return "authentic-timestamp";
          }
        }
      } else {
        if (!envelope.timestamp_token) {
          return "authentic-timestamp";
        }
        auto proof = crypto::VerifyTimestampToken(
            *envelope.timestamp_token, envelope.signature, tsa_roots);
        if (!proof.ok()) {
          return "authentic-timestamp";
        }
        for (const auto& cert : chain) {
          if (!crypto::WithinValidity(*proof, *cert)) {
            return "authentic-timestamp";
          }
        }
        // The TSA chain's revocation, without a signing time.
        if (Chain(proof->tsa_chain, at, std::nullopt) !=
            RevocationStatus::kGood) {
          return "authentic-timestamp";
        }
      }
    } else {
      signing = envelope.authentic_signing_time;
      for (const auto& cert : chain) {
        if (!signing || !cert->ValidAt(*signing)) {
          return "authentic-timestamp";
        }
      }
    }
    return Chain(chain, at, signing) == RevocationStatus::kGood ? "ok"
                                                                : "revocation";
  }

 private:
  fs::path out_;
  std::string base_;
  bool online_;
};

// Statement is what the reference needs of a trust policy statement.
struct PolicyFacts {
  std::vector<crypto::CertificatePtr> tsa_roots;
  std::string verify_timestamp = "always";
};

std::map<std::string, PolicyFacts> ReadPolicy(const fs::path& out) {
  std::map<std::string, PolicyFacts> by_scope;
  const Json policy = ParseOrNull(Slurp(out / "config/trustpolicy.oci.json"));
  for (const Json& s : policy["trustPolicies"]) {
    PolicyFacts facts;
    facts.verify_timestamp =
        s["signatureVerification"].value("verifyTimestamp", "always");
    for (const Json& store : s["trustStores"]) {
      const std::string name = store;
      if (!name.starts_with("tsa:")) {
        continue;
      }
      for (const auto& f : fs::directory_iterator(
               out / "config/truststore/x509/tsa" / name.substr(4))) {
        auto certs =
            crypto::Certificate::FromFileBytes(base::AsBytes(Slurp(f.path())));
        EXPECT_TRUE(certs.ok()) << f.path();
        if (certs.ok()) {
          facts.tsa_roots.insert(facts.tsa_roots.end(), certs->begin(),
                                 certs->end());
        }
      }
    }
    for (const Json& scope : s["registryScopes"]) {
      by_scope[scope.get<std::string>()] = facts;
    }
  }
  return by_scope;
}

std::map<std::string, Json> ReadLines(const fs::path& file) {
  std::map<std::string, Json> by_case;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const Json l = ParseOrNull(line);
    by_case[l["case"].get<std::string>()] = l;
  }
  return by_case;
}

// The envelope of the one signature of `digest` in `repo`.
std::optional<crypto::Envelope> OnlyEnvelope(const fs::path& repo,
                                             const std::string& digest) {
  std::optional<crypto::Envelope> found;
  const Json index = ParseOrNull(Slurp(repo / "index.json"));
  for (const Json& e : index["manifests"]) {
    if (e.value("artifactType", "") !=
        "application/vnd.cncf.notary.signature") {
      continue;
    }
    const Json m = ParseOrNull(Slurp(BlobFile(repo, e["digest"])));
    if (m["subject"]["digest"] != digest) {
      continue;
    }
    const std::string media_type = m["layers"][0]["mediaType"];
    auto env = crypto::ParseEnvelope(
        FormatOf(media_type),
        base::AsBytes(Slurp(BlobFile(repo, m["layers"][0]["digest"]))));
    EXPECT_TRUE(env.ok()) << env.detail();
    EXPECT_FALSE(found.has_value()) << "more than one signature";
    if (env.ok()) {
      found = std::move(*env);
    }
  }
  return found;
}

void CheckTimeAndRevocationCases(const fs::path& out,
                                 const std::string& base_url) {
  const auto policy = ReadPolicy(out);
  const auto online = ReadLines(out / "expected.jsonl");
  const auto offline = ReadLines(out / "expected-offline.jsonl");
  const ReferenceChecker with_data(out, base_url, true);
  const ReferenceChecker without_data(out, base_url, false);
  int checked = 0;
  for (const ExpectedCase& c : TestPresetCases()) {
    const bool time_or_revocation =
        c.name.starts_with("ts-") || c.name.starts_with("crl-") ||
        c.name.starts_with("ocsp-") || c.name.starts_with("sa-") ||
        c.name == "intermediate-revoked" || c.name == "revocation-unknown";
    if (!time_or_revocation) {
      continue;
    }
    const Json& line = online.at(c.name);
    const std::string repository = line["repository"];
    const auto envelope =
        OnlyEnvelope(out / "mirror" / repository, line["digest"]);
    ASSERT_TRUE(envelope.has_value()) << c.name;
    ASSERT_TRUE(crypto::VerifyEnvelopeIntegrity(*envelope).ok()) << c.name;
    const PolicyFacts& facts = policy.at(repository);
    // A year of verification times from --now (the whole of 2026 for the
    // default): the expectations hold for all of them.
    for (int64_t days : {0, 1, 180, 364}) {
      const base::Time at = base::TimeFromUnixSeconds(kNow + days * 86400);
      const std::string reason = with_data.Reason(*envelope, facts.tsa_roots,
                                                  facts.verify_timestamp, at);
      EXPECT_EQ(reason, line["reason"]) << c.name << " at +" << days << "d";
      EXPECT_EQ(reason, c.reason) << c.name;
      const std::string offline_reason = without_data.Reason(
          *envelope, facts.tsa_roots, facts.verify_timestamp, at);
      EXPECT_EQ(offline_reason, offline.at(c.name)["reason"])
          << c.name << " offline at +" << days << "d";
      EXPECT_EQ(offline_reason, c.offline_reason) << c.name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 21);
}

TEST(CryptoInterop, TimestampAndRevocationCasesAgreeWithTheReference) {
  testing::TempDir dir;
  Options o;
  o.out = dir.path();
  ASSERT_TRUE(Generate(o).ok());
  CheckTimeAndRevocationCases(dir.path(), std::string(kDefaultRevocationUrl));
}

TEST(CryptoInterop, RevocationDataFollowsTheRevocationUrl) {
  testing::TempDir dir;
  Options o;
  o.out = dir.path();
  o.seed = 5;
  o.revocation_url = "http://127.0.0.1:8080/revocation/";
  ASSERT_TRUE(Generate(o).ok());
  CheckTimeAndRevocationCases(dir.path(), "http://127.0.0.1:8080/revocation");
}

}  // namespace
}  // namespace trustgate::mkmirror
