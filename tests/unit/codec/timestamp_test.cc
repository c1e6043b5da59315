// Timestamp parsing and formatting: RFC 3339, NAB's form, epochs, and the civil-date arithmetic.
#include "agent/codec/timestamp.h"

#include <gtest/gtest.h>

#include <random>

namespace weir::codec {
namespace {

constexpr TimeMicros kApril2014 = 1'396'310'400'000'000;  // 2014-04-01T00:00:00Z

TimeMicros MustParse(std::string_view text) {
  auto r = ParseTimestamp(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : 0;
}

TEST(Timestamp, Rfc3339UtcParses) { EXPECT_EQ(MustParse("2014-04-01T00:00:00Z"), kApril2014); }

TEST(Timestamp, NabFormIsUtc) { EXPECT_EQ(MustParse("2014-04-01 00:00:00"), kApril2014); }

TEST(Timestamp, EpochStartIsZero) { EXPECT_EQ(MustParse("1970-01-01T00:00:00Z"), 0); }

TEST(Timestamp, FractionalSecondsKeepMicroseconds) {
  EXPECT_EQ(MustParse("2014-04-01T00:00:00.5Z"), kApril2014 + 500'000);
  EXPECT_EQ(MustParse("2014-04-01T00:00:00.123456Z"), kApril2014 + 123'456);
  EXPECT_EQ(MustParse("2014-04-01T00:00:00.123456789Z"), kApril2014 + 123'456);
}

TEST(Timestamp, OffsetsShiftToUtc) {
  EXPECT_EQ(MustParse("2014-04-01T02:00:00+02:00"), kApril2014);
  EXPECT_EQ(MustParse("2014-03-31T19:30:00-04:30"), kApril2014);
  EXPECT_EQ(MustParse("2014-04-01T02:00:00+0200"), kApril2014);
  EXPECT_EQ(MustParse("2014-04-01T02:00:00+02"), kApril2014);
}

TEST(Timestamp, LowerCaseSeparatorsAndShortFormsParse) {
  EXPECT_EQ(MustParse("2014-04-01t00:00:00z"), kApril2014);
  EXPECT_EQ(MustParse("2014-04-01T00:00"), kApril2014);
  EXPECT_EQ(MustParse("2014-04-01"), kApril2014);
}

TEST(Timestamp, LeapDayIsValidOnlyInLeapYears) {
  EXPECT_TRUE(ParseTimestamp("2016-02-29T00:00:00Z").ok());
  EXPECT_TRUE(ParseTimestamp("2000-02-29T00:00:00Z").ok());
  EXPECT_FALSE(ParseTimestamp("1900-02-29T00:00:00Z").ok());
  EXPECT_FALSE(ParseTimestamp("2015-02-29T00:00:00Z").ok());
}

TEST(Timestamp, MalformedTextIsRejectedWithAReason) {
  for (std::string_view bad :
       {"", "2014", "2014-04", "2014-13-01", "2014-04-31", "2014-04-00", "2014-04-01X00:00:00",
        "2014-04-01T24:00:00", "2014-04-01T00:60:00", "2014-04-01T00:00:61", "2014-04-01T00:00:00.",
        "2014-04-01T00:00:00Q", "2014-04-01T00:00:00Zjunk", "2014-04-01T00:00:00+2", " 2014-04-01",
        "2014-04-01T00:00:00.1234567890Z", "abcd-ef-gh"}) {
    auto r = ParseTimestamp(bad);
    EXPECT_FALSE(r.ok()) << "accepted '" << bad << "'";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
      EXPECT_NE(r.status().message().find("timestamp"), std::string::npos) << bad;
    }
  }
}

TEST(Timestamp, EpochUnitsConvertToMicros) {
  EXPECT_EQ(*ParseEpoch("1396310400", EpochUnit::kSeconds), kApril2014);
  EXPECT_EQ(*ParseEpoch("1396310400000", EpochUnit::kMillis), kApril2014);
  EXPECT_EQ(*ParseEpoch("1396310400000000", EpochUnit::kMicros), kApril2014);
  EXPECT_EQ(*ParseEpoch("1396310400000000999", EpochUnit::kNanos), kApril2014);
  EXPECT_EQ(*ParseEpoch("-1", EpochUnit::kNanos), -1);  // floor, toward the past
  EXPECT_EQ(*ParseEpoch("+5", EpochUnit::kSeconds), 5'000'000);
}

TEST(Timestamp, EpochOverflowIsOutOfRange) {
  EXPECT_EQ(ParseEpoch("9223372036854775807", EpochUnit::kSeconds).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(ParseEpoch("99999999999999999999", EpochUnit::kMicros).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(*ParseEpoch("-9223372036854775808", EpochUnit::kMicros),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(EpochToMicros(1e300, EpochUnit::kMillis).status().code(), StatusCode::kOutOfRange);
}

TEST(Timestamp, EpochTextMustBeAnInteger) {
  for (std::string_view bad : {"", "-", "12a", "1.5", " 1"}) {
    EXPECT_EQ(ParseEpoch(bad, EpochUnit::kSeconds).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(Timestamp, FloatingEpochConverts) {
  EXPECT_EQ(*EpochToMicros(1396310400.25, EpochUnit::kSeconds), kApril2014 + 250'000);
  EXPECT_EQ(*EpochToMicros(1.3963104e12, EpochUnit::kMillis), kApril2014);
  EXPECT_FALSE(EpochToMicros(std::nan(""), EpochUnit::kMillis).ok());
}

TEST(Timestamp, FormatShowsOnlyTheNeededFraction) {
  EXPECT_EQ(FormatRfc3339(kApril2014), "2014-04-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(kApril2014 + 123'000), "2014-04-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(kApril2014 + 123'456), "2014-04-01T00:00:00.123456Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(Timestamp, FormatThenParseRoundTripsRandomTimes) {
  std::mt19937_64 rng(42);
  // 0001-01-01 .. 9999-12-31
  std::uniform_int_distribution<int64_t> dist(-62'135'596'800'000'000, 253'402'300'799'999'999);
  for (int i = 0; i < 20000; ++i) {
    const TimeMicros t = dist(rng);
    auto back = ParseTimestamp(FormatRfc3339(t));
    ASSERT_TRUE(back.ok()) << FormatRfc3339(t);
    ASSERT_EQ(*back, t) << FormatRfc3339(t);
  }
}

TEST(Timestamp, RandomTextNeverCrashes) {
  std::mt19937 rng(3);
  const std::string alphabet = "0123456789-:T Z+.,tz\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 40, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    auto r = ParseTimestamp(text);
    if (r.ok()) {
      EXPECT_EQ(*ParseTimestamp(FormatRfc3339(*r)), *r) << text;
    }
    (void)ParseEpoch(text, EpochUnit::kNanos);
  }
}

TEST(Timestamp, CivilDaysRoundTrip) {
  for (int64_t d = -800'000; d <= 800'000; d += 7) {
    int64_t y = 0;
    unsigned m = 0, day = 0;
    CivilFromDays(d, &y, &m, &day);
    ASSERT_EQ(DaysFromCivil(y, m, day), d);
  }
}

}  // namespace
}  // namespace weir::codec
