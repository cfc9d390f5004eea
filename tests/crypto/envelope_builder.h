#pragma once

// Test-only builders for Notary Project signature envelopes (JWS and
// COSE), signed with real OpenSSL keys from test_pki.h. Every piece is raw
// text or raw CBOR so that tests can break exactly one thing at a time
// (duplicate keys, bad base64, wrong crit, ...).

#include <cbor.h>

#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "crypto/base64.h"
#include "crypto/envelope.h"
#include "crypto/signature.h"
#include "tests/crypto/test_pki.h"

namespace trustgate::crypto::envtest {

// Signer is a key with a self-signed code-signing certificate.
struct Signer {
  EVP_PKEY* key = nullptr;
  base::Bytes cert_der;
  SignatureAlgorithm algorithm = SignatureAlgorithm::kPs256;
};

// SignerFor returns a cached signer of `kind`. `algorithm` is the one the
// key signs with (RSA-1024 pretends to be PS256).
inline const Signer& SignerFor(testpki::KeyKind kind) {
  static std::mutex mu;
  static std::map<testpki::KeyKind, Signer> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(kind);
  if (it != cache.end()) {
    return it->second;
  }
  Signer s;
  s.key = testpki::Key(kind, 7);
  testpki::CertSpec spec;
  spec.key = s.key;
  spec.subject = {{"C", "US"},
                  {"ST", "WA"},
                  {"L", "Seattle"},
                  {"O", "Notary"},
                  {"CN", "envelope-test"}};
  s.cert_der = testpki::ToDer(testpki::BuildX509(spec).get());
  switch (kind) {
    case testpki::KeyKind::kRsa3072:
      s.algorithm = SignatureAlgorithm::kPs384;
      break;
    case testpki::KeyKind::kRsa4096:
      s.algorithm = SignatureAlgorithm::kPs512;
      break;
    case testpki::KeyKind::kP256:
      s.algorithm = SignatureAlgorithm::kEs256;
      break;
    case testpki::KeyKind::kP384:
      s.algorithm = SignatureAlgorithm::kEs384;
      break;
    case testpki::KeyKind::kP521:
      s.algorithm = SignatureAlgorithm::kEs512;
      break;
    default:
      s.algorithm = SignatureAlgorithm::kPs256;
      break;
  }
  return cache.emplace(kind, std::move(s)).first->second;
}

inline const Signer& SignerForAlgorithm(SignatureAlgorithm a) {
  return SignerFor(testpki::KeyKindFor(a));
}

inline std::vector<SignatureAlgorithm> AllAlgorithms() {
  return {SignatureAlgorithm::kPs256, SignatureAlgorithm::kPs384,
          SignatureAlgorithm::kPs512, SignatureAlgorithm::kEs256,
          SignatureAlgorithm::kEs384, SignatureAlgorithm::kEs512};
}

inline base::Bytes ToBytes(std::string_view s) {
  return base::Bytes(s.begin(), s.end());
}

inline std::string B64Url(std::string_view s) {
  return EncodeBase64(base::AsBytes(s), Base64Variant::kUrlUnpadded);
}

inline std::string B64(base::ByteView b) {
  return EncodeBase64(b, Base64Variant::kStandardPadded);
}

// A Notation payload for tests.
inline constexpr std::string_view kPayload =
    R"({"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9","size":517}})";

// Times used by the default headers.
inline constexpr std::string_view kSigningTime = "2024-01-02T03:04:05Z";
inline constexpr int64_t kSigningTimeUnix = 1704164645;
inline constexpr std::string_view kExpiry = "2025-01-02T03:04:05Z";
inline constexpr int64_t kExpiryUnix = 1735787045;

// ---------------------------------------------------------------------------
// JWS
// ---------------------------------------------------------------------------

// JwsProtected returns a protected header JSON text: Notation's members,
// then `extra` (raw JSON members, each starting with a comma).
inline std::string JwsProtected(SignatureAlgorithm alg,
                                SigningScheme scheme = SigningScheme::kX509,
                                bool with_expiry = false,
                                std::string_view extra = "") {
  std::string crit = R"(["io.cncf.notary.signingScheme")";
  std::string h = R"({"alg":")" + std::string(ToString(alg)) +
                  R"(","cty":"application/vnd.cncf.notary.payload.v1+json")";
  if (scheme == SigningScheme::kX509) {
    h += R"(,"io.cncf.notary.signingScheme":"notary.x509")";
    h +=
        R"(,"io.cncf.notary.signingTime":")" + std::string(kSigningTime) + "\"";
  } else {
    h += R"(,"io.cncf.notary.signingScheme":"notary.x509.signingAuthority")";
    h += R"(,"io.cncf.notary.authenticSigningTime":")" +
         std::string(kSigningTime) + "\"";
    crit += R"(,"io.cncf.notary.authenticSigningTime")";
  }
  if (with_expiry) {
    h += R"(,"io.cncf.notary.expiry":")" + std::string(kExpiry) + "\"";
    crit += R"(,"io.cncf.notary.expiry")";
  }
  crit += "]";
  h += R"(,"crit":)" + crit;
  h += extra;
  h += "}";
  return h;
}

