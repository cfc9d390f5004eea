#pragma once

// CRL evaluation (RFC 5280 §5, §6.3) with Notation's semantics
// (notation-core-go v1.3 revocation/internal/crl, revocation/crl), plus the
// result types shared with crypto/ocsp.h. Pure functions: no network, no
// clock; the verification time is a parameter.
//
// Where notation-core-go is laxer than RFC 5280 on something that decides
// whether a CRL may be trusted, we are stricter (the result is kUnknown
// where Notation would say good); we are never laxer. Each such place says
// "stricter than notation-core-go" next to its rule.

#include <openssl/x509.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/time.h"
#include "crypto/certificate.h"
#include "crypto/error.h"
#include "crypto/ossl.h"

namespace trustgate::crypto {

// RevocationStatus is the status of one certificate.
enum class RevocationStatus {
  kGood,     // checked and not revoked (for this signature)
  kRevoked,  // proven revoked
  kUnknown,  // could not decide; never a pass
};

// ToString returns "good", "revoked" or "unknown".
std::string_view ToString(RevocationStatus s);

// RevocationMethod says which kind of data produced a CertRevocation.
enum class RevocationMethod { kNone, kCrl, kOcsp };

// ToString returns "none", "crl" or "ocsp".
std::string_view ToString(RevocationMethod m);

// CertRevocation is the outcome of evaluating one source of revocation data
// (a CRL with its optional delta, or one OCSP response) for one
// certificate.
struct CertRevocation {
  RevocationStatus status = RevocationStatus::kUnknown;
  RevocationMethod method = RevocationMethod::kNone;
  // code is set exactly when status is kUnknown: why it could not be
  // decided (kMalformed, kBadSignature, kRevocationExpired, ...).
  std::optional<CryptoError> code;
  // detail says what was found (and, for kUnknown, what to fix).
  std::string detail;
  // this_update / next_update of the data used (for a CRL with a delta,
  // the later thisUpdate and the earlier nextUpdate): the result may be
  // reused until next_update. Set whenever the data was authenticated.
  std::optional<base::Time> this_update;
  std::optional<base::Time> next_update;
  // For kRevoked (and for kGood because of an invalidity date): the entry
  // that decided.
  std::optional<base::Time> revocation_time;
  std::optional<int> reason;  // CRLReason (RFC 5280 §5.3.1) when given
  std::optional<base::Time> invalidity_date;
};

// RFC 5280 §5.3.1 CRLReason values Notation treats specially.
inline constexpr int kReasonCertificateHold = 6;
inline constexpr int kReasonRemoveFromCrl = 8;

// kMaxCrlSize: notation-core-go (revocation/crl/fetcher.go maxCRLSize)
// refuses a CRL of 32 MiB or more.
inline constexpr size_t kMaxCrlSize = size_t{32} * 1024 * 1024;

// IsHttpUrl is true when `url`'s scheme is "http" (ASCII case-insensitive,
// as Go's url.Parse lowercases it) and the URL has no ASCII control
// character (which url.Parse refuses). trust-store-trust-policy.md: only
// HTTP CRL and OCSP URLs are supported.
bool IsHttpUrl(std::string_view url);

// CrlEntry is one revokedCertificates entry of a CRL, as read for a lookup.
struct CrlEntry {
  size_t index = 0;  // position in the CRL
  base::Time revocation_time{};
  // reasonCode entry extension (0 = unspecified when absent, as Go's
  // RevocationListEntry.ReasonCode).
  int reason = 0;
  bool has_reason = false;
  // invalidityDate entry extension (RFC 5280 §5.3.2), when present and a
  // valid GeneralizedTime; invalidity_date_malformed when present but not.
  std::optional<base::Time> invalidity_date;
  bool invalidity_date_malformed = false;
  // OID (dotted) of the first critical entry extension other than the
  // invalidity date, which Notation cannot process; empty if none.
  std::string unsupported_critical;
};

class Crl;
using CrlPtr = std::shared_ptr<const Crl>;

using UniqueX509Crl = std::unique_ptr<X509_CRL, OsslDeleter<X509_CRL_free>>;

// IssuingDistributionPoint is what a CRL's issuingDistributionPoint
// extension (RFC 5280 §5.2.5) restricts.
struct IssuingDistributionPoint {
  bool critical = false;
  bool malformed = false;  // present but does not parse
  bool only_user_certs = false;
  bool only_ca_certs = false;
  bool only_attribute_certs = false;
  bool only_some_reasons = false;
  bool indirect_crl = false;
};

// Crl is one parsed CRL. It owns its DER. Parsing follows Go's
// x509.ParseRevocationList (what Notation uses): version v2 required,
// thisUpdate required, nextUpdate optional, times in Go's strict formats,
// reasonCode entry extensions must be ENUMERATED, CRL number and authority
// key identifier must parse. Nothing in it is trusted until EvaluateCrl has
// verified its signature. Immutable and thread-safe after parsing.
class Crl {
 public:
  ~Crl();
  Crl(const Crl&) = delete;
  Crl& operator=(const Crl&) = delete;

