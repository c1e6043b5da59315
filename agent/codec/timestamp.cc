// Timestamp parsing and formatting; see timestamp.h for the accepted forms.
#include "agent/codec/timestamp.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "agent/codec/payload_parser.h"
#include "agent/core/utc_time.h"

namespace weir::codec {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at text[*pos]; advances *pos. False when fewer digits are there.
bool ReadDigits(std::string_view text, size_t* pos, int n, int* out) {
  if (*pos + n > text.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = text[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

Status Malformed(std::string_view text, std::string_view why) {
  return InvalidArgument("timestamp '" + std::string(text.substr(0, 64)) +
                         "': " + std::string(why));
}

// Parses the zone suffix at text[pos..]: "", "Z", "+HH:MM", "+HHMM", "+HH". Sets the offset in
// seconds east of UTC.
Status ParseZone(std::string_view text, size_t pos, int64_t* offset_s) {
  *offset_s = 0;
  if (pos == text.size()) return Status::Ok();
  char c = text[pos];
  if (c == 'Z' || c == 'z') {
    if (pos + 1 != text.size()) return Malformed(text, "text after 'Z'");
    return Status::Ok();
  }
  if (c != '+' && c != '-') return Malformed(text, "expected 'Z' or a +HH:MM offset");
  ++pos;
  int hh = 0, mm = 0;
  if (!ReadDigits(text, &pos, 2, &hh)) return Malformed(text, "bad offset hours");
  if (pos < text.size()) {
    if (text[pos] == ':') ++pos;
    if (!ReadDigits(text, &pos, 2, &mm)) return Malformed(text, "bad offset minutes");
  }
  if (pos != text.size()) return Malformed(text, "text after the offset");
  if (hh > 23 || mm > 59) return Malformed(text, "offset out of range");
  *offset_s = (c == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
  return Status::Ok();
}

}  // namespace

Result<TimeMicros> ParseTimestamp(std::string_view text) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0;
  if (!ReadDigits(text, &pos, 4, &year) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &month) || pos >= text.size() || text[pos++] != '-' ||
      !ReadDigits(text, &pos, 2, &day)) {
    return Malformed(text, "expected a date YYYY-MM-DD");
  }
  if (month < 1 || month > 12) return Malformed(text, "month out of range");
  if (day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month)) {
    return Malformed(text, "day out of range for its month");
  }
  int hour = 0, minute = 0, second = 0;
  int64_t frac_us = 0;
  if (pos < text.size()) {
    char sep = text[pos++];
    if (sep != 'T' && sep != 't' && sep != ' ') {
      return Malformed(text, "expected 'T' or ' ' between date and time");
    }
    if (!ReadDigits(text, &pos, 2, &hour) || pos >= text.size() || text[pos++] != ':' ||
        !ReadDigits(text, &pos, 2, &minute)) {
      return Malformed(text, "expected a time HH:MM[:SS]");
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!ReadDigits(text, &pos, 2, &second)) return Malformed(text, "bad seconds");
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        int digits = 0;
        int64_t scale = 100'000;
        while (pos < text.size() && IsDigit(text[pos])) {
          if (++digits > 9) return Malformed(text, "more than 9 fractional digits");
          frac_us += (text[pos] - '0') * scale;
          scale /= 10;
          ++pos;
        }
        if (digits == 0) return Malformed(text, "no digits after the decimal point");
      }
    }
    if (hour > 23) return Malformed(text, "hour out of range");
    if (minute > 59) return Malformed(text, "minute out of range");
    if (second > 60) return Malformed(text, "second out of range");
  }
  int64_t offset_s = 0;
  WEIR_RETURN_IF_ERROR(ParseZone(text, pos, &offset_s));
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t seconds = days * 86'400 + hour * 3600 + minute * 60 + second - offset_s;
  return seconds * kMicrosPerSecond + frac_us;  // years 0..9999 cannot overflow int64 µs
}

Result<TimeMicros> EpochToMicros(int64_t value, EpochUnit unit) {
  int64_t factor = 1;
  switch (unit) {
    case EpochUnit::kSeconds:
      factor = kMicrosPerSecond;
      break;
    case EpochUnit::kMillis:
      factor = 1000;
      break;
    case EpochUnit::kMicros:
      return value;
    case EpochUnit::kNanos:
      // Floor division: truncate toward the past, also for times before 1970.
      return value / 1000 - (value % 1000 < 0 ? 1 : 0);
  }
  TimeMicros out = 0;
  if (__builtin_mul_overflow(value, factor, &out)) {
    return OutOfRange("epoch value " + std::to_string(value) + " overflows microseconds");
  }
  return out;
}

Result<TimeMicros> EpochToMicros(double value, EpochUnit unit) {
  if (!std::isfinite(value)) {
    return InvalidArgument("epoch value is not a finite number")
        .WithReason(parse_reason::kNotFinite);
  }
  double scale = 1;
  switch (unit) {
    case EpochUnit::kSeconds:
      scale = 1e6;
      break;
    case EpochUnit::kMillis:
      scale = 1e3;
      break;
    case EpochUnit::kMicros:
      break;
    case EpochUnit::kNanos:
      scale = 1e-3;
      break;
  }
  const double us = std::floor(value * scale);
  // 2^63 is exactly representable; anything at or beyond it does not fit.
  constexpr double kLimit = 9223372036854775808.0;
  if (!(us >= -kLimit && us < kLimit)) {
    return OutOfRange("epoch value " + std::to_string(value) + " overflows microseconds");
  }
  return static_cast<TimeMicros>(us);
}

Result<TimeMicros> ParseEpoch(std::string_view text, EpochUnit unit) {
  size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) negative = text[pos++] == '-';
  if (pos == text.size()) return InvalidArgument("epoch '" + std::string(text) + "': no digits");
  uint64_t magnitude = 0;
  for (; pos < text.size(); ++pos) {
    if (!IsDigit(text[pos])) {
      return InvalidArgument("epoch '" + std::string(text.substr(0, 64)) + "': not an integer");
    }
    if (__builtin_mul_overflow(magnitude, 10u, &magnitude) ||
        __builtin_add_overflow(magnitude, static_cast<uint64_t>(text[pos] - '0'), &magnitude)) {
      return OutOfRange("epoch '" + std::string(text.substr(0, 64)) + "': too large");
    }
  }
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (magnitude > kMax + (negative ? 1 : 0)) {
    return OutOfRange("epoch '" + std::string(text.substr(0, 64)) + "': too large");
  }
  const int64_t value =
      negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return EpochToMicros(value, unit);
}

std::string FormatRfc3339(TimeMicros t) { return FormatUtc(t); }

}  // namespace weir::codec