// JwsInput is everything that goes into one JWS envelope.
struct JwsInput {
  std::string protected_json;
  std::string payload = std::string(kPayload);
  // The "header" member's JSON text; empty: built from `chain`,
  // `timestamp` and `agent`.
  std::string header_json;
  std::vector<base::Bytes> chain;
  std::string timestamp_b64;
  std::string agent = "trustgate-test/1.0";
  // Raw extra top-level members, each starting with a comma.
  std::string extra_top;
  // Override the encoded segments (used verbatim when non-empty).
  std::string protected_b64;
  std::string payload_b64;
  int pss_salt = RSA_PSS_SALTLEN_DIGEST;
};

inline std::string JwsHeaderJson(const JwsInput& in) {
  std::string h = R"({"x5c":[)";
  for (size_t i = 0; i < in.chain.size(); ++i) {
    h += (i > 0 ? ",\"" : "\"") + B64(in.chain[i]) + "\"";
  }
  h += "]";
  if (!in.timestamp_b64.empty()) {
    h += R"(,"io.cncf.notary.timestampSignature":")" + in.timestamp_b64 + "\"";
  }
  if (!in.agent.empty()) {
    h += R"(,"io.cncf.notary.signingAgent":")" + in.agent + "\"";
  }
  return h + "}";
}

// SignJws signs `in` with `signer`'s key under `alg` and returns the
// flattened JWS JSON text. When in.chain is empty the signer's certificate
// is the chain.
inline std::string SignJws(const Signer& signer, SignatureAlgorithm alg,
                           JwsInput in) {
  if (in.chain.empty()) {
    in.chain.push_back(signer.cert_der);
  }
  const std::string protected_b64 =
      in.protected_b64.empty() ? B64Url(in.protected_json) : in.protected_b64;
  const std::string payload_b64 =
      in.payload_b64.empty() ? B64Url(in.payload) : in.payload_b64;
  const std::string signing_input = protected_b64 + "." + payload_b64;
  const base::Bytes sig =
      testpki::Sign(alg, signer.key, base::AsBytes(signing_input), in.pss_salt);
  const std::string header =
      in.header_json.empty() ? JwsHeaderJson(in) : in.header_json;
  return R"({"payload":")" + payload_b64 + R"(","protected":")" +
         protected_b64 + R"(","header":)" + header + R"(,"signature":")" +
         EncodeBase64(sig, Base64Variant::kUrlUnpadded) + "\"" + in.extra_top +
         "}";
}

// GoodJws is a valid envelope signed by the signer for `alg`.
inline std::string GoodJws(SignatureAlgorithm alg,
                           SigningScheme scheme = SigningScheme::kX509,
                           bool with_expiry = false) {
  JwsInput in;
  in.protected_json = JwsProtected(alg, scheme, with_expiry);
  return SignJws(SignerForAlgorithm(alg), alg, in);
}

// ---------------------------------------------------------------------------
// CBOR / COSE
// ---------------------------------------------------------------------------

