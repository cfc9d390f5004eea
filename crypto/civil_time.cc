#include "crypto/civil_time.h"

#include <chrono>

namespace trustgate::crypto::internal {

bool ReadDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) {
    return false;
  }
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool ReadZoneToEnd(std::string_view s, size_t pos, int* offset_minutes) {
  if (pos < s.size() && s[pos] == 'Z') {
    *offset_minutes = 0;
    return pos + 1 == s.size();
  }
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0;
    int om = 0;
    if (!ReadDigits(s, pos + 1, 2, &oh) || !ReadDigits(s, pos + 3, 2, &om) ||
        oh > 23 || om > 59 || (oh == 0 && om == 0)) {
      return false;
    }
    *offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    return pos + 5 == s.size();
  }
  return false;
}

bool ReadFraction(std::string_view s, size_t* pos, int64_t* micros,
                  bool* finer) {
  size_t digits = 0;
  char last = '0';
  int64_t value = 0;
  bool below = false;
  size_t i = *pos;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (digits < 6) {
      value = value * 10 + (s[i] - '0');
    } else if (s[i] != '0') {
      below = true;
    }
    last = s[i];
    ++digits;
    ++i;
  }
  if (digits == 0 || digits > 9 || last == '0') {
    return false;
  }
  for (size_t d = digits; d < 6; ++d) {
    value *= 10;
  }
  *pos = i;
  *micros = value;
  *finer = below;
  return true;
}

std::optional<base::Time> CivilToTime(int year, int month, int day, int hour,
                                      int minute, int second, int64_t micros,
                                      int offset_minutes) {
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{
      std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
      std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  return std::chrono::time_point_cast<std::chrono::microseconds>(
             std::chrono::sys_days(ymd)) +
         std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second) + std::chrono::microseconds(micros) -
         std::chrono::minutes(offset_minutes);
}

}  // namespace trustgate::crypto::internal
