#include "agent/core/utc_time.h"

#include <gtest/gtest.h>

#include "agent/core/status.h"

namespace weir {
namespace {

constexpr TimeMicros kT = 1'700'000'000'123'456;  // 2023-11-14T22:13:20.123456Z

TEST(FormatUtc, ExtendedFormPicksTheFractionTheTimeHolds) {
  EXPECT_EQ(FormatUtc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtc(1'700'000'000'000'000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatUtc(1'700'000'000'123'000), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(FormatUtc(kT), "2023-11-14T22:13:20.123456Z");
}

TEST(FormatUtc, FixedFractionsAndBasicForm) {
  EXPECT_EQ(FormatUtc(kT, UtcFraction::kMillis), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(FormatUtc(1'700'000'000'000'000, UtcFraction::kMillis), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(FormatUtc(kT, UtcFraction::kMicros, UtcForm::kBasic), "20231114T221320.123456Z");
}

TEST(FormatUtc, TimesBefore1970AndLeapDays) {
  EXPECT_EQ(FormatUtc(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatUtc(951'782'400'000'000), "2000-02-29T00:00:00Z");
  EXPECT_EQ(FormatUtc(-62'135'596'800'000'000), "0001-01-01T00:00:00Z");
}

TEST(StatusReason, KeptThroughContextAndCopies) {
  const Status s = InvalidArgument("field 'value': not a finite number").WithReason("not_finite");
  EXPECT_EQ(s.reason(), "not_finite");
  const Status wrapped = s.WithContext("element 3");
  EXPECT_EQ(wrapped.reason(), "not_finite");
  EXPECT_EQ(wrapped.message(), "element 3: field 'value': not a finite number");
  EXPECT_EQ(InvalidArgument("x").reason(), "");
}

}  // namespace
}  // namespace weir