// Cbor builds raw CBOR with libcbor's head encoders.
class Cbor {
 public:
  Cbor& Uint(uint64_t v) { return Put(cbor_encode_uint(v, buf_, sizeof buf_)); }
  // Int encodes any int64.
  Cbor& Int(int64_t v) {
    if (v >= 0) {
      return Uint(static_cast<uint64_t>(v));
    }
    return Put(
        cbor_encode_negint(static_cast<uint64_t>(-(v + 1)), buf_, sizeof buf_));
  }
  Cbor& Bytes(base::ByteView b) {
    Put(cbor_encode_bytestring_start(b.size(), buf_, sizeof buf_));
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  Cbor& Bytes(std::initializer_list<uint8_t> b) {
    return Bytes(base::ByteView(b.begin(), b.size()));
  }
  Cbor& Text(std::string_view s) {
    Put(cbor_encode_string_start(s.size(), buf_, sizeof buf_));
    out_.insert(out_.end(), s.begin(), s.end());
    return *this;
  }
  Cbor& Array(size_t n) {
    return Put(cbor_encode_array_start(n, buf_, sizeof buf_));
  }
  Cbor& Map(size_t n) {
    return Put(cbor_encode_map_start(n, buf_, sizeof buf_));
  }
  Cbor& Tag(uint64_t t) { return Put(cbor_encode_tag(t, buf_, sizeof buf_)); }
  Cbor& Null() { return Put(cbor_encode_null(buf_, sizeof buf_)); }
  Cbor& Bool(bool b) { return Put(cbor_encode_bool(b, buf_, sizeof buf_)); }
  Cbor& Double(double d) {
    return Put(cbor_encode_double(d, buf_, sizeof buf_));
  }
  Cbor& Raw(base::ByteView b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  Cbor& Raw(std::initializer_list<uint8_t> b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  const base::Bytes& bytes() const { return out_; }

 private:
  Cbor& Put(size_t n) {
    out_.insert(out_.end(), buf_, buf_ + n);
    return *this;
  }
  unsigned char buf_[16] = {};
  base::Bytes out_;
};

// CborMap is an ordered list of (encoded key, encoded value) pairs that
// tests edit before encoding it as one map.
struct CborMap {
  std::vector<std::pair<base::Bytes, base::Bytes>> entries;

  CborMap& Set(const Cbor& key, const Cbor& value) {
    for (auto& e : entries) {
      if (e.first == key.bytes()) {
        e.second = value.bytes();
        return *this;
      }
    }
    entries.emplace_back(key.bytes(), value.bytes());
    return *this;
  }
  // Add appends even when the key exists (duplicate-key tests).
  CborMap& Add(const Cbor& key, const Cbor& value) {
    entries.emplace_back(key.bytes(), value.bytes());
    return *this;
  }
  CborMap& Remove(const Cbor& key) {
    std::erase_if(entries,
                  [&](const auto& e) { return e.first == key.bytes(); });
    return *this;
  }
  base::Bytes Encode() const {
    Cbor c;
    c.Map(entries.size());
    for (const auto& [k, v] : entries) {
      c.Raw(k).Raw(v);
    }
    return c.bytes();
  }
};

inline Cbor Label(int64_t n) { return std::move(Cbor().Int(n)); }
inline Cbor Label(std::string_view s) { return std::move(Cbor().Text(s)); }
inline Cbor EpochTime(int64_t seconds) {
  return std::move(Cbor().Tag(1).Int(seconds));
}
inline Cbor TextArray(const std::vector<std::string>& items) {
  Cbor c;
  c.Array(items.size());
  for (const auto& s : items) {
    c.Text(s);
  }
  return c;
}

inline int64_t CoseId(SignatureAlgorithm a) {
  switch (a) {
    case SignatureAlgorithm::kPs256:
      return -37;
    case SignatureAlgorithm::kPs384:
      return -38;
    case SignatureAlgorithm::kPs512:
      return -39;
    case SignatureAlgorithm::kEs256:
      return -7;
    case SignatureAlgorithm::kEs384:
      return -35;
    case SignatureAlgorithm::kEs512:
      return -36;
  }
  return 0;
}

// CoseProtected returns Notation's protected header entries.
inline CborMap CoseProtected(SignatureAlgorithm alg,
                             SigningScheme scheme = SigningScheme::kX509,
                             bool with_expiry = false) {
  CborMap m;
  std::vector<std::string> crit = {"io.cncf.notary.signingScheme"};
  m.Set(Label(1), Cbor().Int(CoseId(alg)));
  if (scheme == SigningScheme::kX509SigningAuthority) {
    crit.push_back("io.cncf.notary.authenticSigningTime");
  }
  if (with_expiry) {
    crit.push_back("io.cncf.notary.expiry");
  }
  m.Set(Label(2), TextArray(crit));
  m.Set(Label(3), Cbor().Text(kPayloadContentType));
  if (scheme == SigningScheme::kX509) {
    m.Set(Label("io.cncf.notary.signingScheme"), Cbor().Text("notary.x509"));
    m.Set(Label("io.cncf.notary.signingTime"), EpochTime(kSigningTimeUnix));
  } else {
    m.Set(Label("io.cncf.notary.signingScheme"),
          Cbor().Text("notary.x509.signingAuthority"));
    m.Set(Label("io.cncf.notary.authenticSigningTime"),
          EpochTime(kSigningTimeUnix));
  }
  if (with_expiry) {
    m.Set(Label("io.cncf.notary.expiry"), EpochTime(kExpiryUnix));
  }
  return m;
}

// CoseUnprotected returns an unprotected header holding `chain`.
inline CborMap CoseUnprotected(const std::vector<base::Bytes>& chain) {
  CborMap m;
  Cbor x5chain;
  x5chain.Array(chain.size());
  for (const auto& der : chain) {
    x5chain.Bytes(der);
  }
  m.Set(Label(33), x5chain);
  m.Set(Label("io.cncf.notary.signingAgent"),
        Cbor().Text("trustgate-test/1.0"));
  return m;
}

// SigStructure encodes RFC 9052 §4.4's Sig_structure for COSE_Sign1.
inline base::Bytes SigStructure(base::ByteView protected_bytes,
                                base::ByteView payload) {
  Cbor c;
  c.Array(4).Text("Signature1").Bytes(protected_bytes).Bytes({}).Bytes(payload);
  return c.bytes();
}

// CoseInput is everything that goes into one COSE_Sign1 envelope.
struct CoseInput {
  CborMap protected_map;
  // Encoded protected bytes; when empty, protected_map.Encode().
  base::Bytes protected_bytes;
  // The whole protected bstr item (head and all) when non-empty.
  base::Bytes protected_item;
  CborMap unprotected_map;      // empty: CoseUnprotected(signer's cert)
  base::Bytes unprotected_raw;  // used verbatim when non-empty
  std::string payload = std::string(kPayload);
  base::Bytes payload_item;     // the payload item verbatim when non-empty
  base::Bytes prefix = {0xd2};  // the tag; {} for untagged
  int pss_salt = RSA_PSS_SALTLEN_DIGEST;
};

// SignCose signs `in` with `signer`'s key under `alg` and returns the
// COSE_Sign1 bytes.
inline base::Bytes SignCose(const Signer& signer, SignatureAlgorithm alg,
                            CoseInput in) {
  const base::Bytes protected_bytes = in.protected_bytes.empty()
                                          ? in.protected_map.Encode()
                                          : in.protected_bytes;
  const base::Bytes tbs =
      SigStructure(protected_bytes, base::AsBytes(in.payload));
  const base::Bytes sig = testpki::Sign(alg, signer.key, tbs, in.pss_salt);
  if (in.unprotected_map.entries.empty() && in.unprotected_raw.empty()) {
    in.unprotected_map = CoseUnprotected({signer.cert_der});
  }
  Cbor c;
  c.Raw(in.prefix).Array(4);
  if (in.protected_item.empty()) {
    c.Bytes(protected_bytes);
  } else {
    c.Raw(in.protected_item);
  }
  c.Raw(in.unprotected_raw.empty() ? in.unprotected_map.Encode()
                                   : in.unprotected_raw);
  if (in.payload_item.empty()) {
    c.Bytes(base::AsBytes(in.payload));
  } else {
    c.Raw(in.payload_item);
  }
  c.Bytes(sig);
  return c.bytes();
}

inline base::Bytes GoodCose(SignatureAlgorithm alg,
                            SigningScheme scheme = SigningScheme::kX509,
                            bool with_expiry = false) {
  CoseInput in;
  in.protected_map = CoseProtected(alg, scheme, with_expiry);
  return SignCose(SignerForAlgorithm(alg), alg, in);
}

}  // namespace trustgate::crypto::envtest
