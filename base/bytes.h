#pragma once

// Byte views and owned byte buffers shared by every library.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace trustgate::base {

// ByteView is a non-owning view of bytes.
using ByteView = std::span<const uint8_t>;

// Bytes is an owned byte buffer.
using Bytes = std::vector<uint8_t>;

// AsBytes views the characters of a string as bytes (borrows `s`).
inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// AsString views bytes as characters (borrows `b`).
inline std::string_view AsString(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// HexEncode returns the lowercase hex encoding of `b`.
std::string HexEncode(ByteView b);

}  // namespace trustgate::base
