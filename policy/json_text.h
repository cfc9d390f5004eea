#pragma once

// Small text helpers shared by the trust policy reader, lint, diff and
// emergency policies, so that they read and quote a policy document the
// same way. Internal to policy/.

#include <cstddef>
#include <string>
#include <string_view>

namespace trustgate::policy {

// IsJsonSpace is true for the four whitespace characters of RFC 8259.
inline bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// FirstValueEnd returns the length of the first top-level JSON object or
// array in `json` (leading whitespace included), or json.size() when the
// text does not start with one or it is not closed. It only balances
// brackets outside strings; the parser validates the value itself.
// ParseTrustPolicy reads only that first value, as notation-go's
// json.Decoder does.
size_t FirstValueEnd(std::string_view json);

// AsciiEqualFold compares ASCII-case-insensitively (Go's encoding/json
// binds object keys to fields that way).
bool AsciiEqualFold(std::string_view a, std::string_view b);

// Quote returns `s` between double quotes (no escaping: for messages).
std::string Quote(std::string_view s);

}  // namespace trustgate::policy
