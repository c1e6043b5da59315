#include "agent/core/utc_time.h"

#include <cstdint>
#include <cstdio>

namespace weir {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

}  // namespace

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil: eras of 400 years, March-based years so the leap day is
  // the last day of the year.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(yoe) + era * 400 + (*month <= 2);
}

std::string FormatUtc(TimeMicros t, UtcFraction fraction, UtcForm form) {
  // Floor to whole days so times before 1970 keep a non-negative time of day.
  int64_t days = t / kMicrosPerDay;
  int64_t rem = t % kMicrosPerDay;
  if (rem < 0) {
    rem += kMicrosPerDay;
    --days;
  }
  int64_t year = 0;
  unsigned month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  const int64_t secs = rem / kMicrosPerSecond;
  const int64_t frac = rem % kMicrosPerSecond;
  const char* pattern = form == UtcForm::kBasic ? "%04lld%02u%02uT%02lld%02lld%02lld"
                                                : "%04lld-%02u-%02uT%02lld:%02lld:%02lld";
  char buf[96];  // room for any int64 year
  int n = std::snprintf(buf, sizeof buf, pattern, static_cast<long long>(year), month, day,
                        static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                        static_cast<long long>(secs % 60));
  std::string out(buf, n);
  const bool millis =
      fraction == UtcFraction::kMillis || (fraction == UtcFraction::kAuto && frac % 1000 == 0);
  if (fraction != UtcFraction::kAuto || frac != 0) {
    n = millis ? std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(frac / 1000))
               : std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
    out.append(buf, n);
  }
  out += 'Z';
  return out;
}

}  // namespace weir
