#include "engine/verifier.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "crypto/crl.h"
#include "crypto/envelope.h"
#include "crypto/ocsp.h"
#include "crypto/timestamp.h"
#include "io/oci.h"

namespace trustgate::engine {
namespace {

using policy::Action;
using policy::Validation;

// Rank orders signature outcomes by how far through the validation order
// they got (ARCHITECTURE.md: "the reason is that of the signature that
// got furthest").
int Rank(Reason r) {
  switch (r) {
    case Reason::kMalformed:
      return 0;
    case Reason::kIntegrity:
      return 1;
    case Reason::kAuthenticity:
      return 2;
    case Reason::kTrustedIdentity:
      return 3;
    case Reason::kExpiry:
      return 4;
    case Reason::kAuthenticTimestamp:
      return 5;
    case Reason::kRevocation:
      return 6;
    case Reason::kPlugin:
      return 7;
    case Reason::kOk:
      return 8;
    default:
      return 0;
  }
}

// Step records one validation's outcome on a signature and tells whether
// the sequence must stop (an enforced failure).
class Steps {
 public:
  explicit Steps(SignatureVerdict* sv) : sv_(sv) {}

  void Pass(Check check) { Set(check, CheckStatus::kPass, {}, {}); }
  void Skip(Check check) { Set(check, CheckStatus::kSkipped, {}, {}); }
  // Record sets a check's status without a finding (the finding is on the
  // check that failed, e.g. the plugin's step when a result it gave fails).
  void Record(Check check, CheckStatus status) { Set(check, status, {}, {}); }

  // Fail records a failed check under `action`; returns true when the
  // failure is enforced (the signature is rejected with `reason`).
  bool Fail(Check check, Action action, Reason reason, std::string code,
            std::string detail) {
    switch (action) {
      case Action::kEnforce:
        Set(check, CheckStatus::kFail, std::move(code), detail);
        sv_->reason = reason;
        sv_->error = std::move(detail);
        return true;
      case Action::kLog:
        Set(check, CheckStatus::kLogged, std::move(code), std::move(detail));
        return false;
      case Action::kSkip:
        Set(check, CheckStatus::kSkipped, {}, {});
        return false;
    }
    return false;
  }

 private:
  void Set(Check check, CheckStatus status, std::string code,
           std::string detail) {
    CheckResult& r = sv_->validations[static_cast<size_t>(check)];
    r.status = status;
    r.code = std::move(code);
    r.detail = std::move(detail);
  }
  SignatureVerdict* sv_;
};

std::string TimeText(base::Time t) { return base::FormatRfc3339(t); }

base::Time WallNow() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());
}

bool IsPluginHeader(std::string_view key) {
  return key == "io.cncf.notary.verificationPlugin" ||
         key == "io.cncf.notary.verificationPluginMinVersion";
}

void MinInto(std::optional<base::Time>* slot, base::Time t) {
  if (!slot->has_value() || t < **slot) {
    *slot = t;
  }
}

// Revocable: the certificate names a CRL distribution point or an OCSP
// responder (crypto/crl.h, crypto/ocsp.h); unreadable extensions count.
bool Revocable(const crypto::Certificate& cert) {
  auto dps = crypto::CrlDistributionPoints(cert);
  auto ocsp = crypto::OcspResponders(cert);
  return !dps.ok() || !dps->empty() || !ocsp.ok() || !ocsp->empty();
}

// TsaRoots collects the certificates of the statement's tsa stores; a tsa
// store that is missing or invalid is an error (notation-go
// loadX509TSATrustStores fails the check).
std::vector<crypto::CertificatePtr> TsaRoots(const policy::Statement& statement,
                                             const policy::TrustStore& store,
                                             std::string* error) {
  std::vector<crypto::CertificatePtr> roots;
  for (const policy::StoreRef& ref : statement.trust_stores) {
    if (ref.type != policy::StoreType::kTsa) {
      continue;
    }
    const policy::NamedStore* named = store.Find(ref);
    if (named == nullptr || named->error.has_value()) {
      *error = "failed to load tsa trust store tsa:" + ref.name +
               (named != nullptr ? ": " + named->error->detail : "");
      return {};
    }
    roots.insert(roots.end(), named->certificates.begin(),
                 named->certificates.end());
  }
  if (roots.empty()) {
    *error = "no trusted TSA certificate found in the tsa trust stores";
  }
  return roots;
}

}  // namespace

