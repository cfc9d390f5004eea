#pragma once

// JWS JSON (flattened) serialization of a Notary Project signature
// (signature-envelope-jws.md).

#include <simdjson.h>

#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/envelope.h"

namespace trustgate::crypto {

// ParseJws parses a flattened JWS JSON envelope; see ParseEnvelope.
base::Result<Envelope, CryptoError> ParseJws(base::ByteView bytes,
                                             ParseOptions options = {});

namespace internal {

// ParseStrictJson parses `json` with `parser` (the returned element points
// into `parser`, which must outlive it) and rejects a duplicate key in any
// object at any depth (kDuplicateKey); invalid JSON, including invalid
// UTF-8, is kMalformed. `what` names the document in error details.
base::Result<simdjson::dom::element, CryptoError> ParseStrictJson(
    simdjson::dom::parser& parser, base::ByteView json, std::string_view what);

}  // namespace internal

}  // namespace trustgate::crypto
