// Timestamp text <-> TimeMicros (microseconds since the Unix epoch, UTC): RFC 3339 / ISO 8601,
// NAB's "YYYY-MM-DD HH:MM:SS", and integer or floating epoch values in a stated unit.
//
// Pure computation: no locale, no time zone database, no mktime; civil dates are converted with
// days-from-civil arithmetic (proleptic Gregorian calendar). All functions are thread-safe and
// never block. Fallible functions return InvalidArgument (malformed text) or OutOfRange (a
// well-formed time that does not fit in TimeMicros); messages quote the offending text but do
// not name a field: callers prefix the field ("field 'ts': ...").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/core/utc_time.h"

namespace weir::codec {

// The unit of an integer epoch timestamp.
enum class EpochUnit : uint8_t { kSeconds, kMillis, kMicros, kNanos };

// Parses a calendar timestamp. Accepted forms (case-insensitive 'T' and 'Z'):
//   2014-04-01T00:00:00Z            RFC 3339
//   2014-04-01T00:00:00.123456Z     fractional seconds, 1..9 digits (beyond microseconds are
//                                   truncated toward the past, like nanosecond inputs elsewhere)
//   2014-04-01T02:00:00+02:00       numeric offsets: +HH:MM, +HHMM or +HH (also '-')
//   2014-04-01 00:00:00             NAB form: a space instead of 'T', no zone means UTC
//   2014-04-01T00:00                seconds may be omitted (ISO 8601)
//   2014-04-01                      a date alone is midnight UTC
// Years 0000..9999; each field is range-checked (month 1-12, day within its month with leap
// years, hour 0-23, minute 0-59, second 0-60 where 60 is a leap second counted as the next
// second's start). Surrounding whitespace is not accepted; callers trim.
Result<TimeMicros> ParseTimestamp(std::string_view text);

// Parses an integer epoch value ("1396310400", "-5", "+12") in `unit`. Nanoseconds are truncated
// toward the past to microseconds. OutOfRange when the result overflows TimeMicros.
Result<TimeMicros> ParseEpoch(std::string_view text, EpochUnit unit);

// Converts an epoch value in `unit` to microseconds; OutOfRange on overflow.
Result<TimeMicros> EpochToMicros(int64_t value, EpochUnit unit);
// The same for a floating value (JSON numbers such as 1.7e12 or 1396310400.25); InvalidArgument
// when it is NaN or infinite, OutOfRange when it does not fit.
Result<TimeMicros> EpochToMicros(double value, EpochUnit unit);

// Formats as RFC 3339 in UTC: "2014-04-01T00:00:00Z", with ".123Z" when the time has whole
// milliseconds and ".123456Z" otherwise: core's FormatUtc (utc_time.h) with its defaults, the
// inverse of ParseTimestamp for years 0000..9999.
std::string FormatRfc3339(TimeMicros t);

// The calendar arithmetic (DaysFromCivil, CivilFromDays) is core's: agent/core/utc_time.h.

}  // namespace weir::codec