void Verifier::VerifyTimestamp(const policy::Statement& statement,
                               const crypto::Envelope& envelope,
                               const ChainFacts& facts, SignatureVerdict* sv,
                               std::string* code, std::string* detail) const {
  // trust-store-trust-policy.md, Authentic timestamp (notary.x509): the
  // RFC 3161 countersignature over the signature value, from a TSA whose
  // chain leads to a tsa store root at genTime, whose interval
  // genTime ± accuracy lies inside every signing certificate's validity.
  std::string store_error;
  std::vector<crypto::CertificatePtr> roots =
      TsaRoots(statement, store_, &store_error);
  if (!store_error.empty()) {
    *code = "tsa-store-unavailable";
    *detail = store_error;
    return;
  }
  auto proof = crypto::VerifyTimestampToken(*envelope.timestamp_token,
                                            envelope.signature, roots);
  if (!proof.ok()) {
    *code = std::string(crypto::ToString(proof.code()));
    *detail = "timestamp countersignature: " + proof.detail();
    return;
  }
  // The TSA chain's revocation is checked too (CVE-2024-56138 was its
  // absence); a revoked or unknown TSA certificate fails the timestamp.
  ChainRevocation tsa =
      CheckRevocation(proof->tsa_chain, "tsa", std::nullopt, sv);
  if (tsa.status != crypto::RevocationStatus::kGood) {
    *code = tsa.status == crypto::RevocationStatus::kRevoked
                ? "tsa-revoked"
                : "tsa-revocation-unknown";
    *detail = "timestamping certificate " +
              std::string(tsa.status == crypto::RevocationStatus::kRevoked
                              ? "is revoked: "
                              : "revocation status is unknown: ") +
              tsa.detail;
    return;
  }
  sv->timestamp = TimestampInfo{proof->tsa_subject, proof->gen_time,
                                static_cast<uint64_t>(proof->accuracy.count())};
  for (const auto& cert : facts.certificates) {
    if (!crypto::WithinValidity(*proof, *cert)) {
      *code = "timestamp-outside-validity";
      *detail = "the timestamp " + TimeText(proof->earliest) + " .. " +
                TimeText(proof->latest) +
                " is not within the validity of certificate \"" +
                cert->SubjectString() + "\" (" + TimeText(cert->not_before()) +
                " .. " + TimeText(cert->not_after()) + ")";
      return;
    }
  }
}

std::string LevelString(const policy::Statement& statement) {
  std::string out(policy::ToString(statement.level));
  static constexpr Validation kAll[] = {
      Validation::kIntegrity, Validation::kAuthenticity,
      Validation::kAuthenticTimestamp, Validation::kExpiry,
      Validation::kRevocation};
  for (Validation v : kAll) {
    const auto& override_action = statement.overrides[static_cast<size_t>(v)];
    if (override_action.has_value()) {
      out += "+";
      out += policy::ToString(v);
      out += "=";
      out += policy::ToString(*override_action);
    }
  }
  return out;
}

BlobCache::State BlobCache::Check(io::Reader& reader,
                                  const io::Repository& repo,
                                  const io::Descriptor& descriptor) {
  std::string key =
      descriptor.digest.ToString() + "/" + std::to_string(descriptor.size);
  {
    decltype(states_)::const_accessor found;
    if (states_.find(found, key)) {
      return found->second;
    }
  }
  State state = State::kOk;
  auto hashed = reader.HashBlob(repo, descriptor.digest);
  if (!hashed.ok()) {
    state = hashed.code() == io::IoError::kNotFound ? State::kMissing
            : hashed.code() == io::IoError::kDigestMismatch ||
                    hashed.code() == io::IoError::kSizeMismatch
                ? State::kBad
                : State::kUnreadable;
  } else {
    bytes_hashed_.fetch_add(hashed->size, std::memory_order_relaxed);
    if (!(hashed->digest == descriptor.digest) ||
        hashed->size != static_cast<uint64_t>(descriptor.size)) {
      state = State::kBad;
    }
  }
  decltype(states_)::accessor slot;
  if (states_.insert(slot, key)) {
    slot->second = state;
  }
  return slot->second;
}

