#include "tests/mkmirror/envelope_check.h"

#include <cbor.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "base/time.h"

namespace trustgate::mkmirror::testing {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct CborFree {
  void operator()(cbor_item_t* i) const { cbor_decref(&i); }
};

std::optional<base::Bytes> DecodeB64(std::string text, bool url) {
  if (url) {
    for (char& c : text) {
      if (c == '-') {
        c = '+';
      } else if (c == '_') {
        c = '/';
      }
    }
    while (text.size() % 4 != 0) {
      text.push_back('=');
    }
  }
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  base::Bytes out(text.size() / 4 * 3 + 1);
  int n = EVP_DecodeBlock(out.data(),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    ++pad;
    if (text.size() >= 2 && text[text.size() - 2] == '=') {
      ++pad;
    }
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

const EVP_MD* MdFor(std::string_view alg) {
  if (alg == "ES256" || alg == "PS256") {
    return EVP_sha256();
  }
  if (alg == "ES384" || alg == "PS384") {
    return EVP_sha384();
  }
  if (alg == "ES512" || alg == "PS512") {
    return EVP_sha512();
  }
  return nullptr;
}

bool Verify(std::string_view alg, const base::Bytes& leaf_der,
            base::ByteView message, base::ByteView signature) {
  const unsigned char* p = leaf_der.data();
  std::unique_ptr<X509, X509Free> cert(
      d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())));
  if (!cert) {
    return false;
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key(X509_get_pubkey(cert.get()));
  const EVP_MD* md = MdFor(alg);
  if (!key || md == nullptr) {
    return false;
  }
  base::Bytes sig(signature.begin(), signature.end());
  const bool ec = alg[0] == 'E';
  if (ec) {
    // r||s -> DER.
    if (sig.size() % 2 != 0 || sig.empty()) {
      return false;
    }
    const int half = static_cast<int>(sig.size() / 2);
    std::unique_ptr<ECDSA_SIG, SigFree> s(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), half, nullptr);
    BIGNUM* ss = BN_bin2bn(sig.data() + half, half, nullptr);
    ECDSA_SIG_set0(s.get(), r, ss);
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(s.get(), &der);
    if (len <= 0) {
      return false;
    }
    sig.assign(der, der + len);
    OPENSSL_free(der);
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1) {
    return false;
  }
  if (!ec) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(),
                          message.size()) == 1;
}

std::optional<int64_t> JsonTime(const nlohmann::json& header, const char* key) {
  if (!header.contains(key) || !header[key].is_string()) {
    return std::nullopt;
  }
  auto t = base::ParseRfc3339(header[key].get<std::string>());
  if (!t) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch())
      .count();
}

bool KnownKey(std::string_view key) {
  return key == "alg" || key == "crit" || key == "cty" ||
         key == "io.cncf.notary.signingScheme" ||
         key == "io.cncf.notary.signingTime" ||
         key == "io.cncf.notary.authenticSigningTime" ||
         key == "io.cncf.notary.expiry" ||
         key == "io.cncf.notary.verificationPlugin";
}

