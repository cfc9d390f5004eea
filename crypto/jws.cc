#include "crypto/jws.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crypto/base64.h"

namespace trustgate::crypto {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Registered JWS header names (RFC 7515 §4.1) that Notation uses.
constexpr std::string_view kHeaderAlg = "alg";
constexpr std::string_view kHeaderCty = "cty";
constexpr std::string_view kHeaderCrit = "crit";
// RFC 7515 §4.1.6.
constexpr std::string_view kHeaderX5c = "x5c";

base::Error<CryptoError> JwsError(CryptoError code, std::string detail) {
  return base::MakeError(code, "JWS envelope: " + std::move(detail));
}

// CheckNoDuplicateKeys walks `value` and fails on the first object that
// names a key twice. Keys are compared after JSON unescaping, so "a" and
// "\u0061" collide (as they do for Go's encoding/json, which keeps the
// last one; we refuse instead).
base::Status<CryptoError> CheckNoDuplicateKeys(element value,
                                               std::string_view what) {
  switch (value.type()) {
    case element_type::OBJECT: {
      object obj;
      if (value.get_object().get(obj) != simdjson::SUCCESS) {
        return base::Ok{};
      }
      std::vector<std::string_view> keys;
      keys.reserve(obj.size());
      for (auto field : obj) {
        keys.push_back(field.key);
        TG_RETURN_IF_ERROR(CheckNoDuplicateKeys(field.value, what));
      }
      std::sort(keys.begin(), keys.end());
      auto dup = std::adjacent_find(keys.begin(), keys.end());
      if (dup != keys.end()) {
        return base::MakeError(CryptoError::kDuplicateKey,
                               std::string(what) + " names \"" +
                                   std::string(*dup) +
                                   "\" twice in one object");
      }
      return base::Ok{};
    }
    case element_type::ARRAY: {
      array items;
      if (value.get_array().get(items) != simdjson::SUCCESS) {
        return base::Ok{};
      }
      for (element item : items) {
        TG_RETURN_IF_ERROR(CheckNoDuplicateKeys(item, what));
      }
      return base::Ok{};
    }
    default:
      return base::Ok{};
  }
}

// DecodeSegment decodes one base64url (unpadded) member of the envelope.
base::Result<base::Bytes, CryptoError> DecodeSegment(std::string_view text,
                                                     std::string_view name) {
  // signature-envelope-jws.md "Signature": base64url without padding and
  // without any additional characters (RFC 7515 §2).
  auto decoded = DecodeBase64(text, Base64Variant::kUrlUnpadded);
  if (!decoded.ok()) {
    return JwsError(decoded.code(), std::string(name) +
                                        " is not base64url without padding: " +
                                        decoded.detail());
  }
  return std::move(decoded).value();
}

// ParseTimeHeader reads an RFC 3339 time header
// (signature-envelope-jws.md "Protected Headers").
base::Result<base::Time, CryptoError> ParseTimeHeader(element value,
                                                      std::string_view name) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return JwsError(CryptoError::kBadAttribute,
                    std::string(name) + " must be an RFC 3339 string");
  }
  std::optional<base::Time> t = base::ParseRfc3339(text);
  if (!t) {
    return JwsError(CryptoError::kBadAttribute,
                    std::string(name) + " is not an RFC 3339 date-time: \"" +
                        std::string(text) + "\"");
  }
  return *t;
}

// A protected header as read, before the Notation rules are applied.
struct ProtectedHeader {
  std::optional<std::string_view> alg;
  std::optional<std::string_view> cty;
  std::optional<std::vector<std::string>> crit;
  std::optional<std::string_view> signing_scheme;
  std::optional<base::Time> signing_time;
  std::optional<base::Time> authentic_signing_time;
  std::optional<base::Time> expiry;
  // Every other member, in document order (notation-core-go
  // parseProtectedHeaders: "ExtendedAttributes").
  std::vector<std::pair<std::string_view, element>> extended;
};

