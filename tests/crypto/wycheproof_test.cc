// Runs every Wycheproof vector of the five signature files in
// $TRUSTGATE_SHARED/vectors/wycheproof/ through VerifySignature.

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "crypto/signature.h"
#include "tests/crypto/test_pki.h"

namespace trustgate::crypto {
namespace {

struct VectorFile {
  const char* name;
  SignatureAlgorithm algorithm;
  const char* expected_type;  // testGroups[].type
  int key_bits;               // the key size the file's algorithm requires
};

constexpr VectorFile kFiles[] = {
    {"ecdsa_secp256r1_sha256_p1363_test.json", SignatureAlgorithm::kEs256,
     "EcdsaP1363Verify", 256},
    {"ecdsa_secp384r1_sha384_p1363_test.json", SignatureAlgorithm::kEs384,
     "EcdsaP1363Verify", 384},
    {"ecdsa_secp521r1_sha512_p1363_test.json", SignatureAlgorithm::kEs512,
     "EcdsaP1363Verify", 521},
    {"rsa_pss_2048_sha256_mgf1_32_test.json", SignatureAlgorithm::kPs256,
     "RsassaPssVerify", 2048},
    {"rsa_pss_4096_sha512_mgf1_64_test.json", SignatureAlgorithm::kPs512,
     "RsassaPssVerify", 4096},
};

base::Bytes Unhex(const std::string& hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  base::Bytes out;
  if (hex.size() % 2 != 0) {
    ADD_FAILURE() << "odd hex length";
    return out;
  }
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      ADD_FAILURE() << "bad hex";
      return {};
    }
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

class Wycheproof : public ::testing::TestWithParam<VectorFile> {};

TEST_P(Wycheproof, EveryVector) {
  const VectorFile& file = GetParam();
  const std::string path =
      testpki::SharedDir() + "/vectors/wycheproof/" + file.name;
  auto bytes = testpki::ReadFile(path);
  ASSERT_TRUE(bytes.has_value()) << "cannot read " << path;
  nlohmann::json doc =
      nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << path;
  ASSERT_TRUE(doc.contains("testGroups"));

  int valid_ok = 0, invalid_rejected = 0, acceptable_rejected = 0;
  int unfit_key_rejected = 0, total = 0;
  for (const auto& group : doc["testGroups"]) {
    ASSERT_EQ(group.at("type").get<std::string>(), file.expected_type);
    if (group.contains("sLen")) {
      // These files fix salt = hash length and MGF1 with the same hash.
      ASSERT_EQ(group.at("mgf").get<std::string>(), "MGF1");
      ASSERT_EQ(group.at("mgfSha").get<std::string>(),
                group.at("sha").get<std::string>());
    }
    base::Bytes der = Unhex(group.at("publicKeyDer").get<std::string>());
    const unsigned char* p = der.data();
    UniqueEvpPkey key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    ASSERT_TRUE(key) << "group public key does not parse";

    // Does the group key fit the signing scheme for this file?
    const int bits = EVP_PKEY_get_bits(key.get());
    const bool fits = bits == file.key_bits;
    auto key_alg = AlgorithmForKey(key.get());
    if (fits) {
      ASSERT_TRUE(key_alg.ok()) << file.name << ": " << key_alg.detail();
      ASSERT_EQ(*key_alg, file.algorithm);
    } else {
      // A key outside the scheme must be refused by AlgorithmForKey, and
      // then no vector of the group may verify.
      ASSERT_FALSE(key_alg.ok() && *key_alg == file.algorithm)
          << file.name << ": " << bits << "-bit key accepted";
    }

    for (const auto& t : group.at("tests")) {
      ++total;
      const int id = t.at("tcId").get<int>();
      const std::string result = t.at("result").get<std::string>();
      base::Bytes msg = Unhex(t.at("msg").get<std::string>());
      base::Bytes sig = Unhex(t.at("sig").get<std::string>());
      auto st = VerifySignature(file.algorithm, key.get(), msg, sig);
      if (!fits) {
        EXPECT_FALSE(st.ok()) << file.name << " tcId " << id;
        ++unfit_key_rejected;
        continue;
      }
      if (result == "valid") {
        EXPECT_TRUE(st.ok()) << file.name << " tcId " << id << " ("
                             << t.value("comment", "") << "): " << st.detail();
        valid_ok += st.ok();
      } else if (result == "invalid" || result == "acceptable") {
        EXPECT_FALSE(st.ok()) << file.name << " tcId " << id << " ("
                              << t.value("comment", "") << ") verified";
        if (!st.ok()) {
          EXPECT_EQ(st.code(), CryptoError::kBadSignature)
              << file.name << " tcId " << id;
          (result == "invalid" ? invalid_rejected : acceptable_rejected)++;
        }
      } else {
        ADD_FAILURE() << "unknown result " << result;
      }
    }
  }
  EXPECT_GT(total, 0);
  EXPECT_EQ(total, doc.at("numberOfTests").get<int>());
  std::printf(
      "[wycheproof] %s: %d vectors: %d valid verified, %d invalid rejected, "
      "%d acceptable rejected, %d with an out-of-scheme key rejected\n",
      file.name, total, valid_ok, invalid_rejected, acceptable_rejected,
      unfit_key_rejected);
  RecordProperty("vectors", total);
  RecordProperty("valid_verified", valid_ok);
  RecordProperty("invalid_rejected", invalid_rejected);
}

INSTANTIATE_TEST_SUITE_P(Files, Wycheproof, ::testing::ValuesIn(kFiles),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name;
                           n = n.substr(0, n.find("_test.json"));
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) {
                               c = '_';
                             }
                           }
                           return n;
                         });

}  // namespace
}  // namespace trustgate::crypto
