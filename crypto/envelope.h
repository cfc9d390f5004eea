#pragma once

// Notary Project signature envelopes (JWS and COSE), parsed into one
// format-independent Envelope, plus the integrity check and the payload.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

// kMaxEnvelopeBytes bounds an envelope (as Notation bounds a signature
// blob: notation-go registry maxBlobSizeLimit, 32 MiB); kMaxCertificates
// bounds its embedded chain.
inline constexpr size_t kMaxEnvelopeBytes = size_t{32} << 20;
inline constexpr size_t kMaxCertificates = 100;

// Protected attribute names shared by both encodings
// (signature-envelope-jws.md, signature-envelope-cose.md).
inline constexpr std::string_view kHeaderSigningScheme =
    "io.cncf.notary.signingScheme";
inline constexpr std::string_view kHeaderSigningTime =
    "io.cncf.notary.signingTime";
inline constexpr std::string_view kHeaderAuthenticSigningTime =
    "io.cncf.notary.authenticSigningTime";
inline constexpr std::string_view kHeaderExpiry = "io.cncf.notary.expiry";
inline constexpr std::string_view kHeaderVerificationPlugin =
    "io.cncf.notary.verificationPlugin";
inline constexpr std::string_view kHeaderVerificationPluginMinVersion =
    "io.cncf.notary.verificationPluginMinVersion";
inline constexpr std::string_view kHeaderTimestampSignature =
    "io.cncf.notary.timestampSignature";
inline constexpr std::string_view kHeaderSigningAgent =
    "io.cncf.notary.signingAgent";

// EnvelopeFormat is the envelope encoding.
enum class EnvelopeFormat { kJws, kCose };
std::string_view ToString(EnvelopeFormat f);  // "jws" / "cose"

// SigningScheme is io.cncf.notary.signingScheme.
enum class SigningScheme { kX509, kX509SigningAuthority };
std::string_view ToString(SigningScheme s);  // "notary.x509", ...

// ExtendedAttribute is a protected attribute that is not one of the
// Notary Project's own (e.g. com.amazonaws.signer.signingJob). `value` is
// its JSON text (JWS, minified) or a JSON rendering of the CBOR value
// (COSE: numbers, strings, byte strings as standard base64, time tags as
// RFC 3339 strings, maps as objects). The two verification-plugin
// attributes are not extended attributes here: they are parsed into
// Envelope::verification_plugin / verification_plugin_min_version (what
// notation-go sends a plugin as extended attributes excludes them too).
struct ExtendedAttribute {
  std::string key;
  std::string value;
  bool critical = false;
  // integer_label: a COSE integer label; `key` holds it in decimal.
  // notation-go never hands such attributes to a plugin.
  bool integer_label = false;
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
  // verification_plugin: io.cncf.notary.verificationPlugin, which must be a
  // critical, non-blank string when present (notation-go
  // getVerificationPlugin). verification_plugin_min_version: the same rules,
  // read only when a plugin is named (notation-go ignores it otherwise); its
  // SemVer syntax is checked by whoever compares versions.
  std::optional<std::string> verification_plugin;
  std::optional<std::string> verification_plugin_min_version;
  std::vector<std::string> critical;  // every name listed in crit
  std::vector<ExtendedAttribute> extended_attributes;
  std::string signing_agent;  // unprotected, optional
  // certificate_der: the embedded chain as carried, leaf first (always
  // filled). certificate_chain: the same parsed, unless ParseOptions
  // deferred that to the caller (who fills it, e.g. from a chain cache,
  // before VerifyEnvelopeIntegrity).
  std::vector<base::Bytes> certificate_der;
  std::vector<CertificatePtr> certificate_chain;  // leaf first
  base::Bytes signature;                          // raw signature bytes
  base::Bytes signed_bytes;  // exactly the bytes the signature covers
  std::optional<base::Bytes> timestamp_token;  // RFC 3161 TimeStampToken
};

// CertificateParsing says whether parsing an envelope also parses its
// embedded certificates.
enum class CertificateParsing {
  // Parse every certificate into Envelope::certificate_chain (a DER error
  // fails the parse). The default.
  kParse,
  // Only bound and copy the DER into Envelope::certificate_der; the caller
  // parses (or looks up) the chain. Certificate parsing costs far more than
  // the rest of an envelope (OpenSSL 3 key decoding), so a caller with a
  // chain cache keyed by DER should defer it.
  kDeferred,
};

// ParseOptions tunes ParseEnvelope / ParseJws / ParseCose.
struct ParseOptions {
  CertificateParsing certificates = CertificateParsing::kParse;
};

// ParseEnvelope parses `bytes` as `format` (dispatching to ParseJws /
// ParseCose) and checks everything that does not need a key: required and
// critical attributes, types, content type, expiry after signing time,
// certificate DER. Unknown critical attributes are kept in
// extended_attributes (critical = true); the caller decides (a plugin may
// process them). Bounded: at most 32 MiB of input, 100 certificates.
// Copies what it keeps; `bytes` is only borrowed for the call. Fails with
// kTooLarge, kMalformed (syntax, base64, DER, a crit name that is absent),
// kDuplicateKey, kMissingAttribute, kBadAttribute, kUnsupportedAlgorithm,
// kBadContentType or kChainEmpty.
base::Result<Envelope, CryptoError> ParseEnvelope(EnvelopeFormat format,
                                                  base::ByteView bytes,
                                                  ParseOptions options = {});

// VerifyEnvelopeIntegrity checks the envelope's signature with the leaf's
// key: the algorithm must be the one AlgorithmForKey derives from the leaf
// (kAlgorithmKeyMismatch; kUnsupportedKey for a key outside the scheme),
// and the signature must verify over signed_bytes (kBadSignature). JWS
// RSASSA-PSS signatures are accepted with any salt length, COSE ones only
// with a salt as long as the hash (what Notation's golang-jwt and go-cose
// paths do). The chain rules (ValidateSigningChain), which Notation also
// runs inside its integrity step, are left to the caller.
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
// typed, duplicate keys rejected at every level. Unknown members are
// ignored (notation-go decodes into an OCI descriptor); the descriptor's
// other known members (artifactType, urls, data, platform) must have their
// OCI types. Fails with kMalformed, kDuplicateKey, kMissingAttribute or
// kBadAttribute.
base::Result<TargetArtifact, CryptoError> ParsePayload(base::ByteView json);

namespace internal {

// FinishEnvelope applies the rules both encodings share to an envelope
// that ParseJws / ParseCose filled in: non-empty payload and signature,
// Notation's payload content type, expiry strictly after the signing time
// (notation-core-go base.validateSigningAndExpiryTime), a non-empty chain
// of at most kMaxCertificates DER certificates, which it copies into
// certificate_der and (unless deferred) parses into certificate_chain. For
// jws.cc and cose.cc only.
base::Status<CryptoError> FinishEnvelope(
    Envelope* envelope, const std::vector<base::ByteView>& certificate_der,
    ParseOptions options);

}  // namespace internal

}  // namespace trustgate::crypto