base::Result<ProtectedHeader, CryptoError> ReadProtectedHeader(object header) {
  ProtectedHeader out;
  for (auto field : header) {
    const std::string_view key = field.key;
    element value = field.value;
    if (key == kHeaderAlg || key == kHeaderCty || key == kHeaderSigningScheme) {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) {
        return JwsError(
            CryptoError::kBadAttribute,
            "protected header \"" + std::string(key) + "\" must be a string");
      }
      (key == kHeaderAlg   ? out.alg
       : key == kHeaderCty ? out.cty
                           : out.signing_scheme) = text;
    } else if (key == kHeaderCrit) {
      // signature-envelope-jws.md: crit is an array of strings.
      array items;
      if (value.get_array().get(items) != simdjson::SUCCESS) {
        return JwsError(CryptoError::kBadAttribute,
                        "protected header \"crit\" must be an array of "
                        "strings");
      }
      std::vector<std::string> names;
      for (element item : items) {
        std::string_view name;
        if (item.get_string().get(name) != simdjson::SUCCESS) {
          return JwsError(CryptoError::kBadAttribute,
                          "protected header \"crit\" must be an array of "
                          "strings");
        }
        names.emplace_back(name);
      }
      out.crit = std::move(names);
    } else if (key == kHeaderSigningTime) {
      TG_ASSIGN_OR_RETURN(out.signing_time, ParseTimeHeader(value, key));
    } else if (key == kHeaderAuthenticSigningTime) {
      TG_ASSIGN_OR_RETURN(out.authentic_signing_time,
                          ParseTimeHeader(value, key));
    } else if (key == kHeaderExpiry) {
      TG_ASSIGN_OR_RETURN(out.expiry, ParseTimeHeader(value, key));
    } else {
      out.extended.emplace_back(key, value);
    }
  }
  return out;
}

// ReadPluginAttribute applies notation-go's rules for the two
// verification-plugin attributes (extractCriticalStringExtendedAttribute):
// critical, a string, not blank.
base::Result<std::string, CryptoError> ReadPluginAttribute(
    std::string_view name, element value, bool critical) {
  std::string_view text;
  if (!critical) {
    return JwsError(CryptoError::kBadAttribute,
                    std::string(name) + " must be listed in \"crit\"");
  }
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return JwsError(CryptoError::kBadAttribute,
                    std::string(name) + " must be a string");
  }
  if (text.find_first_not_of(" \t\n\r\v\f") == std::string_view::npos) {
    return JwsError(CryptoError::kBadAttribute,
                    std::string(name) + " must not be blank");
  }
  return std::string(text);
}

