#include "tools/mkmirror/envelope_writer.h"

#include <cbor.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/time.h"
#include "tools/mkmirror/timestamp_writer.h"

namespace trustgate::mkmirror {
namespace {

constexpr std::string_view kPayloadContentType =
    "application/vnd.cncf.notary.payload.v1+json";
constexpr std::string_view kSigningSchemeKey = "io.cncf.notary.signingScheme";
constexpr std::string_view kSigningTimeKey = "io.cncf.notary.signingTime";
constexpr std::string_view kAuthenticSigningTimeKey =
    "io.cncf.notary.authenticSigningTime";
constexpr std::string_view kExpiryKey = "io.cncf.notary.expiry";
constexpr std::string_view kSigningAgentKey = "io.cncf.notary.signingAgent";
constexpr std::string_view kTimestampSignatureKey =
    "io.cncf.notary.timestampSignature";

struct Algorithm {
  const char* jws_name;
  int cose_id;  // negative
  const EVP_MD* (*md)();
  int ec_field_bytes;  // 0 for RSA
};

// signing-scheme.md, Algorithm Selection: the key decides the algorithm.
// RSA-1024 is not allowed; it signs as PS256 for the negative case.
Algorithm AlgorithmFor(KeyType type) {
  switch (type) {
    case KeyType::kEc256:
      return {"ES256", -7, EVP_sha256, 32};
    case KeyType::kEc384:
      return {"ES384", -35, EVP_sha384, 48};
    case KeyType::kEc521:
      return {"ES512", -36, EVP_sha512, 66};
    case KeyType::kRsa3072:
      return {"PS384", -38, EVP_sha384, 0};
    case KeyType::kRsa4096:
      return {"PS512", -39, EVP_sha512, 0};
    case KeyType::kRsa1024:
    case KeyType::kRsa2048:
      break;
  }
  return {"PS256", -37, EVP_sha256, 0};
}

std::string SchemeName(SigningScheme scheme) {
  return scheme == SigningScheme::kX509 ? "notary.x509"
                                        : "notary.x509.signingAuthority";
}

std::string Rfc3339(int64_t seconds) {
  return base::FormatRfc3339(base::TimeFromUnixSeconds(seconds));
}

// crit lists the signing scheme, then the other critical Notary attributes
// present (signature-envelope-jws.md, Protected Headers).
std::vector<std::string> CriticalList(const EnvelopeRequest& request) {
  std::vector<std::string> crit = {std::string(kSigningSchemeKey)};
  if (request.scheme == SigningScheme::kX509SigningAuthority) {
    crit.emplace_back(kAuthenticSigningTimeKey);
  }
  if (request.expiry) {
    crit.emplace_back(kExpiryKey);
  }
  if (request.extra_critical) {
    crit.push_back(request.extra_critical->first);
  }
  for (const EnvelopeRequest::Attribute& a : request.attributes) {
    if (a.critical) {
      crit.push_back(a.key);
    }
  }
  return crit;
}

std::string TamperedPayloadJson(const TargetDescriptor& target) {
  nlohmann::json payload = nlohmann::json::parse(PayloadJson(target));
  payload["targetArtifact"]["annotations"]["io.example.tampered"] = "true";
  return payload.dump();
}

void FlipSignatureBit(base::Bytes& signature) {
  if (!signature.empty()) {
    signature[signature.size() / 2] ^= 0x01;
  }
}

// Countersign returns the timestamp token of `signature` (the bytes as
// written, after any deliberate defect), or nullopt without a
// countersigner. signature-specification.md, "Timestamp Signature": the
// token is over the signature value, hashed as the signature algorithm
// hashes (ImprintDigestFor).
base::Result<std::optional<base::Bytes>, MkError> Countersign(
    const EnvelopeRequest& request, KeyType type, base::ByteView signature) {
  if (!request.countersigner) {
    return std::optional<base::Bytes>();
  }
  TG_ASSIGN_OR_RETURN(base::Bytes token,
                      request.countersigner(signature, ImprintDigestFor(type)));
  return std::optional<base::Bytes>(std::move(token));
}

// --- JWS ------------------------------------------------------------------

base::Result<base::Bytes, MkError> BuildJws(const EnvelopeRequest& request,
                                            const Signer& signer) {
  const Algorithm alg = AlgorithmFor(signer.leaf->type);
  // Protected header keys are written sorted, as notation-core-go does.
  nlohmann::json header = nlohmann::json::object();
  header["alg"] = alg.jws_name;
  header["crit"] = CriticalList(request);
  header["cty"] = kPayloadContentType;
  header[std::string(kSigningSchemeKey)] = SchemeName(request.scheme);
  if (request.scheme == SigningScheme::kX509) {
    header[std::string(kSigningTimeKey)] = Rfc3339(request.signing_time);
  } else {
    header[std::string(kAuthenticSigningTimeKey)] =
        Rfc3339(request.signing_time);
  }
  if (request.expiry) {
    header[std::string(kExpiryKey)] = Rfc3339(*request.expiry);
  }
  if (request.extra_critical) {
    header[request.extra_critical->first] = request.extra_critical->second;
  }
  for (const EnvelopeRequest::Attribute& a : request.attributes) {
    header[a.key] = a.value;
  }
  const std::string protected_b64 = Base64Url(base::AsBytes(header.dump()));
  const std::string payload_b64 =
      Base64Url(base::AsBytes(PayloadJson(request.target)));
  // RFC 7515 §5.1: signing input = b64(protected) || '.' || b64(payload).
  const std::string signing_input = protected_b64 + "." + payload_b64;
  TG_ASSIGN_OR_RETURN(base::Bytes signature,
                      SignRaw(signer.leaf->type, signer.leaf->key.get(),
                              base::AsBytes(signing_input)));
  if (request.defect == EnvelopeDefect::kCorruptedSignature) {
    FlipSignatureBit(signature);
  }
  TG_ASSIGN_OR_RETURN(std::optional<base::Bytes> token,
                      Countersign(request, signer.leaf->type, signature));

  nlohmann::ordered_json x5c = nlohmann::ordered_json::array();
  for (const Credential* cert : signer.chain) {
    x5c.push_back(Base64Std(cert->der));  // RFC 7515 §4.1.6: standard b64
  }
  nlohmann::ordered_json envelope;
  envelope["payload"] =
      request.defect == EnvelopeDefect::kTamperedPayload
          ? Base64Url(base::AsBytes(TamperedPayloadJson(request.target)))
          : payload_b64;
  envelope["protected"] = protected_b64;
  if (token) {
    // notation-core-go jwsUnprotectedHeader: the token ([]byte, so standard
    // base64 with padding) is its first field.
    envelope["header"][std::string(kTimestampSignatureKey)] = Base64Std(*token);
  }
  envelope["header"]["x5c"] = std::move(x5c);
  envelope["header"][std::string(kSigningAgentKey)] = kSigningAgent;
  envelope["signature"] = Base64Url(signature);
  const std::string text = envelope.dump();
  return base::Bytes(text.begin(), text.end());
}

// --- COSE -----------------------------------------------------------------

struct CborDeleter {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
using CborPtr = std::unique_ptr<cbor_item_t, CborDeleter>;

// RFC 8949 §4.2.1: integers in their shortest form.
CborPtr Uint(uint64_t v) {
  if (v <= 0xff) {
    return CborPtr(cbor_build_uint8(static_cast<uint8_t>(v)));
  }
  if (v <= 0xffff) {
    return CborPtr(cbor_build_uint16(static_cast<uint16_t>(v)));
  }
  if (v <= 0xffffffffULL) {
    return CborPtr(cbor_build_uint32(static_cast<uint32_t>(v)));
  }
  return CborPtr(cbor_build_uint64(v));
}

CborPtr NegInt(int64_t v) {  // v < 0
  const uint64_t n = static_cast<uint64_t>(-(v + 1));
  if (n <= 0xff) {
    return CborPtr(cbor_build_negint8(static_cast<uint8_t>(n)));
  }
  if (n <= 0xffff) {
    return CborPtr(cbor_build_negint16(static_cast<uint16_t>(n)));
  }
  return CborPtr(cbor_build_negint32(static_cast<uint32_t>(n)));
}

CborPtr Text(std::string_view s) {
  return CborPtr(cbor_build_stringn(s.data(), s.size()));
}

CborPtr ByteString(base::ByteView b) {
  return CborPtr(cbor_build_bytestring(b.data(), b.size()));
}

// RFC 8949 §3.4.2: epoch-based date/time, tag 1, integer seconds.
CborPtr EpochTime(int64_t seconds) {
  CborPtr value = Uint(static_cast<uint64_t>(seconds));
  return CborPtr(cbor_build_tag(1, value.get()));
}

// Array builds a definite array of `items` (each is borrowed by the array
// with its own reference).
template <typename... Items>
CborPtr Array(Items... items) {
  CborPtr array(cbor_new_definite_array(sizeof...(items)));
  (cbor_array_push(array.get(), items.get()), ...);
  return array;
}

base::Bytes Serialize(const cbor_item_t* item) {
  unsigned char* buffer = nullptr;
  size_t capacity = 0;
  const size_t len = cbor_serialize_alloc(item, &buffer, &capacity);
  base::Bytes out(buffer, buffer + len);
  std::free(buffer);
  return out;
}

// BuildMap makes a definite map with its keys in the deterministic order of
// RFC 8949 §4.2.1 (bytewise order of the encoded keys), which is what
// go-cose writes.
CborPtr BuildMap(std::vector<std::pair<CborPtr, CborPtr>> entries) {
  std::vector<std::pair<base::Bytes, size_t>> order;
  for (size_t i = 0; i < entries.size(); ++i) {
    order.emplace_back(Serialize(entries[i].first.get()), i);
  }
  std::sort(order.begin(), order.end());
  CborPtr map(cbor_new_definite_map(entries.size()));
  for (const auto& [key_bytes, index] : order) {
    cbor_map_add(map.get(), cbor_pair{entries[index].first.get(),
                                      entries[index].second.get()});
  }
  return map;
}

base::Result<base::Bytes, MkError> BuildCose(const EnvelopeRequest& request,
                                             const Signer& signer) {
  const Algorithm alg = AlgorithmFor(signer.leaf->type);
  // signature-envelope-cose.md, Protected Header.
  std::vector<std::pair<CborPtr, CborPtr>> headers;
  headers.emplace_back(Uint(1), NegInt(alg.cose_id));
  CborPtr crit(cbor_new_definite_array(CriticalList(request).size()));
  for (const std::string& name : CriticalList(request)) {
    CborPtr item = Text(name);
    cbor_array_push(crit.get(), item.get());
  }
  headers.emplace_back(Uint(2), std::move(crit));
  headers.emplace_back(Uint(3), Text(kPayloadContentType));
  headers.emplace_back(Text(kSigningSchemeKey),
                       Text(SchemeName(request.scheme)));
  headers.emplace_back(
      Text(request.scheme == SigningScheme::kX509 ? kSigningTimeKey
                                                  : kAuthenticSigningTimeKey),
      EpochTime(request.signing_time));
  if (request.expiry) {
    headers.emplace_back(Text(kExpiryKey), EpochTime(*request.expiry));
  }
  if (request.extra_critical) {
    headers.emplace_back(Text(request.extra_critical->first),
                         Text(request.extra_critical->second));
  }
  for (const EnvelopeRequest::Attribute& a : request.attributes) {
    headers.emplace_back(Text(a.key), Text(a.value));
  }
  const base::Bytes protected_bytes =
      Serialize(BuildMap(std::move(headers)).get());
  const std::string payload = PayloadJson(request.target);

  // RFC 9052 §4.4: Sig_structure = ["Signature1", protected, h'', payload].
  CborPtr sig_structure =
      Array(Text("Signature1"), ByteString(protected_bytes), ByteString({}),
            ByteString(base::AsBytes(payload)));
  TG_ASSIGN_OR_RETURN(base::Bytes signature,
                      SignRaw(signer.leaf->type, signer.leaf->key.get(),
                              Serialize(sig_structure.get())));
  if (request.defect == EnvelopeDefect::kCorruptedSignature) {
    FlipSignatureBit(signature);
  }
  TG_ASSIGN_OR_RETURN(std::optional<base::Bytes> token,
                      Countersign(request, signer.leaf->type, signature));

  // Unprotected: x5chain (label 33, array of bstr, leaf first), the signing
  // agent and the timestamp token.
  CborPtr x5chain(cbor_new_definite_array(signer.chain.size()));
  for (const Credential* cert : signer.chain) {
    CborPtr item = ByteString(cert->der);
    cbor_array_push(x5chain.get(), item.get());
  }
  std::vector<std::pair<CborPtr, CborPtr>> unprotected;
  unprotected.emplace_back(Uint(33), std::move(x5chain));
  unprotected.emplace_back(Text(kSigningAgentKey), Text(kSigningAgent));
  if (token) {
    unprotected.emplace_back(Text(kTimestampSignatureKey), ByteString(*token));
  }

  const std::string written_payload =
      request.defect == EnvelopeDefect::kTamperedPayload
          ? TamperedPayloadJson(request.target)
          : payload;
  // RFC 9052 §4.2: COSE_Sign1_Tagged = #6.18([protected, unprotected,
  // payload, signature]).
  CborPtr sign1 =
      Array(ByteString(protected_bytes), BuildMap(std::move(unprotected)),
            ByteString(base::AsBytes(written_payload)), ByteString(signature));
  CborPtr tagged(cbor_build_tag(18, sign1.get()));
  return Serialize(tagged.get());
}

}  // namespace

std::string_view MediaType(EnvelopeFormat format) {
  return format == EnvelopeFormat::kJws ? "application/jose+json"
                                        : "application/cose";
}

std::string PayloadJson(const TargetDescriptor& target) {
  // signature-specification.md, Payload. Keys sorted, as Notation writes
  // them.
  nlohmann::json descriptor = nlohmann::json::object();
  descriptor["mediaType"] = target.media_type;
  descriptor["digest"] = target.digest;
  descriptor["size"] = target.size;
  nlohmann::json payload = nlohmann::json::object();
  payload["targetArtifact"] = std::move(descriptor);
  return payload.dump();
}

base::Result<base::Bytes, MkError> SignRaw(KeyType type, EVP_PKEY* key,
                                           base::ByteView message) {
  const Algorithm alg = AlgorithmFor(type);
  crypto::UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), &pctx, alg.md(), nullptr, key) != 1) {
    return base::MakeError(MkError::kCrypto, "EVP_DigestSignInit failed");
  }
  if (IsRsa(type)) {
    // signing-scheme.md: RSASSA-PSS, salt length = digest length.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
      return base::MakeError(MkError::kCrypto, "PSS parameters rejected");
    }
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, message.data(),
                     message.size()) != 1) {
    return base::MakeError(MkError::kCrypto, "EVP_DigestSign (size) failed");
  }
  base::Bytes der(len);
  if (EVP_DigestSign(ctx.get(), der.data(), &len, message.data(),
                     message.size()) != 1) {
    return base::MakeError(MkError::kCrypto, "EVP_DigestSign failed");
  }
  der.resize(len);
  if (alg.ec_field_bytes == 0) {
    return der;
  }
  // ECDSA: OpenSSL returns DER; JWS and COSE carry r||s, each left-padded
  // to the field size.
  const unsigned char* p = der.data();
  crypto::UniqueEcdsaSig sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    return base::MakeError(MkError::kCrypto, "ECDSA signature not DER");
  }
  const size_t n = static_cast<size_t>(alg.ec_field_bytes);
  base::Bytes raw(2 * n);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(),
                   static_cast<int>(n)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + n,
                   static_cast<int>(n)) < 0) {
    return base::MakeError(MkError::kCrypto, "ECDSA r/s too large");
  }
  return raw;
}

base::Result<base::Bytes, MkError> BuildEnvelope(const EnvelopeRequest& request,
                                                 const Signer& signer) {
  if (signer.leaf == nullptr || signer.chain.empty()) {
    return base::MakeError(MkError::kUsage, "signer without a certificate");
  }
  return request.format == EnvelopeFormat::kJws ? BuildJws(request, signer)
                                                : BuildCose(request, signer);
}

}  // namespace trustgate::mkmirror
