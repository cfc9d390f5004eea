#include "crypto/envelope.h"

#include <simdjson.h>

#include <string>
#include <utility>

#include "crypto/base64.h"
#include "crypto/cose.h"
#include "crypto/jws.h"

namespace trustgate::crypto {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

base::Error<CryptoError> PayloadError(CryptoError code, std::string detail) {
  return base::MakeError(code, "signature payload: " + std::move(detail));
}

// RequireString reads a string member of the payload's descriptor.
base::Result<std::string, CryptoError> RequireString(element value,
                                                     std::string_view name) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return PayloadError(
        CryptoError::kBadAttribute,
        "targetArtifact." + std::string(name) + " must be a JSON string");
  }
  return std::string(text);
}

}  // namespace

std::string_view ToString(EnvelopeFormat f) {
  switch (f) {
    case EnvelopeFormat::kJws:
      return "jws";
    case EnvelopeFormat::kCose:
      return "cose";
  }
  return "unknown";
}

std::string_view ToString(SigningScheme s) {
  switch (s) {
    case SigningScheme::kX509:
      return "notary.x509";
    case SigningScheme::kX509SigningAuthority:
      return "notary.x509.signingAuthority";
  }
  return "unknown";
}

base::Result<Envelope, CryptoError> ParseEnvelope(EnvelopeFormat format,
                                                  base::ByteView bytes,
                                                  ParseOptions options) {
  switch (format) {
    case EnvelopeFormat::kJws:
      return ParseJws(bytes, options);
    case EnvelopeFormat::kCose:
      return ParseCose(bytes, options);
  }
  return base::MakeError(CryptoError::kMalformed, "unknown envelope format");
}

namespace internal {

base::Status<CryptoError> FinishEnvelope(
    Envelope* envelope, const std::vector<base::ByteView>& certificate_der,
    ParseOptions options) {
  // signature-specification.md "Content Type": the only supported value;
  // notation-go ValidatePayloadContentType.
  if (envelope->content_type != kPayloadContentType) {
    return base::MakeError(CryptoError::kBadContentType,
                           "payload content type is \"" +
                               envelope->content_type +
                               "\"; Notation signs only \"" +
                               std::string(kPayloadContentType) + "\"");
  }
  // notation-core-go base.validatePayload: "content not present".
  if (envelope->payload.empty()) {
    return base::MakeError(CryptoError::kMissingAttribute,
                           "the envelope's payload is empty");
  }
  // notation-core-go base.validateSignerInfo: "signature not present".
  if (envelope->signature.empty()) {
    return base::MakeError(CryptoError::kMissingAttribute,
                           "the envelope's signature is empty");
  }
  // signature-specification.md "Signed Attributes": signing time for
  // notary.x509, authentic signing time for notary.x509.signingAuthority.
  const std::optional<base::Time>& signed_at =
      envelope->scheme == SigningScheme::kX509
          ? envelope->signing_time
          : envelope->authentic_signing_time;
  if (!signed_at) {
    return base::MakeError(CryptoError::kMissingAttribute,
                           std::string(envelope->scheme == SigningScheme::kX509
                                           ? kHeaderSigningTime
                                           : kHeaderAuthenticSigningTime) +
                               " is required under signing scheme " +
                               std::string(ToString(envelope->scheme)));
  }
  // notation-core-go base.validateSigningAndExpiryTime: the expiry must be
  // strictly after the (authentic) signing time.
  if (envelope->expiry && *envelope->expiry <= *signed_at) {
    return base::MakeError(CryptoError::kBadAttribute,
                           std::string(kHeaderExpiry) + " (" +
                               base::FormatRfc3339(*envelope->expiry) +
                               ") is not after the signing time (" +
                               base::FormatRfc3339(*signed_at) + ")");
  }
  // signature-specification.md "Unsigned Attributes": the chain is
  // required, leaf first.
  if (certificate_der.empty()) {
    return base::MakeError(CryptoError::kChainEmpty,
                           "the envelope carries no certificate chain");
  }
  if (certificate_der.size() > kMaxCertificates) {
    return base::MakeError(
        CryptoError::kTooLarge,
        "the envelope carries " + std::to_string(certificate_der.size()) +
            " certificates; at most " + std::to_string(kMaxCertificates) +
            " are accepted");
  }
  envelope->certificate_der.clear();
  envelope->certificate_der.reserve(certificate_der.size());
  for (base::ByteView der : certificate_der) {
    envelope->certificate_der.emplace_back(der.begin(), der.end());
  }
  envelope->certificate_chain.clear();
  if (options.certificates == CertificateParsing::kDeferred) {
    return base::Ok{};
  }
  envelope->certificate_chain.reserve(certificate_der.size());
  for (size_t i = 0; i < certificate_der.size(); ++i) {
    auto cert = Certificate::FromDer(certificate_der[i]);
    if (!cert.ok()) {
      return base::MakeError(cert.code(),
                             "certificate " + std::to_string(i) +
                                 " of the envelope's chain: " + cert.detail());
    }
    envelope->certificate_chain.push_back(std::move(cert).value());
  }
  return base::Ok{};
}

}  // namespace internal

