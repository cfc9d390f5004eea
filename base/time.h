#pragma once

// Time is the one clock-free time type of the project: microseconds since
// the Unix epoch (UTC). Nothing below engine/ reads a clock; times are
// always passed in.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace trustgate::base {

using Time = std::chrono::sys_time<std::chrono::microseconds>;

// TimeFromUnixSeconds converts seconds since the epoch to a Time.
inline Time TimeFromUnixSeconds(int64_t seconds) {
  return Time(std::chrono::seconds(seconds));
}

// ParseRfc3339 parses an RFC 3339 date-time ("2023-06-27T13:20:21+08:00",
// "2025-01-21T09:17:46.641Z"). Returns nullopt on anything else.
std::optional<Time> ParseRfc3339(std::string_view text);

// FormatRfc3339 prints a Time as UTC RFC 3339 with a "Z" suffix, with
// fractional seconds only when they are non-zero.
std::string FormatRfc3339(Time t);

}  // namespace trustgate::base