Verifier::Verifier(const policy::TrustPolicy& policy,
                   const policy::TrustStore& store, ChainCache& chains,
                   io::Reader& reader, VerifierOptions options,
                   RevocationChecker* revocation, PluginRunner* plugins)
    : policy_(policy),
      store_(store),
      chains_(chains),
      reader_(reader),
      options_(std::move(options)),
      revocation_(revocation),
      plugins_(plugins) {}

ChainRevocation Verifier::CheckRevocation(
    std::span<const crypto::CertificatePtr> chain, const char* label,
    std::optional<base::Time> authentic_signing_time,
    SignatureVerdict* sv) const {
  ChainRevocation result;
  if (revocation_ != nullptr) {
    result =
        revocation_->CheckChain(chain, options_.at, authentic_signing_time);
  } else {
    // No checker: revocable certificates cannot be decided.
    std::vector<CertificateRevocation> certs;
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
      CertificateRevocation c;
      c.fingerprint = chain[i]->Sha256Hex();
      c.subject = chain[i]->SubjectString();
      c.revocable = Revocable(*chain[i]);
      c.status = c.revocable ? crypto::RevocationStatus::kUnknown
                             : crypto::RevocationStatus::kGood;
      c.detail = c.revocable ? "no revocation checker configured" : "";
      certs.push_back(std::move(c));
    }
    result = CombineChain(std::move(certs));
  }
  if (result.next_update.has_value()) {
    MinInto(&sv->reuse_until, *result.next_update);
  }
  for (const CertificateRevocation& c : result.certificates) {
    sv->revocation.push_back(RevocationEntry{
        c.fingerprint, label, std::string(crypto::ToString(c.status)),
        std::string(crypto::ToString(c.method)),
        std::string(ToString(c.source))});
  }
  return result;
}

