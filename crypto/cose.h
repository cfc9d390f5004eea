#pragma once

// COSE_Sign1 encoding of a Notary Project signature
// (signature-envelope-cose.md), decoded with libcbor.

#include "base/bytes.h"
#include "base/result.h"
#include "crypto/envelope.h"

namespace trustgate::crypto {

// ParseCose parses a tagged COSE_Sign1 envelope; see ParseEnvelope. The
// signed bytes are the Sig_structure ["Signature1", protected, h'', payload]
// (RFC 9052 §4.4).
base::Result<Envelope, CryptoError> ParseCose(base::ByteView bytes,
                                              ParseOptions options = {});

}  // namespace trustgate::crypto
