#include "base/time.h"

#include <cstdio>

namespace trustgate::base {
namespace {

bool ReadDigits(std::string_view text, size_t pos, size_t count, int* out) {
  if (pos + count > text.size()) {
    return false;
  }
  int value = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

}  // namespace

// RFC 3339 §5.6: date-time = full-date "T" full-time.
std::optional<Time> ParseRfc3339(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (!ReadDigits(text, 0, 4, &year) || text.size() < 20 || text[4] != '-' ||
      !ReadDigits(text, 5, 2, &month) || text[7] != '-' ||
      !ReadDigits(text, 8, 2, &day) || (text[10] != 'T' && text[10] != 't') ||
      !ReadDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ReadDigits(text, 14, 2, &minute) || text[16] != ':' ||
      !ReadDigits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(year),
                                  std::chrono::month(month),
                                  std::chrono::day(day)};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  size_t pos = 19;
  std::chrono::microseconds fraction(0);
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    int64_t micros = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) {
        micros = micros * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return std::nullopt;
    }
    for (size_t d = digits; d < 6; ++d) {
      micros *= 10;
    }
    fraction = std::chrono::microseconds(micros);
  }
  if (pos >= text.size()) {
    return std::nullopt;
  }
  std::chrono::seconds offset(0);
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh, om;
    if (!ReadDigits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !ReadDigits(text, pos + 4, 2, &om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset = std::chrono::hours(oh) + std::chrono::minutes(om);
    if (text[pos] == '-') {
      offset = -offset;
    }
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  auto days = std::chrono::sys_days(ymd);
  Time t = std::chrono::time_point_cast<std::chrono::microseconds>(days) +
           std::chrono::hours(hour) + std::chrono::minutes(minute) +
           std::chrono::seconds(second) + fraction - offset;
  return t;
}

std::string FormatRfc3339(Time t) {
  auto days = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd(days);
  std::chrono::hh_mm_ss<std::chrono::microseconds> hms(t - days);
  char buf[64];
  int n = std::snprintf(
      buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d",
      static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
      static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
      static_cast<int>(hms.minutes().count()),
      static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<size_t>(n));
  auto micros = hms.subseconds().count();
  if (micros != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%06lld",
                  static_cast<long long>(micros));
    std::string f(frac);
    while (f.back() == '0') {
      f.pop_back();
    }
    out += f;
  }
  out += 'Z';
  return out;
}

}  // namespace trustgate::base
