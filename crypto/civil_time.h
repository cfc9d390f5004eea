#pragma once

// Pieces shared by the ASN.1 time readers of certificates, CRLs and
// timestamp tokens. Each reader keeps its own grammar (they follow
// different Go code paths: cryptobyte, x509 CRL parsing, encoding/asn1);
// what they share is reading digits and turning a civil UTC time into an
// instant. Internal to crypto/.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "base/time.h"

namespace trustgate::crypto::internal {

// ReadDigits reads exactly `n` ASCII decimal digits of `s` at `pos` into
// *out; false (and *out untouched) when `s` is too short or one is not a
// digit.
bool ReadDigits(std::string_view s, size_t pos, size_t n, int* out);

// ReadZoneToEnd reads "Z" or a non-zero "+hhmm"/"-hhmm" (hours up to 23)
// at `pos` that ends `s`, as Go's "Z0700" layout does on a round trip
// ("+0000" re-serialises as "Z" and is refused). *offset_minutes is east
// of UTC.
bool ReadZoneToEnd(std::string_view s, size_t pos, int* offset_minutes);

// ReadFraction reads the digits of a fraction of a second at *pos (just
// after its '.'), as encoding/asn1's ".999999999": one to nine digits, the
// last not 0 (it would not format back). *micros gets the first six
// digits (scaled to microseconds), *finer whether a later digit is not 0;
// *pos moves past the digits.
bool ReadFraction(std::string_view s, size_t* pos, int64_t* micros,
                  bool* finer);

// CivilToTime returns the instant of year-month-day hour:minute:second
// plus `micros`, written at `offset_minutes` east of UTC; nullopt when
// month, hour, minute or second is out of range or the date does not
// exist (no leap seconds).
std::optional<base::Time> CivilToTime(int year, int month, int day, int hour,
                                      int minute, int second, int64_t micros,
                                      int offset_minutes);

}  // namespace trustgate::crypto::internal
