#pragma once

// JWS JSON (flattened) serialization of a Notary Project signature
// (signature-envelope-jws.md).

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/envelope.h"

namespace trustgate::crypto {

// ParseJws parses a flattened JWS JSON envelope; see ParseEnvelope.
base::Result<Envelope, CryptoError> ParseJws(base::ByteView bytes);

}  // namespace trustgate::crypto
