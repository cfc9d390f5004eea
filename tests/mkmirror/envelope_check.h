#pragma once

// An independent reader of the envelopes mkmirror writes, for its tests:
// JWS decoded with nlohmann_json and OpenSSL's base64, COSE with libcbor,
// the Sig_structure re-encoded by hand, signatures verified with OpenSSL.
// It shares no code with mkmirror's writer nor with trustgate's crypto/.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"

namespace trustgate::mkmirror::testing {

// CheckedEnvelope is what CheckEnvelope found.
struct CheckedEnvelope {
  bool parsed = false;           // structure decoded
  bool signature_valid = false;  // signature verifies with the leaf's key
  std::string alg;               // "ES256", ... (COSE ids mapped)
  std::vector<std::string> crit;
  std::string content_type;
  std::string signing_scheme;
  std::optional<int64_t> signing_time;            // Unix seconds
  std::optional<int64_t> authentic_signing_time;  // Unix seconds
  std::optional<int64_t> expiry;                  // Unix seconds
  std::vector<std::string> other_protected;       // keys we do not know
  std::string payload;
  std::vector<base::Bytes> chain;  // DER, leaf first
  std::string signing_agent;
  base::Bytes signature;  // the raw signature bytes
  // The unprotected io.cncf.notary.timestampSignature, decoded (JWS:
  // standard base64; COSE: bstr); timestamp_malformed when present but not
  // of that form.
  std::optional<base::Bytes> timestamp_token;
  bool timestamp_malformed = false;
};

// CheckEnvelope decodes and verifies `bytes` as a layer of `media_type`
// ("application/jose+json" or "application/cose"). Never throws.
CheckedEnvelope CheckEnvelope(std::string_view media_type,
                              base::ByteView bytes);

// KeyMatchesAlg tells whether the leaf certificate's key is the one
// signing-scheme.md assigns to `alg`.
bool KeyMatchesAlg(const base::Bytes& leaf_der, std::string_view alg);

// LeafUsageOk tells whether a leaf certificate has the key usage Notary
// Project requires (digitalSignature, no keyCertSign).
bool LeafUsageOk(const base::Bytes& leaf_der);

}  // namespace trustgate::mkmirror::testing