// ApplyProtectedHeader checks `h` against the Notary Project rules and
// fills the signed attributes of `envelope`.
base::Status<CryptoError> ApplyProtectedHeader(const ProtectedHeader& h,
                                               Envelope* envelope) {
  // signature-envelope-jws.md: io.cncf.notary.signingScheme is REQUIRED,
  // notary.x509 or notary.x509.signingAuthority.
  if (!h.signing_scheme) {
    return JwsError(CryptoError::kMissingAttribute,
                    std::string(kHeaderSigningScheme) + " is missing");
  }
  if (*h.signing_scheme == ToString(SigningScheme::kX509)) {
    envelope->scheme = SigningScheme::kX509;
  } else if (*h.signing_scheme ==
             ToString(SigningScheme::kX509SigningAuthority)) {
    envelope->scheme = SigningScheme::kX509SigningAuthority;
  } else {
    return JwsError(CryptoError::kBadAttribute,
                    "unsupported signing scheme \"" +
                        std::string(*h.signing_scheme) + "\"");
  }
  // signature-envelope-jws.md: signingTime is "only valid" under
  // notary.x509 and authenticSigningTime only under
  // notary.x509.signingAuthority; notation-core-go's JWS
  // validateProtectedHeaders rejects the other scheme's time.
  if (envelope->scheme == SigningScheme::kX509) {
    if (h.authentic_signing_time) {
      return JwsError(CryptoError::kBadAttribute,
                      std::string(kHeaderAuthenticSigningTime) +
                          " must not be present under notary.x509");
    }
    envelope->signing_time = h.signing_time;
  } else {
    if (h.signing_time) {
      return JwsError(CryptoError::kBadAttribute,
                      std::string(kHeaderSigningTime) +
                          " must not be present under "
                          "notary.x509.signingAuthority");
    }
    envelope->authentic_signing_time = h.authentic_signing_time;
  }
  envelope->expiry = h.expiry;

  // crit (signature-envelope-jws.md; notation-core-go
  // validateCriticalHeaders): required and non-empty; must list the
  // signing scheme, the expiry when present and the authentic signing time
  // under signingAuthority; any other name listed must be an extended
  // attribute that is present. A required name listed twice, or a Notary
  // or registered header such as signingTime or alg, is therefore refused.
  if (!h.crit || h.crit->empty()) {
    return JwsError(CryptoError::kMissingAttribute,
                    "protected header \"crit\" is missing or empty");
  }
  std::set<std::string_view> must_be_critical = {kHeaderSigningScheme};
  if (h.expiry) {
    must_be_critical.insert(kHeaderExpiry);
  }
  if (envelope->scheme == SigningScheme::kX509SigningAuthority) {
    must_be_critical.insert(kHeaderAuthenticSigningTime);
  }
  std::set<std::string_view> extended_names;
  for (const auto& [name, value] : h.extended) {
    extended_names.insert(name);
  }
  for (const std::string& name : *h.crit) {
    if (must_be_critical.erase(name) == 1) {
      continue;
    }
    if (extended_names.count(name) == 0) {
      return JwsError(CryptoError::kMalformed,
                      "\"" + name +
                          "\" is listed in \"crit\" but is not a header "
                          "that may be marked critical here");
    }
  }
  if (!must_be_critical.empty()) {
    return JwsError(CryptoError::kBadAttribute,
                    "\"" + std::string(*must_be_critical.begin()) +
                        "\" must be listed in \"crit\"");
  }
  envelope->critical = *h.crit;

  // signature-envelope-jws.md "Supported alg header values".
  if (!h.alg) {
    return JwsError(CryptoError::kMissingAttribute,
                    "protected header \"alg\" is missing");
  }
  auto algorithm = AlgorithmFromJwsName(*h.alg);
  if (!algorithm.ok()) {
    return JwsError(algorithm.code(), "alg \"" + std::string(*h.alg) +
                                          "\" is not a Notary Project "
                                          "algorithm (PS256..PS512, "
                                          "ES256..ES512)");
  }
  envelope->algorithm = *algorithm;

  // signature-envelope-jws.md: cty is REQUIRED (its value is checked in
  // FinishEnvelope).
  if (!h.cty) {
    return JwsError(CryptoError::kMissingAttribute,
                    "protected header \"cty\" is missing");
  }
  envelope->content_type = std::string(*h.cty);

  // Extended attributes, critical iff listed in crit
  // (notation-core-go getExtendedAttributes).
  const std::set<std::string_view> crit_set(h.crit->begin(), h.crit->end());
  auto is_critical = [&](std::string_view name) {
    return crit_set.count(name) != 0;
  };
  const element* min_version = nullptr;
  for (const auto& [name, value] : h.extended) {
    if (name == kHeaderVerificationPlugin) {
      TG_ASSIGN_OR_RETURN(envelope->verification_plugin,
                          ReadPluginAttribute(name, value, is_critical(name)));
    } else if (name == kHeaderVerificationPluginMinVersion) {
      min_version = &value;
    } else {
      envelope->extended_attributes.push_back(
          ExtendedAttribute{std::string(name), simdjson::to_string(value),
                            is_critical(name), false});
    }
  }
  // notation-go reads the minimum version only when a plugin is named.
  if (min_version != nullptr && envelope->verification_plugin) {
    TG_ASSIGN_OR_RETURN(
        envelope->verification_plugin_min_version,
        ReadPluginAttribute(kHeaderVerificationPluginMinVersion, *min_version,
                            is_critical(kHeaderVerificationPluginMinVersion)));
  }
  return base::Ok{};
}

