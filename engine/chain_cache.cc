#include "engine/chain_cache.h"

#include <xxhash.h>

#include <algorithm>

#include "crypto/chain.h"
#include "policy/dn.h"

namespace trustgate::engine {
namespace {

ChainKey HashChain(const std::vector<base::ByteView>& ders,
                   const std::array<uint8_t, 32>& generation) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  XXH3_128bits_update(state, generation.data(), generation.size());
  for (const auto& der : ders) {
    uint64_t size = der.size();
    XXH3_128bits_update(state, &size, sizeof(size));
    XXH3_128bits_update(state, der.data(), der.size());
  }
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return ChainKey{h.low64, h.high64};
}

}  // namespace

ChainCache::ChainCache(const policy::TrustPolicy& policy,
                       const policy::TrustStore& store)
    : policy_(policy), store_(store) {}

base::Result<std::shared_ptr<const ChainFacts>, crypto::CryptoError>
ChainCache::Facts(const std::vector<base::ByteView>& ders) {
  ChainKey key = HashChain(ders, store_.generation());
  {
    decltype(chains_)::const_accessor found;
    if (chains_.find(found, key)) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      return found->second;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  auto facts = std::make_shared<ChainFacts>();
  facts->key = key;
  if (ders.empty()) {
    return base::MakeError(crypto::CryptoError::kChainEmpty,
                           "the envelope carries no certificate chain");
  }
  for (size_t i = 0; i < ders.size(); ++i) {
    auto cert = crypto::Certificate::FromDer(ders[i]);
    if (!cert.ok()) {
      return base::MakeError(cert.code(),
                             "certificate " + std::to_string(i) +
                                 " of the chain: " + cert.detail());
    }
    facts->fingerprints.push_back(cert.value()->Sha256Hex());
    facts->certificates.push_back(std::move(cert).value());
  }
  auto structure = crypto::ValidateSigningChain(facts->certificates);
  if (!structure.ok()) {
    facts->structure_error = structure.error();
  }
  facts->earliest_not_after = facts->certificates.front()->not_after();
  facts->latest_not_before = facts->certificates.front()->not_before();
  for (size_t i = 0; i < facts->certificates.size(); ++i) {
    const auto& cert = facts->certificates[i];
    facts->earliest_not_after =
        std::min(facts->earliest_not_after, cert->not_after());
    facts->latest_not_before =
        std::max(facts->latest_not_before, cert->not_before());
  }
  std::shared_ptr<const ChainFacts> shared = std::move(facts);
  decltype(chains_)::accessor slot;
  if (chains_.insert(slot, key)) {
    slot->second = shared;
  }
  return slot->second;
}

TrustOutcome ChainCache::Outcome(const ChainFacts& facts,
                                 size_t statement_index,
                                 policy::StoreType store_type) {
  OutcomeKey key{facts.key, statement_index, store_type};
  {
    decltype(outcomes_)::const_accessor found;
    if (outcomes_.find(found, key)) {
      return found->second;
    }
  }
  TrustOutcome outcome = Compute(facts, statement_index, store_type);
  decltype(outcomes_)::accessor slot;
  if (outcomes_.insert(slot, key)) {
    slot->second = outcome;
  }
  return slot->second;
}

TrustOutcome ChainCache::Compute(const ChainFacts& facts,
                                 size_t statement_index,
                                 policy::StoreType store_type) const {
  const policy::Statement& statement = policy_.statements[statement_index];
  TrustOutcome out;

  // trust-store-trust-policy.md: Signature Verification, Authenticity:
  // stores of the scheme's type are consulted in the order the statement
  // lists them; a store that cannot be loaded fails the check (as
  // notation-go's loadX509TrustStoresWithType returns its error).
  size_t candidates = 0;
  bool store_error = false;
  for (const policy::StoreRef& ref : statement.trust_stores) {
    if (ref.type != store_type) {
      continue;
    }
    const policy::NamedStore* named = store_.Find(ref);
    std::string label = policy::ToString(ref);
    if (named == nullptr || named->error.has_value()) {
      out.authenticity_code = "trust-store-unavailable";
      out.authenticity_detail =
          named == nullptr
              ? "trust store " + label + " was not loaded"
              : "trust store " + label + ": " + named->error->detail;
      store_error = true;
      break;
    }
    for (const crypto::CertificatePtr& anchor : named->certificates) {
      ++candidates;
      if (!out.authentic) {
        for (const crypto::CertificatePtr& cert : facts.certificates) {
          if (cert->der().size() == anchor->der().size() &&
              std::equal(cert->der().begin(), cert->der().end(),
                         anchor->der().begin())) {
            out.authentic = true;
            out.trust_store = label;
            out.anchor_sha256 = anchor->Sha256Hex();
            break;
          }
        }
      }
    }
  }
  if (store_error) {
    out.authentic = false;
    out.trust_store.clear();
    out.anchor_sha256.clear();
  } else if (candidates == 0) {
    out.authenticity_code = "no-trusted-certificates";
    out.authenticity_detail =
        "no trusted certificates are found to verify authenticity: the "
        "statement \"" +
        statement.name + "\" lists no " +
        std::string(policy::ToString(store_type)) +
        " trust store with certificates";
  } else if (!out.authentic) {
    out.authenticity_code = "untrusted-chain";
    out.authenticity_detail =
        "no certificate of the signature's chain is in the trust stores of "
        "statement \"" +
        statement.name + "\" (leaf " +
        facts.certificates.front()->SubjectString() + ")";
  }

  // trust-store-trust-policy.md: Trusted Identities Constraints; the match
  // is on the leaf's subject only.
  const auto& leaf = *facts.certificates.front();
  bool any_x509 = false;
  bool wildcard = false;
  for (const policy::TrustedIdentity& identity : statement.trusted_identities) {
    wildcard =
        wildcard || identity.kind == policy::TrustedIdentity::Kind::kWildcard;
    any_x509 = any_x509 ||
               identity.kind == policy::TrustedIdentity::Kind::kX509Subject;
  }
  if (wildcard) {
    out.identity_ok = true;
  } else if (!any_x509) {
    out.identity_detail =
        "no x509 trusted identities are configured in "
        "statement \"" +
        statement.name + "\"";
  } else {
    // notation-go parses the leaf's printed subject with the policy's DN
    // rules (and requires C, ST and O) before the subset match.
    auto subject = policy::LeafSubjectForMatch(leaf);
    if (!subject.ok()) {
      out.identity_detail = "signing certificate subject \"" +
                            leaf.SubjectString() +
                            "\" cannot be matched against trusted "
                            "identities: " +
                            subject.detail();
    } else {
      for (const policy::TrustedIdentity& identity :
           statement.trusted_identities) {
        if (identity.kind == policy::TrustedIdentity::Kind::kX509Subject &&
            policy::IsDnSubset(identity.x509_subject, subject.value())) {
          out.identity_ok = true;
          break;
        }
      }
      if (!out.identity_ok) {
        out.identity_detail = "signing certificate subject \"" +
                              leaf.SubjectString() +
                              "\" does not match the trusted identities of "
                              "statement \"" +
                              statement.name + "\"";
      }
    }
  }
  return out;
}

}  // namespace trustgate::engine