  // der is the encoding of the CRL (bytes after it in the input are not
  // part of it, as Go ignores them).
  base::ByteView der() const { return der_; }
  // x509_crl is the OpenSSL object, for reading only. Never call
  // X509_CRL_get0_by_serial on it: that re-sorts the entries in place and
  // Notation's evaluation depends on their order.
  X509_CRL* x509_crl() const { return crl_.get(); }

  base::ByteView issuer_der() const { return issuer_der_; }
  // IssuerString is the issuer name for messages (RFC 2253 form).
  const std::string& IssuerString() const { return issuer_string_; }
  base::Time this_update() const { return this_update_; }
  std::optional<base::Time> next_update() const { return next_update_; }
  // number is the cRLNumber (RFC 5280 §5.2.3) in decimal, if present;
  // number_value the same as a BIGNUM (nullptr if absent).
  const std::optional<std::string>& number() const { return number_text_; }
  const BIGNUM* number_value() const { return number_.get(); }
  // delta_base_number is the deltaCRLIndicator's BaseCRLNumber (RFC 5280
  // §5.2.4) in decimal; present exactly when this CRL is a delta CRL (an
  // indicator that does not parse as an INTEGER leaves it absent and sets
  // delta_indicator_malformed).
  const std::optional<std::string>& delta_base_number() const {
    return delta_base_text_;
  }
  const BIGNUM* delta_base_value() const { return delta_base_.get(); }
  bool has_delta_indicator() const { return has_delta_indicator_; }
  bool delta_indicator_malformed() const {
    return has_delta_indicator_ && !delta_base_;
  }
  // freshest_crl_urls are the URIs of the freshestCRL extension (RFC 5280
  // §5.2.6), every scheme, in order, read as Go's crypto/x509 reads CRL
  // distribution points (notation-core-go fetcher.go). Notation fetches the
  // delta CRL from the first of them that downloads; a URL that is not
  // http fails that attempt.
  const std::vector<std::string>& freshest_crl_urls() const {
    return freshest_urls_;
  }
  // freshest_crl_malformed: the extension is present but does not parse
  // (Notation then fails the download, so the CRL gives kUnknown).
  bool freshest_crl_malformed() const { return freshest_malformed_; }
  const std::optional<IssuingDistributionPoint>& issuing_distribution_point()
      const {
    return idp_;
  }
  // unsupported_critical_extension is the dotted OID of the first critical
  // CRL extension Notation cannot process (anything but the issuing
  // distribution point and the delta CRL indicator); empty if none.
  const std::string& unsupported_critical_extension() const {
    return unsupported_critical_;
  }
  size_t entry_count() const { return sorted_.size(); }

  // EntriesFor returns every entry whose serial number equals `cert`'s, in
  // CRL order. Logarithmic in entry_count().
  std::vector<CrlEntry> EntriesFor(const Certificate& cert) const;

  // VerifiedBy is true when the CRL's signature verifies with `issuer`'s
  // key under the algorithms Go's Certificate.CheckSignature accepts (RSA
  // PKCS#1 v1.5 and ECDSA with SHA-1/256/384/512, RSASSA-PSS with
  // SHA-256/384/512 and salt = hash length, Ed25519). It looks at nothing
  // else (not the names, not the issuer's key usage). The result is
  // memoised per issuer. Thread-safe.
  bool VerifiedBy(const Certificate& issuer) const;

