// mkmirror's envelopes read by trustgate's own parser (crypto/): every
// good envelope parses and verifies, every broken one fails where Notation
// would (integrity), across the whole test preset.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/chain.h"
#include "crypto/envelope.h"
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
    if (a.critical) {
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

}  // namespace
}  // namespace trustgate::mkmirror
