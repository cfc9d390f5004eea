// RAND_set_rand_method is deprecated in OpenSSL 3 but still honoured by
// RAND_bytes_ex / RAND_priv_bytes_ex, which is what the default provider's
// key generation, ECDSA nonce derivation and PSS salt generation call. It is
// the one deprecated API we use, and only here.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "tools/mkmirror/drbg.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>
#include <string>

namespace trustgate::mkmirror {
namespace {

// Per-thread DRBG state: out_i = SHA-256(key || counter_i).
struct DrbgState {
  uint8_t key[SHA256_DIGEST_LENGTH] = {};
  uint64_t counter = 0;
  uint8_t buffer[SHA256_DIGEST_LENGTH] = {};
  size_t buffered = 0;  // unread bytes at the end of buffer
};

thread_local DrbgState tls_drbg;

void Refill(DrbgState& s) {
  uint8_t input[SHA256_DIGEST_LENGTH + 8];
  std::memcpy(input, s.key, sizeof(s.key));
  for (int i = 0; i < 8; ++i) {
    input[SHA256_DIGEST_LENGTH + i] =
        static_cast<uint8_t>(s.counter >> (8 * i));
  }
  ++s.counter;
  SHA256(input, sizeof(input), s.buffer);
  s.buffered = sizeof(s.buffer);
}

int MethodBytes(unsigned char* out, int num) {
  if (num < 0) {
    return 0;
  }
  RngBytes(out, static_cast<size_t>(num));
  return 1;
}
int MethodSeed(const void*, int) { return 1; }
int MethodAdd(const void*, int, double) { return 1; }
int MethodStatus() { return 1; }

const RAND_METHOD kMethod = {
    MethodSeed, MethodBytes, nullptr, MethodAdd, MethodBytes, MethodStatus,
};

}  // namespace

bool InstallDeterministicRng() {
  if (RAND_get_rand_method() == &kMethod) {
    return true;
  }
  return RAND_set_rand_method(&kMethod) == 1;
}

bool DeterministicRngInstalled() { return RAND_get_rand_method() == &kMethod; }

void RestoreDefaultRng() {
  if (RAND_get_rand_method() == &kMethod) {
    RAND_set_rand_method(RAND_OpenSSL());
  }
}

void ReseedRng(uint64_t seed, std::string_view label) {
  std::string material;
  material.reserve(8 + label.size());
  for (int i = 0; i < 8; ++i) {
    material.push_back(static_cast<char>(seed >> (8 * i)));
  }
  material.append(label);
  DrbgState& s = tls_drbg;
  SHA256(reinterpret_cast<const uint8_t*>(material.data()), material.size(),
         s.key);
  s.counter = 0;
  s.buffered = 0;
}

void RngBytes(uint8_t* out, size_t size) {
  DrbgState& s = tls_drbg;
  while (size > 0) {
    if (s.buffered == 0) {
      Refill(s);
    }
    size_t take = size < s.buffered ? size : s.buffered;
    std::memcpy(out, s.buffer + (sizeof(s.buffer) - s.buffered), take);
    s.buffered -= take;
    out += take;
    size -= take;
  }
}

namespace {
uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

FastStream::FastStream(uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  for (uint64_t& word : s_) {
    word = SplitMix64(x);
  }
}

uint64_t FastStream::Next() {
  // xoshiro256** (Blackman and Vigna).
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

void FastStream::Fill(uint8_t* out, size_t size) {
  while (size >= 8) {
    uint64_t v = Next();
    for (int i = 0; i < 8; ++i) {
      out[i] = static_cast<uint8_t>(v >> (8 * i));
    }
    out += 8;
    size -= 8;
  }
  if (size > 0) {
    uint64_t v = Next();
    for (size_t i = 0; i < size; ++i) {
      out[i] = static_cast<uint8_t>(v >> (8 * i));
    }
  }
}

}  // namespace trustgate::mkmirror