// ReadUnprotectedHeader reads the envelope's "header" member: x5c (chain,
// standard base64 DER), the timestamp countersignature (standard base64)
// and the signing agent. Other members are ignored, as Go's encoding/json
// ignores them in notation-core-go's jwsUnprotectedHeader.
base::Status<CryptoError> ReadUnprotectedHeader(
    object header, Envelope* envelope, std::vector<base::Bytes>* chain_der) {
  for (auto field : header) {
    const std::string_view key = field.key;
    element value = field.value;
    if (key == kHeaderX5c) {
      if (value.is_null()) {
        continue;
      }
      array certs;
      if (value.get_array().get(certs) != simdjson::SUCCESS) {
        return JwsError(CryptoError::kMalformed,
                        "header \"x5c\" must be an array of base64 strings");
      }
      // Bound before decoding anything.
      if (certs.size() > kMaxCertificates) {
        return JwsError(CryptoError::kTooLarge,
                        "header \"x5c\" holds " + std::to_string(certs.size()) +
                            " certificates; at most " +
                            std::to_string(kMaxCertificates) + " are accepted");
      }
      for (element cert : certs) {
        std::string_view text;
        if (cert.get_string().get(text) != simdjson::SUCCESS) {
          return JwsError(CryptoError::kMalformed,
                          "header \"x5c\" must be an array of base64 "
                          "strings");
        }
        // RFC 7515 §4.1.6: base64 (not base64url) DER.
        auto der = DecodeBase64(text, Base64Variant::kStandardPadded);
        if (!der.ok()) {
          return JwsError(der.code(),
                          "an \"x5c\" entry is not padded standard base64: " +
                              der.detail());
        }
        chain_der->push_back(std::move(der).value());
      }
    } else if (key == kHeaderTimestampSignature) {
      if (value.is_null()) {
        continue;
      }
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) {
        return JwsError(CryptoError::kMalformed,
                        std::string(kHeaderTimestampSignature) +
                            " must be a base64 string");
      }
      auto token = DecodeBase64(text, Base64Variant::kStandardPadded);
      if (!token.ok()) {
        return JwsError(token.code(), std::string(kHeaderTimestampSignature) +
                                          " is not padded standard base64: " +
                                          token.detail());
      }
      // An empty token is no token (notation-go tests len() == 0).
      if (!token->empty()) {
        envelope->timestamp_token = std::move(token).value();
      }
    } else if (key == kHeaderSigningAgent) {
      if (value.is_null()) {
        continue;
      }
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) {
        return JwsError(CryptoError::kMalformed,
                        std::string(kHeaderSigningAgent) + " must be a string");
      }
      envelope->signing_agent = std::string(text);
    }
  }
  return base::Ok{};
}

}  // namespace

namespace internal {

base::Result<element, CryptoError> ParseStrictJson(
    simdjson::dom::parser& parser, base::ByteView json, std::string_view what) {
  element root;
  const simdjson::error_code error =
      parser.parse(json.data(), json.size()).get(root);
  if (error != simdjson::SUCCESS) {
    return base::MakeError(CryptoError::kMalformed,
                           std::string(what) + " is not valid JSON: " +
                               simdjson::error_message(error));
  }
  TG_RETURN_IF_ERROR(CheckNoDuplicateKeys(root, what));
  return root;
}

}  // namespace internal

