#pragma once

// Deterministic randomness for mkmirror. Every byte of a generated mirror
// must be a function of --seed and --now, but OpenSSL draws key material,
// ECDSA nonces and RSA-PSS salts from its RNG. InstallDeterministicRng
// replaces that RNG, for the whole process, with a SHA-256 counter DRBG
// whose state is per thread and re-keyed with ReseedRng before each unit of
// work, so that a unit's output depends only on (seed, label) and not on
// what ran before it or on which thread.
//
// Never use this in anything but a test-data generator: the keys it makes
// are predictable by construction.

#include <cstdint>
#include <string_view>

#include "base/bytes.h"

namespace trustgate::mkmirror {

// InstallDeterministicRng routes OpenSSL's RAND_bytes / RAND_priv_bytes
// (and therefore key generation, ECDSA nonces and PSS salts) through the
// deterministic DRBG. Idempotent. Returns false if OpenSSL refused it.
bool InstallDeterministicRng();

// DeterministicRngInstalled tells whether OpenSSL currently draws from the
// deterministic DRBG.
bool DeterministicRngInstalled();

// RestoreDefaultRng puts OpenSSL's own RNG back (for processes, such as
// test binaries, that generate a mirror and then go on to other work).
void RestoreDefaultRng();

// ScopedDeterministicRng installs the deterministic RNG for its lifetime.
class ScopedDeterministicRng {
 public:
  ScopedDeterministicRng() : ok_(InstallDeterministicRng()) {}
  ~ScopedDeterministicRng() { RestoreDefaultRng(); }
  ScopedDeterministicRng(const ScopedDeterministicRng&) = delete;
  ScopedDeterministicRng& operator=(const ScopedDeterministicRng&) = delete;
  // ok tells whether OpenSSL accepted the method.
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

// ReseedRng re-keys the calling thread's DRBG from `seed` and `label`
// (key = SHA-256(seed || label), counter reset).
void ReseedRng(uint64_t seed, std::string_view label);

// RngBytes fills `out` from the calling thread's DRBG.
void RngBytes(uint8_t* out, size_t size);

// FastStream is a non-cryptographic deterministic byte stream
// (splitmix64-seeded xoshiro256**) for bulk blob content, where the DRBG
// would be needlessly slow.
class FastStream {
 public:
  FastStream(uint64_t seed, uint64_t stream);
  // Fill writes `size` pseudo-random bytes to `out`.
  void Fill(uint8_t* out, size_t size);
  // Next returns the next 64-bit value.
  uint64_t Next();

 private:
  uint64_t s_[4];
};

}  // namespace trustgate::mkmirror