SignatureVerdict Verifier::VerifySignature(
    const io::Repository& repo, size_t statement_index,
    const io::Descriptor& target, const io::SignatureNode& signature) const {
  signatures_.fetch_add(1, std::memory_order_relaxed);
  const policy::Statement& statement = policy_.statements[statement_index];
  SignatureVerdict sv;
  sv.digest = signature.load.descriptor.digest.ToString();
  Steps steps(&sv);
  // Integrity is always enforced (trust-store-trust-policy.md: integrity
  // cannot be overridden; level skip never reaches here).
  auto integrity = [&](std::string code, std::string detail) {
    steps.Fail(Check::kIntegrity, Action::kEnforce, Reason::kIntegrity,
               std::move(code), std::move(detail));
    return sv;
  };

  // SPEC-NOTES.md, Signatures in a layout: one layer, JWS or COSE.
  if (signature.load.error.has_value()) {
    return integrity("signature-manifest-unreadable",
                     "signature manifest " + sv.digest +
                         " cannot be read: " + signature.load.error->detail);
  }
  const io::Manifest& manifest = *signature.load.manifest;
  if (manifest.layers.size() != 1) {
    return integrity("signature-manifest-layers",
                     "signature manifest " + sv.digest +
                         " must have exactly one layer, it has " +
                         std::to_string(manifest.layers.size()));
  }
  const io::Descriptor& layer = manifest.layers.front();
  crypto::EnvelopeFormat format;
  if (layer.media_type == crypto::kMediaTypeJws) {
    format = crypto::EnvelopeFormat::kJws;
  } else if (layer.media_type == crypto::kMediaTypeCose) {
    format = crypto::EnvelopeFormat::kCose;
  } else {
    return integrity("unsupported-envelope-type",
                     "signature envelope media type \"" + layer.media_type +
                         "\" is neither application/jose+json nor "
                         "application/cose");
  }
  sv.envelope = std::string(crypto::ToString(format));
  if (layer.size < 0 ||
      static_cast<uint64_t>(layer.size) > io::kEnvelopeMaxBytes) {
    steps.Fail(Check::kIntegrity, Action::kEnforce, Reason::kMalformed,
               "envelope-too-large",
               "signature envelope of " + std::to_string(layer.size) +
                   " bytes exceeds the 32 MiB limit");
    return sv;
  }
  auto bytes = reader_.ReadBlob(repo, layer.digest, io::kEnvelopeMaxBytes);
  if (!bytes.ok()) {
    if (bytes.code() == io::IoError::kTooLarge) {
      steps.Fail(Check::kIntegrity, Action::kEnforce, Reason::kMalformed,
                 "envelope-too-large", bytes.detail());
      return sv;
    }
    return integrity(std::string(io::ToString(bytes.code())),
                     "signature envelope " + layer.digest.ToString() + ": " +
                         bytes.detail());
  }
  if (bytes->size() != static_cast<uint64_t>(layer.size)) {
    return integrity("envelope-size-mismatch",
                     "signature envelope is " + std::to_string(bytes->size()) +
                         " bytes, its descriptor says " +
                         std::to_string(layer.size));
  }

  // Certificates are parsed once per distinct chain, by the chain cache.
  auto parsed = crypto::ParseEnvelope(
      format, bytes->view(),
      crypto::ParseOptions{crypto::CertificateParsing::kDeferred});
  if (!parsed.ok()) {
    return integrity(
        std::string(crypto::ToString(parsed.code())),
        "unable to parse the signature envelope: " + parsed.detail());
  }
  crypto::Envelope& envelope = parsed.value();
  sv.scheme = std::string(crypto::ToString(envelope.scheme));
  sv.signing_time = envelope.signing_time;
  sv.authentic_signing_time = envelope.authentic_signing_time;

  std::vector<base::ByteView> ders;
  ders.reserve(envelope.certificate_der.size());
  for (const base::Bytes& der : envelope.certificate_der) {
    ders.push_back(der);
  }
  auto facts_result = chains_.Facts(ders);
  if (!facts_result.ok()) {
    return integrity(std::string(crypto::ToString(facts_result.code())),
                     facts_result.detail());
  }
  const ChainFacts& facts = *facts_result.value();
  envelope.certificate_chain = facts.certificates;
  sv.chain = facts.fingerprints;
  sv.identity = facts.certificates.front()->SubjectString();
  // Incremental re-verification: the outcome can change only when the
  // verification time crosses one of these.
  for (const auto& cert : facts.certificates) {
    if (cert->not_before() > options_.at) {
      MinInto(&sv.reuse_until, cert->not_before());
    }
    if (cert->not_after() >= options_.at) {
      MinInto(&sv.reuse_until, cert->not_after());
    }
  }
  if (envelope.expiry.has_value() && *envelope.expiry > options_.at) {
    MinInto(&sv.reuse_until, *envelope.expiry);
  }

  // notation-core-go validates the chain inside Envelope.Verify, so a bad
  // chain is an integrity failure.
  if (facts.structure_error.has_value()) {
    return integrity(
        std::string(crypto::ToString(facts.structure_error->code)),
        "certificate chain is invalid: " + facts.structure_error->detail);
  }
  auto verified = crypto::VerifyEnvelopeIntegrity(envelope);
  if (!verified.ok()) {
    return integrity(std::string(crypto::ToString(verified.code())),
                     verified.detail());
  }
  // signature-specification.md: an unknown critical attribute must be
  // rejected unless a verification plugin processes it.
  if (!envelope.verification_plugin.has_value()) {
    for (const auto& attribute : envelope.extended_attributes) {
      if (attribute.critical && !IsPluginHeader(attribute.key)) {
        return integrity("unknown-critical-attribute",
                         "critical attribute \"" + attribute.key +
                             "\" is not understood and no verification "
                             "plugin is named to process it");
      }
    }
  }
  auto payload = crypto::ParsePayload(envelope.payload);
  if (!payload.ok()) {
    return integrity(std::string(crypto::ToString(payload.code())),
                     "signature payload: " + payload.detail());
  }
  // SPEC-NOTES.md: targetArtifact must equal the artifact's descriptor in
  // mediaType, digest and size (CVE-2023-33959 class: never trust a
  // descriptor other than the one requested).
  if (payload->media_type != target.media_type ||
      payload->digest != target.digest.ToString() ||
      payload->size != target.size) {
    return integrity("target-mismatch",
                     "the signature was made for " + payload->digest + " (" +
                         payload->media_type + ", " +
                         std::to_string(payload->size) + " bytes), not for " +
                         target.digest.ToString() + " (" + target.media_type +
                         ", " + std::to_string(target.size) + " bytes)");
  }
  steps.Pass(Check::kIntegrity);

  // plugin-extensibility.md "Verification workflow using plugin" step 1
  // (notation-go processSignature: right after integrity): the named
  // plugin must be installed, new enough, and able to verify. Any problem
  // fails the signature at every level.
  std::optional<PluginInfo> plugin;
  if (envelope.verification_plugin.has_value()) {
    sv.plugin = PluginUse{*envelope.verification_plugin, {}, {}, false};
    if (plugins_ == nullptr) {
      steps.Fail(Check::kPlugin, Action::kEnforce, Reason::kPlugin,
                 std::string(ToString(PluginError::kNotInstalled)),
                 "the signature requires verification plugin \"" +
                     *envelope.verification_plugin +
                     "\", and no plugin directory is configured");
      return sv;
    }
    std::optional<std::string_view> min_version;
    if (envelope.verification_plugin_min_version.has_value()) {
      min_version = *envelope.verification_plugin_min_version;
    }
    auto resolved =
        plugins_->Resolve(*envelope.verification_plugin, min_version,
                          &options_.plugin_config, WallNow());
    if (!resolved.ok()) {
      steps.Fail(Check::kPlugin, Action::kEnforce, Reason::kPlugin,
                 std::string(ToString(resolved.code())), resolved.detail());
      return sv;
    }
    plugin = std::move(resolved).value();
    sv.plugin->version = plugin->version;
    for (PluginCapability c : plugin->capabilities) {
      sv.plugin->capabilities.emplace_back(ToString(c));
    }
  }
  // A plugin with TRUSTED_IDENTITY / REVOCATION_CHECK replaces the native
  // step (notation-go processSignature).
  const bool plugin_identity =
      plugin.has_value() && plugin->Has(PluginCapability::kTrustedIdentity);
  const bool plugin_revocation =
      plugin.has_value() && plugin->Has(PluginCapability::kRevocationCheck);

  // Authenticity (trust store) and trusted identity share one action.
  const policy::StoreType store_type =
      envelope.scheme == crypto::SigningScheme::kX509
          ? policy::StoreType::kCa
          : policy::StoreType::kSigningAuthority;
  const Action authenticity = statement.ActionFor(Validation::kAuthenticity);
  if (authenticity == Action::kSkip) {
    steps.Skip(Check::kAuthenticity);
    steps.Skip(Check::kTrustedIdentity);
  } else {
    TrustOutcome trust = chains_.Outcome(facts, statement_index, store_type);
    if (trust.authentic) {
      steps.Pass(Check::kAuthenticity);
      sv.trust_store = trust.trust_store;
      sv.anchor = trust.anchor_sha256;
    } else if (steps.Fail(Check::kAuthenticity, authenticity,
                          Reason::kAuthenticity, trust.authenticity_code,
                          trust.authenticity_detail)) {
      return sv;
    }
    if (plugin_identity) {
      // Decided by the plugin below.
    } else if (trust.identity_ok) {
      steps.Pass(Check::kTrustedIdentity);
    } else if (steps.Fail(Check::kTrustedIdentity, authenticity,
                          Reason::kTrustedIdentity, "identity-mismatch",
                          trust.identity_detail)) {
      return sv;
    }
  }

  // Expiry: expired when the verification time is at or after expiry.
  const Action expiry = statement.ActionFor(Validation::kExpiry);
  if (expiry == Action::kSkip) {
    steps.Skip(Check::kExpiry);
  } else if (envelope.expiry.has_value() && options_.at >= *envelope.expiry) {
    if (steps.Fail(Check::kExpiry, expiry, Reason::kExpiry, "signature-expired",
                   "the signature expired at " + TimeText(*envelope.expiry))) {
      return sv;
    }
  } else {
    steps.Pass(Check::kExpiry);
    if (envelope.expiry.has_value() && expiry == Action::kEnforce) {
      MinInto(&sv.valid_until, *envelope.expiry);
    }
  }

  // Authentic timestamp (trust-store-trust-policy.md and notation-go
  // verifyAuthenticTimestamp).
  const Action timestamp = statement.ActionFor(Validation::kAuthenticTimestamp);
  if (timestamp == Action::kSkip) {
    steps.Skip(Check::kAuthenticTimestamp);
  } else {
    std::string code;
    std::string detail;
    if (envelope.scheme == crypto::SigningScheme::kX509SigningAuthority) {
      // The authentic signing time must lie within every certificate's
      // validity; the verification time is not compared.
      base::Time t = envelope.authentic_signing_time.value_or(base::Time{});
      for (const auto& cert : facts.certificates) {
        if (t < cert->not_before() || t > cert->not_after()) {
          code = "signed-outside-validity";
          detail = "certificate \"" + cert->SubjectString() +
                   "\" was not valid when the signature was produced at " +
                   TimeText(t);
          break;
        }
      }
    } else {
      bool perform = statement.HasStoreOfType(policy::StoreType::kTsa);
      if (perform &&
          statement.verify_timestamp ==
              policy::VerifyTimestamp::kAfterCertExpiry &&
          options_.at <= facts.earliest_not_after) {
        perform = false;  // afterCertExpiry and the chain is unexpired
      }
      if (!perform) {
        // Without timestamp verification the chain must be valid now.
        for (const auto& cert : facts.certificates) {
          if (options_.at < cert->not_before()) {
            code = "certificate-not-yet-valid";
            detail = "verification time is before certificate \"" +
                     cert->SubjectString() + "\" is valid (from " +
                     TimeText(cert->not_before()) + ")";
            break;
          }
          if (options_.at > cert->not_after()) {
            code = "certificate-expired";
            detail = "verification time is after certificate \"" +
                     cert->SubjectString() + "\" expired at " +
                     TimeText(cert->not_after());
            break;
          }
        }
        if (code.empty() && timestamp == Action::kEnforce) {
          MinInto(&sv.valid_until, facts.earliest_not_after);
        }
      } else if (!envelope.timestamp_token.has_value()) {
        code = "timestamp-missing";
        detail =
            "no timestamp countersignature was found in the signature "
            "envelope, and the policy requires one (tsa store, "
            "verifyTimestamp " +
            std::string(policy::ToString(statement.verify_timestamp)) + ")";
      } else {
        VerifyTimestamp(statement, envelope, facts, &sv, &code, &detail);
      }
    }
    if (code.empty()) {
      steps.Pass(Check::kAuthenticTimestamp);
    } else if (steps.Fail(Check::kAuthenticTimestamp, timestamp,
                          Reason::kAuthenticTimestamp, code, detail)) {
      return sv;
    }
  }

  // Revocation (trust-store-trust-policy.md, Revocation checking): every
  // certificate but the root; revoked > unknown > good; certificates that
  // name no OCSP responder or CRL are non-revokable (good).
  const Action revocation = statement.ActionFor(Validation::kRevocation);
  if (revocation == Action::kSkip) {
    steps.Skip(Check::kRevocation);
  } else if (plugin_revocation) {
    // Decided by the plugin below.
  } else {
    std::optional<base::Time> authentic_time;
    if (envelope.scheme == crypto::SigningScheme::kX509SigningAuthority) {
      authentic_time = envelope.authentic_signing_time;
    }
    ChainRevocation r =
        CheckRevocation(facts.certificates, "signing", authentic_time, &sv);
    if (r.status == crypto::RevocationStatus::kGood) {
      steps.Pass(Check::kRevocation);
      if (r.next_update.has_value() && revocation == Action::kEnforce) {
        MinInto(&sv.valid_until, *r.next_update);
      }
    } else {
      const bool revoked = r.status == crypto::RevocationStatus::kRevoked;
      if (steps.Fail(Check::kRevocation, revocation, Reason::kRevocation,
                     revoked ? "revoked" : "revocation-unknown",
                     revoked ? "signing certificate is revoked: " + r.detail
                             : "revocation status is unknown: " + r.detail)) {
        return sv;
      }
    }
  }
  if (!plugin.has_value()) {
    steps.Skip(Check::kPlugin);
    sv.reason = Reason::kOk;
    return sv;
  }

  // plugin-extensibility.md steps 5 and 6: verify-signature after the
  // native checks it does not replace (notation-go executePlugin and
  // processPluginResponse).
  PluginCall call;
  call.plugin = *envelope.verification_plugin;
  if (envelope.verification_plugin_min_version.has_value()) {
    call.min_version = *envelope.verification_plugin_min_version;
  }
  call.envelope = &envelope;
  call.trusted_identities = statement.trusted_identities;
  call.trusted_identity_action = authenticity;
  call.revocation_action = revocation;
  call.config = &options_.plugin_config;
  call.signature_digest = sv.digest;
  call.now = WallNow();
  PluginOutcome outcome = plugins_->RunVerification(call);
  sv.plugin->cached = outcome.cached;
  if (outcome.error.has_value()) {
    // An error, crash, timeout or unusable answer: never a pass.
    steps.Fail(Check::kPlugin, Action::kEnforce, Reason::kPlugin,
               std::string(ToString(outcome.error->code)),
               outcome.error->detail);
    return sv;
  }
  // A plugin's answers hold for the cache TTL at most: a re-run past it
  // asks the plugin again rather than reusing this verdict.
  MinInto(&sv.reuse_until,
          options_.at + std::chrono::duration_cast<std::chrono::microseconds>(
                            plugins_->options().cache_ttl));
  CheckStatus plugin_status =
      outcome.asked.empty() ? CheckStatus::kSkipped : CheckStatus::kPass;
  for (const PluginCapabilityResult& r : outcome.results) {
    const bool identity = r.capability == PluginCapability::kTrustedIdentity;
    const Check check = identity ? Check::kTrustedIdentity : Check::kRevocation;
    if (r.success) {
      steps.Pass(check);
      // A plugin's revocation answer is reused for the cache TTL.
      const auto ttl = plugins_->options().cache_ttl;
      if (!identity && revocation == Action::kEnforce && ttl.count() > 0) {
        MinInto(&sv.valid_until,
                options_.at +
                    std::chrono::duration_cast<std::chrono::microseconds>(ttl));
      }
      continue;
    }
    // notation-go: a TRUSTED_IDENTITY failure is an authenticity failure, a
    // REVOCATION_CHECK failure a revocation failure, each under its action.
    const std::string detail =
        std::string(identity ? "trusted identity verification"
                             : "revocation check") +
        " by verification plugin \"" + outcome.plugin +
        "\" failed with reason \"" + r.reason + "\"";
    if (steps.Fail(
            check, r.action,
            identity ? Reason::kTrustedIdentity : Reason::kRevocation,
            identity ? "plugin-identity-mismatch" : "plugin-revocation-failed",
            detail)) {
      steps.Record(Check::kPlugin, CheckStatus::kFail);
      return sv;
    }
    if (r.status == CheckStatus::kLogged) {
      plugin_status = CheckStatus::kLogged;
    }
  }
  steps.Record(Check::kPlugin, plugin_status);
  sv.reason = Reason::kOk;
  return sv;
}

