#pragma once

// Notary Project signature envelopes (JWS and COSE), parsed into one
// format-independent Envelope, plus the integrity check and the payload.

#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "crypto/certificate.h"
#include "crypto/error.h"
#include "crypto/signature.h"

namespace trustgate::crypto {

inline constexpr std::string_view kMediaTypeJws = "application/jose+json";
inline constexpr std::string_view kMediaTypeCose = "application/cose";
inline constexpr std::string_view kPayloadContentType =
    "application/vnd.cncf.notary.payload.v1+json";

// EnvelopeFormat is the envelope encoding.
enum class EnvelopeFormat { kJws, kCose };
std::string_view ToString(EnvelopeFormat f);  // "jws" / "cose"

// SigningScheme is io.cncf.notary.signingScheme.
enum class SigningScheme { kX509, kX509SigningAuthority };
std::string_view ToString(SigningScheme s);  // "notary.x509", ...

// ExtendedAttribute is a protected attribute that is not one of the
// Notary Project's own (e.g. com.amazonaws.signer.signingJob). `value` is
// its JSON text (JWS) or a JSON rendering of the CBOR value (COSE).
struct ExtendedAttribute {
  std::string key;
  std::string value;
  bool critical = false;
};

// Envelope is a parsed, not yet verified, signature envelope. It owns all
// its bytes.
struct Envelope {
  EnvelopeFormat format = EnvelopeFormat::kJws;
  SignatureAlgorithm algorithm = SignatureAlgorithm::kPs256;
  std::string content_type;  // payload content type (cty / label 3)
  base::Bytes payload;       // decoded payload bytes
  SigningScheme scheme = SigningScheme::kX509;
  std::optional<base::Time> signing_time;            // notary.x509
  std::optional<base::Time> authentic_signing_time;  // signingAuthority
  std::optional<base::Time> expiry;
  std::optional<std::string> verification_plugin;
  std::optional<std::string> verification_plugin_min_version;
  std::vector<std::string> critical;  // every name listed in crit
  std::vector<ExtendedAttribute> extended_attributes;
  std::string signing_agent;                      // unprotected, optional
  std::vector<CertificatePtr> certificate_chain;  // leaf first
  base::Bytes signature;                          // raw signature bytes
  base::Bytes signed_bytes;  // exactly the bytes the signature covers
  std::optional<base::Bytes> timestamp_token;  // RFC 3161 TimeStampToken
};

// ParseEnvelope parses `bytes` as `format` (dispatching to ParseJws /
// ParseCose) and checks everything that does not need a key: required and
// critical attributes, types, content type, expiry after signing time,
// certificate DER. Unknown critical attributes are kept in
// extended_attributes (critical = true); the caller decides (a plugin may
// process them). Bounded: at most 32 MiB of input, 100 certificates.
base::Result<Envelope, CryptoError> ParseEnvelope(EnvelopeFormat format,
                                                  base::ByteView bytes);

// VerifyEnvelopeIntegrity checks the envelope's signature with the leaf's
// key: the algorithm must be the one AlgorithmForKey derives from the leaf
// (kAlgorithmKeyMismatch), and the signature must verify over
// signed_bytes (kBadSignature).
base::Status<CryptoError> VerifyEnvelopeIntegrity(const Envelope& envelope);

// TargetArtifact is the payload's targetArtifact descriptor.
struct TargetArtifact {
  std::string media_type;
  std::string digest;  // as written; the caller compares it
  int64_t size = 0;
  std::vector<std::pair<std::string, std::string>> annotations;
};

// ParsePayload parses the Notary Project payload
// ({"targetArtifact": {...}}): mediaType, digest and size required and
// typed, duplicate keys rejected at every level.
base::Result<TargetArtifact, CryptoError> ParsePayload(base::ByteView json);

}  // namespace trustgate::crypto