base::Result<Envelope, CryptoError> ParseJws(base::ByteView bytes,
                                             ParseOptions options) {
  if (bytes.size() > kMaxEnvelopeBytes) {
    return JwsError(CryptoError::kTooLarge,
                    std::to_string(bytes.size()) + " bytes; at most " +
                        std::to_string(kMaxEnvelopeBytes) + " are accepted");
  }
  simdjson::dom::parser parser;
  TG_ASSIGN_OR_RETURN(element root,
                      internal::ParseStrictJson(parser, bytes, "JWS envelope"));
  object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return JwsError(CryptoError::kMalformed,
                    "must be a JSON object (flattened JWS JSON "
                    "serialization)");
  }
  // signature-envelope-jws.md "Signature Envelope": payload, protected,
  // header, signature. Other top-level members are ignored, as
  // notation-core-go ignores them (Go's encoding/json drops unknown keys);
  // in particular the general serialization's "signatures" gives no
  // payload/protected/signature and fails below.
  std::optional<std::string_view> payload_b64;
  std::optional<std::string_view> protected_b64;
  std::optional<std::string_view> signature_b64;
  std::optional<object> unprotected;
  for (auto field : top) {
    const std::string_view key = field.key;
    element value = field.value;
    if (key == "payload" || key == "protected" || key == "signature") {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) {
        return JwsError(CryptoError::kMalformed,
                        "\"" + std::string(key) + "\" must be a string");
      }
      (key == "payload"     ? payload_b64
       : key == "protected" ? protected_b64
                            : signature_b64) = text;
    } else if (key == "header") {
      if (value.is_null()) {
        continue;
      }
      object header;
      if (value.get_object().get(header) != simdjson::SUCCESS) {
        return JwsError(CryptoError::kMalformed,
                        "\"header\" must be a JSON object");
      }
      unprotected = header;
    }
  }
  if (!protected_b64) {
    return JwsError(CryptoError::kMissingAttribute, "\"protected\" is missing");
  }
  if (!payload_b64) {
    return JwsError(CryptoError::kMissingAttribute, "\"payload\" is missing");
  }
  if (!signature_b64) {
    return JwsError(CryptoError::kMissingAttribute, "\"signature\" is missing");
  }

  Envelope envelope;
  envelope.format = EnvelopeFormat::kJws;

  TG_ASSIGN_OR_RETURN(base::Bytes protected_json,
                      DecodeSegment(*protected_b64, "\"protected\""));
  simdjson::dom::parser header_parser;
  TG_ASSIGN_OR_RETURN(element header_root,
                      internal::ParseStrictJson(header_parser, protected_json,
                                                "JWS protected header"));
  object header_object;
  if (header_root.get_object().get(header_object) != simdjson::SUCCESS) {
    return JwsError(CryptoError::kMalformed,
                    "the protected header must be a JSON object");
  }
  TG_ASSIGN_OR_RETURN(ProtectedHeader header,
                      ReadProtectedHeader(header_object));
  TG_RETURN_IF_ERROR(ApplyProtectedHeader(header, &envelope));

  TG_ASSIGN_OR_RETURN(envelope.payload,
                      DecodeSegment(*payload_b64, "\"payload\""));
  TG_ASSIGN_OR_RETURN(envelope.signature,
                      DecodeSegment(*signature_b64, "\"signature\""));

  std::vector<base::Bytes> chain_der;
  if (unprotected) {
    TG_RETURN_IF_ERROR(
        ReadUnprotectedHeader(*unprotected, &envelope, &chain_der));
  }

  // signature-envelope-jws.md "Create the JWS Signing Input":
  // ASCII(BASE64URL(protected) '.' BASE64URL(payload)), as the envelope
  // carries them.
  envelope.signed_bytes.reserve(protected_b64->size() + 1 +
                                payload_b64->size());
  const base::ByteView protected_view = base::AsBytes(*protected_b64);
  const base::ByteView payload_view = base::AsBytes(*payload_b64);
  envelope.signed_bytes.assign(protected_view.begin(), protected_view.end());
  envelope.signed_bytes.push_back('.');
  envelope.signed_bytes.insert(envelope.signed_bytes.end(),
                               payload_view.begin(), payload_view.end());

  std::vector<base::ByteView> chain_views(chain_der.begin(), chain_der.end());
  TG_RETURN_IF_ERROR(internal::FinishEnvelope(&envelope, chain_views, options));
  return envelope;
}

}  // namespace trustgate::crypto