void Verifier::CheckBlobs(const io::Repository& repo,
                          const io::ArtifactNode& artifact, BlobCache& blobs,
                          ArtifactVerdict* out) const {
  auto check_manifest_blobs = [&](const io::Manifest& manifest) {
    auto check = [&](const io::Descriptor& d) {
      BlobCache::State state = blobs.Check(reader_, repo, d);
      ++out->blobs.checked;
      if (state == BlobCache::State::kBad ||
          state == BlobCache::State::kUnreadable) {
        ++out->blobs.bad;
        out->blobs.unreadable += state == BlobCache::State::kUnreadable;
      } else if (state == BlobCache::State::kMissing) {
        // OCI image-spec: non-distributable layers may be absent.
        if (io::IsNonDistributableLayer(d.media_type)) {
          --out->blobs.checked;
        } else {
          ++out->blobs.missing;
        }
      }
    };
    if (manifest.config.has_value()) {
      check(*manifest.config);
    }
    for (const auto& layer : manifest.layers) {
      check(layer);
    }
  };
  check_manifest_blobs(*artifact.load.manifest);
  for (const io::ManifestLoad& child : artifact.children) {
    ++out->blobs.checked;
    if (child.error.has_value()) {
      if (child.error->code == io::IoError::kNotFound) {
        ++out->blobs.missing;
      } else {
        ++out->blobs.bad;
      }
      continue;
    }
    if (child.manifest.has_value()) {
      check_manifest_blobs(*child.manifest);
    }
  }
}

