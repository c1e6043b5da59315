// The one formatter of UTC wall times in weir: payload errors and exports (RFC 3339), log lines
// (milliseconds) and file names (ISO 8601 basic form, no ':' so it is safe in any filesystem).
// Pure arithmetic on the proleptic Gregorian calendar (no gmtime, no locale, no time zone
// database): thread-safe, non-blocking, defined for every int64 time.
#pragma once

#include <cstdint>
#include <string>

#include "agent/core/record.h"

namespace weir {

enum class UtcFraction {
  kAuto,    // none for whole seconds, ".123" for whole milliseconds, ".123456" otherwise
  kMillis,  // always ".123" (truncated)
  kMicros,  // always ".123456"
};

enum class UtcForm {
  kExtended,  // "2014-04-01T00:00:00Z" (RFC 3339)
  kBasic,     // "20140401T000000Z" (for file names)
};

// Days since 1970-01-01 of a proleptic Gregorian civil date (month 1-12, day 1-31; not
// range-checked), and the inverse (Howard Hinnant's algorithms: eras of 400 years, March-based
// years so the leap day is the last day of the year).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day);

// Formats `t` (µs since the Unix epoch) in UTC. Times before 1970 keep a non-negative time of
// day; years outside 0000..9999 widen the year field.
std::string FormatUtc(TimeMicros t, UtcFraction fraction = UtcFraction::kAuto,
                      UtcForm form = UtcForm::kExtended);

}  // namespace weir