base::Status<CryptoError> VerifyEnvelopeIntegrity(const Envelope& envelope) {
  if (envelope.certificate_chain.empty() ||
      envelope.certificate_chain.front() == nullptr) {
    return base::MakeError(CryptoError::kChainEmpty,
                           "the envelope carries no signing certificate");
  }
  const Certificate& leaf = *envelope.certificate_chain.front();
  const EVP_PKEY* key = leaf.public_key();
  // signature-envelope-jws.md / -cose.md "Supported alg header values":
  // alg MUST be the signature algorithm of the signing certificate's key.
  auto key_algorithm = AlgorithmForKey(key);
  if (!key_algorithm.ok()) {
    return base::MakeError(key_algorithm.code(),
                           "signing certificate: " + key_algorithm.detail());
  }
  if (*key_algorithm != envelope.algorithm) {
    return base::MakeError(
        CryptoError::kAlgorithmKeyMismatch,
        "the envelope says " + std::string(ToString(envelope.algorithm)) +
            " but the signing certificate's key signs with " +
            std::string(ToString(*key_algorithm)));
  }
  // notation-core-go verifies JWS through golang-jwt, whose PS256/384/512
  // verify with rsa.PSSSaltLengthAuto; COSE goes through go-cose, which
  // requires salt length == hash length (RFC 8230 §2).
  const PssSaltLength salt = envelope.format == EnvelopeFormat::kJws
                                 ? PssSaltLength::kAuto
                                 : PssSaltLength::kEqualsHash;
  return VerifySignature(envelope.algorithm, key, envelope.signed_bytes,
                         envelope.signature, salt);
}

base::Result<TargetArtifact, CryptoError> ParsePayload(base::ByteView json) {
  simdjson::dom::parser parser;
  TG_ASSIGN_OR_RETURN(element root, internal::ParseStrictJson(
                                        parser, json, "signature payload"));
  simdjson::dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return PayloadError(CryptoError::kMalformed, "must be a JSON object");
  }
  // signature-specification.md "Payload": targetArtifact is required.
  element target_element;
  if (top["targetArtifact"].get(target_element) != simdjson::SUCCESS) {
    return PayloadError(CryptoError::kMissingAttribute,
                        "targetArtifact is missing");
  }
  simdjson::dom::object target;
  if (target_element.get_object().get(target) != simdjson::SUCCESS) {
    return PayloadError(CryptoError::kBadAttribute,
                        "targetArtifact must be a JSON object");
  }
  TargetArtifact out;
  bool have_media_type = false;
  bool have_digest = false;
  bool have_size = false;
  // notation-go decodes targetArtifact into an OCI descriptor: unknown
  // members are ignored, known ones must have the descriptor's types.
  for (auto field : target) {
    const std::string_view key = field.key;
    element value = field.value;
    if (key == "mediaType") {
      TG_ASSIGN_OR_RETURN(out.media_type, RequireString(value, key));
      have_media_type = true;
    } else if (key == "digest") {
      TG_ASSIGN_OR_RETURN(out.digest, RequireString(value, key));
      have_digest = true;
    } else if (key == "size") {
      // OCI descriptor: size is an int64; 517.0 or 5.17e2 are not.
      int64_t size = 0;
      if (!value.is_int64() ||
          value.get_int64().get(size) != simdjson::SUCCESS) {
        return PayloadError(CryptoError::kBadAttribute,
                            "targetArtifact.size must be a JSON integer that "
                            "fits in 64 bits");
      }
      out.size = size;
      have_size = true;
    } else if (key == "annotations") {
      if (value.is_null()) {
        continue;
      }
      simdjson::dom::object annotations;
      if (value.get_object().get(annotations) != simdjson::SUCCESS) {
        return PayloadError(CryptoError::kBadAttribute,
                            "targetArtifact.annotations must be an object of "
                            "strings");
      }
      for (auto annotation : annotations) {
        std::string_view text;
        if (annotation.value.get_string().get(text) != simdjson::SUCCESS) {
          return PayloadError(CryptoError::kBadAttribute,
                              "targetArtifact.annotations[\"" +
                                  std::string(annotation.key) +
                                  "\"] must be a string");
        }
        out.annotations.emplace_back(std::string(annotation.key),
                                     std::string(text));
      }
    } else if (key == "artifactType") {
      if (!value.is_null() && !value.is_string()) {
        return PayloadError(CryptoError::kBadAttribute,
                            "targetArtifact.artifactType must be a string");
      }
    } else if (key == "urls") {
      if (value.is_null()) {
        continue;
      }
      simdjson::dom::array urls;
      if (value.get_array().get(urls) != simdjson::SUCCESS) {
        return PayloadError(CryptoError::kBadAttribute,
                            "targetArtifact.urls must be an array of strings");
      }
      for (element url : urls) {
        if (!url.is_string()) {
          return PayloadError(
              CryptoError::kBadAttribute,
              "targetArtifact.urls must be an array of strings");
        }
      }
    } else if (key == "data") {
      if (value.is_null()) {
        continue;
      }
      std::string_view data;
      if (value.get_string().get(data) != simdjson::SUCCESS ||
          !DecodeBase64(data, Base64Variant::kStandardPadded).ok()) {
        return PayloadError(CryptoError::kBadAttribute,
                            "targetArtifact.data must be a base64 string");
      }
    } else if (key == "platform") {
      if (!value.is_null() && !value.is_object()) {
        return PayloadError(CryptoError::kBadAttribute,
                            "targetArtifact.platform must be an object");
      }
    }
  }
  // signature-specification.md "Payload": the descriptor MUST contain
  // mediaType, digest and size.
  if (!have_media_type || !have_digest || !have_size) {
    return PayloadError(CryptoError::kMissingAttribute,
                        std::string("targetArtifact.") +
                            (!have_media_type ? "mediaType"
                             : !have_digest   ? "digest"
                                              : "size") +
                            " is missing");
  }
  return out;
}

}  // namespace trustgate::crypto