CheckedEnvelope CheckJws(base::ByteView bytes) {
  CheckedEnvelope out;
  nlohmann::json env = nlohmann::json::parse(
      bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (env.is_discarded() || !env.is_object() || !env.contains("protected") ||
      !env.contains("payload") || !env.contains("signature") ||
      !env.contains("header")) {
    return out;
  }
  const std::string protected_b64 = env["protected"].get<std::string>();
  const std::string payload_b64 = env["payload"].get<std::string>();
  auto header_bytes = DecodeB64(protected_b64, true);
  auto payload = DecodeB64(payload_b64, true);
  auto signature = DecodeB64(env["signature"].get<std::string>(), true);
  if (!header_bytes || !payload || !signature) {
    return out;
  }
  nlohmann::json header = nlohmann::json::parse(
      header_bytes->begin(), header_bytes->end(), nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return out;
  }
  out.alg = header.value("alg", "");
  out.crit = header.value("crit", std::vector<std::string>{});
  out.content_type = header.value("cty", "");
  out.signing_scheme = header.value("io.cncf.notary.signingScheme", "");
  out.signing_time = JsonTime(header, "io.cncf.notary.signingTime");
  out.authentic_signing_time =
      JsonTime(header, "io.cncf.notary.authenticSigningTime");
  out.expiry = JsonTime(header, "io.cncf.notary.expiry");
  for (const auto& [key, value] : header.items()) {
    if (!KnownKey(key)) {
      out.other_protected.push_back(key);
    }
  }
  out.payload.assign(payload->begin(), payload->end());
  for (const auto& cert : env["header"].value("x5c", nlohmann::json::array())) {
    auto der = DecodeB64(cert.get<std::string>(), false);
    if (!der) {
      return out;
    }
    out.chain.push_back(*der);
  }
  out.signing_agent = env["header"].value("io.cncf.notary.signingAgent", "");
  out.signature = *signature;
  if (env["header"].contains("io.cncf.notary.timestampSignature")) {
    const nlohmann::json& token =
        env["header"]["io.cncf.notary.timestampSignature"];
    auto der = token.is_string() ? DecodeB64(token.get<std::string>(), false)
                                 : std::nullopt;
    out.timestamp_malformed = !der.has_value();
    out.timestamp_token = der;
  }
  if (out.chain.empty()) {
    return out;
  }
  out.parsed = true;
  const std::string signing_input = protected_b64 + "." + payload_b64;
  out.signature_valid =
      Verify(out.alg, out.chain[0], base::AsBytes(signing_input), *signature);
  return out;
}

std::string CborText(const cbor_item_t* item) {
  if (!cbor_isa_string(item) || !cbor_string_is_definite(item)) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(cbor_string_handle(item)),
                     cbor_string_length(item));
}

base::Bytes CborBytes(const cbor_item_t* item) {
  if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) {
    return {};
  }
  return base::Bytes(
      cbor_bytestring_handle(item),
      cbor_bytestring_handle(item) + cbor_bytestring_length(item));
}

std::optional<int64_t> CborEpoch(const cbor_item_t* item) {
  if (!cbor_isa_tag(item) || cbor_tag_value(item) != 1) {
    return std::nullopt;
  }
  std::unique_ptr<cbor_item_t, CborFree> inner(cbor_tag_item(item));
  if (!cbor_isa_uint(inner.get())) {
    return std::nullopt;
  }
  return static_cast<int64_t>(cbor_get_int(inner.get()));
}

// Hand-written CBOR head (RFC 8949 §3) for the Sig_structure.
void Head(base::Bytes& out, uint8_t major, uint64_t n) {
  major = static_cast<uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<uint8_t>(major | n));
  } else if (n <= 0xff) {
    out.push_back(major | 24);
    out.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xffff) {
    out.push_back(major | 25);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(major | 26);
    for (int i = 3; i >= 0; --i) {
      out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    }
  }
}

