#include "crypto/base64.h"

#include <array>
#include <cstdint>
#include <string>

namespace trustgate::crypto {
namespace {

constexpr char kStdAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr uint8_t kInvalid = 0xff;

using DecodeTable = std::array<uint8_t, 256>;

constexpr DecodeTable MakeTable(const char* alphabet) {
  DecodeTable t{};
  for (auto& v : t) {
    v = kInvalid;
  }
  for (uint8_t i = 0; i < 64; ++i) {
    t[static_cast<uint8_t>(alphabet[i])] = i;
  }
  return t;
}

constexpr DecodeTable kStdTable = MakeTable(kStdAlphabet);
constexpr DecodeTable kUrlTable = MakeTable(kUrlAlphabet);

base::Error<CryptoError> Malformed(std::string detail) {
  return base::MakeError(CryptoError::kMalformed, std::move(detail));
}

}  // namespace

base::Result<base::Bytes, CryptoError> DecodeBase64(std::string_view text,
                                                    Base64Variant variant) {
  const bool padded = variant == Base64Variant::kStandardPadded;
  const DecodeTable& table = padded ? kStdTable : kUrlTable;
  std::string_view body = text;
  if (padded) {
    // RFC 4648 §4: padded input is a whole number of 4-character quanta;
    // at most two '=' and only at the very end.
    if (text.size() % 4 != 0) {
      return Malformed("base64: length " + std::to_string(text.size()) +
                       " is not a multiple of 4 (padding required)");
    }
    size_t pad = 0;
    while (pad < 2 && pad < body.size() && body[body.size() - 1 - pad] == '=') {
      ++pad;
    }
    body = body.substr(0, body.size() - pad);
  } else if (text.size() % 4 == 1) {
    // RFC 7515 §2 / RFC 4648 §5 without padding: a remainder of one
    // character cannot encode any byte.
    return Malformed("base64url: impossible length " +
                     std::to_string(text.size()));
  }
  base::Bytes out;
  out.reserve(body.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    uint8_t v = table[static_cast<uint8_t>(body[i])];
    if (v == kInvalid) {
      return Malformed("base64: invalid character at offset " +
                       std::to_string(i));
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // RFC 4648 §3.5: the unused trailing bits must be zero (canonical form).
  if (acc != 0) {
    return Malformed("base64: non-zero trailing bits (non-canonical encoding)");
  }
  return out;
}

std::string EncodeBase64(base::ByteView bytes, Base64Variant variant) {
  const bool padded = variant == Base64Variant::kStandardPadded;
  const char* alphabet = padded ? kStdAlphabet : kUrlAlphabet;
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) |
                 bytes[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (padded) {
      out += "==";
    }
  } else if (rest == 2) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (padded) {
      out.push_back('=');
    }
  }
  return out;
}

}  // namespace trustgate::crypto