ArtifactVerdict Verifier::VerifyArtifact(const io::Repository& repo,
                                         const io::RepositoryGraph& graph,
                                         const io::ArtifactNode& artifact,
                                         BlobCache& blobs) const {
  const io::Descriptor& descriptor = artifact.load.descriptor;
  ArtifactVerdict v;
  v.repository = repo.uri;
  v.digest = descriptor.digest.ToString();
  v.media_type = descriptor.media_type;
  v.tags = artifact.tags;
  v.verified_at = options_.at;
  auto fail = [&](Reason reason, std::string error) {
    v.verdict = Verdict::kFailed;
    v.reason = reason;
    v.error = std::move(error);
    return v;
  };

  // trust-store-trust-policy.md: Selecting a trust policy.
  const policy::Statement* statement = policy_.Select(repo.uri);
  if (statement == nullptr) {
    return fail(Reason::kNoPolicy,
                "no trust policy statement applies to repository \"" +
                    repo.uri +
                    "\": add it to a statement's registryScopes, or add a "
                    "statement with registryScopes [\"*\"]");
  }
  v.policy = statement->name;
  v.level = LevelString(*statement);
  if (statement->level == policy::Level::kSkip) {
    v.verdict = Verdict::kSkipped;
    v.reason = Reason::kSkipped;
    return v;
  }

  if (repo.layout_error.has_value()) {
    // OCI image-layout.md: a layout needs a valid oci-layout file;
    // Notation refuses the whole layout without one.
    return fail(Reason::kMalformed,
                "the repository's oci-layout file is invalid (" +
                    repo.layout_error->detail +
                    "): it must be a regular file holding "
                    "{\"imageLayoutVersion\": \"1.0.0\"}");
  }
  if (artifact.load.error.has_value()) {
    const auto& error = *artifact.load.error;
    switch (error.code) {
      case io::IoError::kNotFound:
        return fail(Reason::kBlobMissing, "manifest " + v.digest +
                                              " is listed in index.json but "
                                              "its blob is absent");
      case io::IoError::kDigestMismatch:
      case io::IoError::kSizeMismatch:
        return fail(Reason::kManifestIntegrity,
                    "manifest " + v.digest + ": " + error.detail);
      default:
        return fail(Reason::kMalformed,
                    "manifest " + v.digest + ": " + error.detail);
    }
  }

  if (options_.blobs == BlobsMode::kCheck) {
    CheckBlobs(repo, artifact, blobs, &v);
  }

  const size_t statement_index =
      static_cast<size_t>(statement - policy_.statements.data());
  auto found = graph.signatures_by_subject.find(v.digest);
  if (found == graph.signatures_by_subject.end() || found->second.empty()) {
    return fail(Reason::kUnsigned,
                "no signature is associated with " + v.digest +
                    ": sign it, or govern the repository with a skip "
                    "statement");
  }
  const auto& signatures = found->second;
  const SignatureVerdict* best = nullptr;
  const SignatureVerdict* passed = nullptr;
  v.signatures.reserve(std::min(signatures.size(), options_.max_signatures));
  for (const io::SignatureNode& signature : signatures) {
    if (v.signatures.size() >= options_.max_signatures) {
      break;
    }
    v.signatures.push_back(
        VerifySignature(repo, statement_index, descriptor, signature));
    const SignatureVerdict& sv = v.signatures.back();
    if (sv.reason == Reason::kOk) {
      passed = &sv;
      break;  // as notation.Verify: stop at the first signature that passes
    }
  }
  for (const SignatureVerdict& sv : v.signatures) {
    if (best == nullptr || Rank(sv.reason) > Rank(best->reason)) {
      best = &sv;
    }
  }

  if (v.blobs.unreadable > 0) {
    return fail(Reason::kBlobIntegrity,
                std::to_string(v.blobs.unreadable) +
                    " blob(s) could not be read (I/O error or not a regular "
                    "file): their content is not proven; check the storage "
                    "and run again");
  }
  if (v.blobs.bad > 0) {
    return fail(Reason::kBlobIntegrity,
                std::to_string(v.blobs.bad) +
                    " blob(s) do not match their digest: the content was "
                    "altered after signing");
  }
  if (v.blobs.missing > 0) {
    return fail(Reason::kBlobMissing,
                std::to_string(v.blobs.missing) +
                    " blob(s) referenced by the manifest are absent from the "
                    "layout");
  }
  if (passed != nullptr) {
    v.verdict = Verdict::kVerified;
    v.reason = Reason::kOk;
    v.valid_until = passed->valid_until;
    return v;
  }
  std::string error = "signature " + best->digest + ": " + best->error;
  if (signatures.size() > options_.max_signatures) {
    error +=
        " (signature evaluation stopped: " + std::to_string(signatures.size()) +
        " signatures exceed the limit of " +
        std::to_string(options_.max_signatures) + ")";
  }
  return fail(best->reason, std::move(error));
}

}  // namespace trustgate::engine