CheckedEnvelope CheckCose(base::ByteView bytes) {
  CheckedEnvelope out;
  // RFC 9052 §4.2: tag 18 (one byte, 0xd2) on a 4-element array. The tag
  // is checked by hand: libcbor 0.8's cbor_load rejects a tagged array as
  // malformed.
  if (bytes.empty() || bytes[0] != 0xd2) {
    return out;
  }
  cbor_load_result result;
  std::unique_ptr<cbor_item_t, CborFree> array(
      cbor_load(bytes.data() + 1, bytes.size() - 1, &result));
  if (!array || result.error.code != CBOR_ERR_NONE ||
      result.read != bytes.size() - 1 || !cbor_isa_array(array.get()) ||
      cbor_array_size(array.get()) != 4) {
    return out;
  }
  cbor_item_t** items = cbor_array_handle(array.get());
  const base::Bytes protected_bytes = CborBytes(items[0]);
  const base::Bytes payload = CborBytes(items[2]);
  const base::Bytes signature = CborBytes(items[3]);
  std::unique_ptr<cbor_item_t, CborFree> header(
      cbor_load(protected_bytes.data(), protected_bytes.size(), &result));
  if (!header || !cbor_isa_map(header.get()) || !cbor_isa_map(items[1])) {
    return out;
  }
  const cbor_pair* pairs = cbor_map_handle(header.get());
  for (size_t i = 0; i < cbor_map_size(header.get()); ++i) {
    const cbor_item_t* key = pairs[i].key;
    const cbor_item_t* value = pairs[i].value;
    if (cbor_isa_uint(key)) {
      const uint64_t label = cbor_get_int(key);
      if (label == 1 && cbor_isa_negint(value)) {
        const int64_t id = -1 - static_cast<int64_t>(cbor_get_int(value));
        out.alg = id == -7    ? "ES256"
                  : id == -35 ? "ES384"
                  : id == -36 ? "ES512"
                  : id == -37 ? "PS256"
                  : id == -38 ? "PS384"
                  : id == -39 ? "PS512"
                              : "?";
      } else if (label == 2 && cbor_isa_array(value)) {
        for (size_t j = 0; j < cbor_array_size(value); ++j) {
          out.crit.push_back(CborText(cbor_array_handle(value)[j]));
        }
      } else if (label == 3) {
        out.content_type = CborText(value);
      }
      continue;
    }
    const std::string name = CborText(key);
    if (name == "io.cncf.notary.signingScheme") {
      out.signing_scheme = CborText(value);
    } else if (name == "io.cncf.notary.signingTime") {
      out.signing_time = CborEpoch(value);
    } else if (name == "io.cncf.notary.authenticSigningTime") {
      out.authentic_signing_time = CborEpoch(value);
    } else if (name == "io.cncf.notary.expiry") {
      out.expiry = CborEpoch(value);
    } else {
      out.other_protected.push_back(name);
    }
  }
  const cbor_pair* unprotected = cbor_map_handle(items[1]);
  for (size_t i = 0; i < cbor_map_size(items[1]); ++i) {
    const cbor_item_t* key = unprotected[i].key;
    const cbor_item_t* value = unprotected[i].value;
    if (cbor_isa_uint(key) && cbor_get_int(key) == 33 &&
        cbor_isa_array(value)) {
      for (size_t j = 0; j < cbor_array_size(value); ++j) {
        out.chain.push_back(CborBytes(cbor_array_handle(value)[j]));
      }
    } else if (CborText(key) == "io.cncf.notary.signingAgent") {
      out.signing_agent = CborText(value);
    } else if (CborText(key) == "io.cncf.notary.timestampSignature") {
      out.timestamp_malformed = !cbor_isa_bytestring(value);
      out.timestamp_token = CborBytes(value);
    }
  }
  out.signature = signature;
  out.payload.assign(payload.begin(), payload.end());
  if (out.chain.empty()) {
    return out;
  }
  out.parsed = true;
  // RFC 9052 §4.4: ["Signature1", protected, h'', payload].
  base::Bytes tbs;
  Head(tbs, 4, 4);
  Head(tbs, 3, 10);
  for (char c : std::string_view("Signature1")) {
    tbs.push_back(static_cast<uint8_t>(c));
  }
  Head(tbs, 2, protected_bytes.size());
  tbs.insert(tbs.end(), protected_bytes.begin(), protected_bytes.end());
  Head(tbs, 2, 0);
  Head(tbs, 2, payload.size());
  tbs.insert(tbs.end(), payload.begin(), payload.end());
  out.signature_valid = Verify(out.alg, out.chain[0], tbs, signature);
  return out;
}

}  // namespace

CheckedEnvelope CheckEnvelope(std::string_view media_type,
                              base::ByteView bytes) {
  if (media_type == "application/jose+json") {
    return CheckJws(bytes);
  }
  if (media_type == "application/cose") {
    return CheckCose(bytes);
  }
  return {};
}

bool KeyMatchesAlg(const base::Bytes& leaf_der, std::string_view alg) {
  const unsigned char* p = leaf_der.data();
  std::unique_ptr<X509, X509Free> cert(
      d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())));
  if (!cert) {
    return false;
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key(X509_get_pubkey(cert.get()));
  if (!key) {
    return false;
  }
  const int bits = EVP_PKEY_get_bits(key.get());
  if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA) {
    return (alg == "PS256" && bits == 2048) ||
           (alg == "PS384" && bits == 3072) || (alg == "PS512" && bits == 4096);
  }
  if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC) {
    return (alg == "ES256" && bits == 256) || (alg == "ES384" && bits == 384) ||
           (alg == "ES512" && bits == 521);
  }
  return false;
}

bool LeafUsageOk(const base::Bytes& leaf_der) {
  const unsigned char* p = leaf_der.data();
  std::unique_ptr<X509, X509Free> cert(
      d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())));
  if (!cert) {
    return false;
  }
  const uint32_t usage = X509_get_key_usage(cert.get());
  return (usage & KU_DIGITAL_SIGNATURE) != 0 && (usage & KU_KEY_CERT_SIGN) == 0;
}

}  // namespace trustgate::mkmirror::testing
