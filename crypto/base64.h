#pragma once

// Strict base64 decoding for envelopes: standard alphabet with padding
// (x5c, timestamp tokens) and base64url without padding (JWS segments).

#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/error.h"

namespace trustgate::crypto {

// Base64Variant selects the alphabet and padding rule.
enum class Base64Variant {
  kStandardPadded,  // RFC 4648 §4, '=' padding required
  kUrlUnpadded,     // RFC 4648 §5, no padding (RFC 7515 §2 base64url)
};

// DecodeBase64 decodes `text` strictly: no whitespace, no characters
// outside the alphabet, correct padding, zero trailing bits. Fails with
// kMalformed.
base::Result<base::Bytes, CryptoError> DecodeBase64(std::string_view text,
                                                    Base64Variant variant);

// EncodeBase64 encodes `bytes` (used by mkmirror and the output writers).
std::string EncodeBase64(base::ByteView bytes, Base64Variant variant);

}  // namespace trustgate::crypto