 private:
  Crl();
  friend base::Result<CrlPtr, CryptoError> ParseCrlDer(base::ByteView der);

  UniqueX509Crl crl_;
  base::Bytes der_;
  base::Bytes issuer_der_;
  std::string issuer_string_;
  base::Time this_update_{};
  std::optional<base::Time> next_update_;
  UniqueBignum number_;
  std::optional<std::string> number_text_;
  bool has_delta_indicator_ = false;
  UniqueBignum delta_base_;
  std::optional<std::string> delta_base_text_;
  std::vector<std::string> freshest_urls_;
  bool freshest_malformed_ = false;
  std::optional<IssuingDistributionPoint> idp_;
  std::string unsupported_critical_;
  // Entry indices sorted by (serial, index).
  std::vector<uint32_t> sorted_;
  struct VerifyMemo;
  std::unique_ptr<VerifyMemo> memo_;
};

// ParseCrlDer parses a DER CRL, as Notation parses a downloaded one (no
// PEM). Fails with kTooLarge at kMaxCrlSize or more, kMalformed otherwise.
base::Result<CrlPtr, CryptoError> ParseCrlDer(base::ByteView der);

// ParseCrl parses a CRL file: DER, or PEM with a "X509 CRL" block (the
// first one; text around it is ignored). For offline revocation data
// (--crl-dir); Notation itself only downloads DER. Same failures as
// ParseCrlDer.
base::Result<CrlPtr, CryptoError> ParseCrl(base::ByteView der_or_pem);

// CrlDistributionPoints returns the URIs of `cert`'s CRL distribution
// points extension, every scheme, in order, exactly as Go's crypto/x509
// fills Certificate.CRLDistributionPoints (per distribution point, the
// fullName's leading URI names; a distribution point without fullName is
// skipped). Notation (revocation/internal/crl CertCheckStatus) evaluates
// every one of them: a URL that is not http (IsHttpUrl) makes the result
// kUnknown. Empty: the certificate has no CRL information. Fails with
// kMalformed if the extension does not parse.
base::Result<std::vector<std::string>, CryptoError> CrlDistributionPoints(
    const Certificate& cert);

// HasFreshestCrl is true when `cert` carries a freshestCRL extension.
// Notation does not support it there: EvaluateCrl then requires a delta.
bool HasFreshestCrl(const Certificate& cert);

// EvaluateCrl decides `cert`'s status from `base` (downloaded from one of
// its CRL distribution points) and the delta CRL `delta` (downloaded from
// the base's freshestCRL URLs; nullptr if none), both to be issued and
// signed by `issuer` (the next certificate of the chain). `now` is the
// verification time; `authentic_signing_time` is the signature's authentic
// signing time under the notary.x509.signingAuthority scheme (nullopt
// otherwise, as Notation passes a zero time). Borrows everything. Never
// fails: anything wrong gives kUnknown with a code.
//
// Rules (notation-core-go revocation/internal/crl unless marked):
//  - `cert` carries freshestCRL and no delta is given: kUnknown.
//  - base, then delta: the issuer may sign CRLs (Go's CheckSignatureFrom:
//    a v3 issuer needs basicConstraints CA, and cRLSign when it has a key
//    usage), the signature verifies with the issuer's key (before anything
//    else in the CRL is used), the CRL's issuer name equals the issuer's
//    subject (RFC 5280 §6.3.3 (b); stricter than notation-core-go, which
//    does not compare names), nextUpdate is present and `now` is not after
//    it, and no critical CRL extension other than the issuing distribution
//    point and the delta CRL indicator is present.
//  - The base must not itself be a delta CRL, and its issuing distribution
//    point must not exclude the certificate (onlyContainsUserCerts for a
//    CA, onlyContainsCACerts for a non-CA, onlyContainsAttributeCerts),
//    name only some reasons, or make it an indirect CRL (RFC 5280 §5.2.5,
//    §6.3.3 (b)(2); stricter than notation-core-go, which ignores the
//    extension).
//  - The base names a delta (freshestCRL) and none is given: kUnknown.
//  - Delta: its CRL number is greater than the base's, it has a delta CRL
//    indicator and that base number is not greater than the base's CRL
//    number (RFC 5280 §5.2.4); both CRL numbers must be present.
//  - Entries with `cert`'s serial number, base entries first then delta
//    entries, in order: an unsupported critical entry extension or a
//    malformed invalidity date gives kUnknown; an invalidity date after
//    the authentic signing time gives kGood at once; certificateHold and
//    removeFromCRL entries are temporary, the latest of them (by
//    revocation date) decides after the loop (hold = kRevoked, remove =
//    kGood); any other reason (or none) gives kRevoked at once.
//  - No entry: kGood.
CertRevocation EvaluateCrl(const Certificate& cert, const Certificate& issuer,
                           const Crl& base, const Crl* delta, base::Time now,
                           std::optional<base::Time> authentic_signing_time);

// CombineCrlResults combines the EvaluateCrl results (or download failures,
// as kUnknown) of a certificate's CRL distribution points, given in the
// order of CrlDistributionPoints(), as notation-core-go does: the first
// result that is not kGood decides (Notation stops there); all kGood gives
// kGood. An empty list gives kUnknown (the caller decides what a
// certificate without distribution points means).
CertRevocation CombineCrlResults(std::span<const CertRevocation> results);

namespace internal {

// GoSignatureAlgorithms selects the algorithm table a signature is checked
// against.
enum class GoSignatureAlgorithms {
  // crypto/x509 (CRLs, certificates): RSA PKCS#1 v1.5 and ECDSA with
  // SHA-1/256/384/512, RSASSA-PSS SHA-256/384/512 (MGF1 same hash, salt =
  // hash length, trailer 1), Ed25519 (no parameters).
  kX509,
  // golang.org/x/crypto/ocsp (OCSP response signatures): RSA PKCS#1 v1.5
  // and ECDSA with SHA-1/256/384/512 only.
  kOcsp,
};

// SignatureAlgorithmAllowed checks `alg` against `table` and that it fits
// `key`'s type (Go's signaturePublicKeyAlgoMismatchError). MD2/MD5/DSA are
// never allowed. Borrows both.
bool SignatureAlgorithmAllowed(const X509_ALGOR* alg, const EVP_PKEY* key,
                               GoSignatureAlgorithms table);

// VerifyRawSignature verifies `signature` (a BIT STRING's bytes) over
// `signed_bytes` with `key` under `alg`, after SignatureAlgorithmAllowed.
// Thread-safe, borrows everything.
bool VerifyRawSignature(const X509_ALGOR* alg, const EVP_PKEY* key,
                        GoSignatureAlgorithms table,
                        base::ByteView signed_bytes, base::ByteView signature);

// TimeFormat selects which Go parser's rules a DER time must satisfy.
enum class TimeFormat {
  // golang.org/x/crypto/cryptobyte (crypto/x509 CRL fields): UTCTime
  // YYMMDDHHMM[SS](Z|±hhmm), GeneralizedTime without fraction.
  kCryptobyte,
  // encoding/asn1 "generalized" (OCSP fields, invalidity dates):
  // GeneralizedTime only, fraction allowed without trailing zeros.
  kAsn1Generalized,
};

// ParseDerTime reads an ASN1_TIME as Go would (the time is re-serialised
// and must match: a zero offset is written "Z"). Fractions finer than a
// microsecond are truncated. nullopt if Go refuses it.
std::optional<base::Time> ParseDerTime(const ASN1_TIME* t, TimeFormat format);

// UrisFromDistributionPoints reads a CRLDistributionPoints value (also the
// freshestCRL syntax) as Go's crypto/x509 does. nullopt if malformed.
std::optional<std::vector<std::string>> UrisFromDistributionPoints(
    base::ByteView value);

// DerElement is one DER element: its tag byte, its whole encoding and its
// contents (views into the input).
struct DerElement {
  uint8_t tag = 0;
  base::ByteView full;
  base::ByteView content;
};

// ReadDerElement reads one element from the front of `in` as
// golang.org/x/crypto/cryptobyte does (low tag numbers only, definite
// lengths in minimal form) and advances `in` past it. false if malformed.
bool ReadDerElement(base::ByteView* in, DerElement* out);

// OidText returns the dotted form of `obj`.
std::string OidText(const ASN1_OBJECT* obj);

}  // namespace internal

}  // namespace trustgate::crypto
