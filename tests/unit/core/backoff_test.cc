// Backoff: bounds, cap, reset, reproducibility and the full-jitter distribution.
#include "agent/core/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace weir {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(Backoff, CeilingDoublesFromBaseUpToTheCap) {
  Backoff b({.base = milliseconds(100), .cap = milliseconds(1000)}, 1);
  std::vector<nanoseconds> ceilings;
  for (int i = 0; i < 7; ++i) {
    ceilings.push_back(b.NextCeiling());
    (void)b.Next();
  }
  EXPECT_EQ(ceilings,
            (std::vector<nanoseconds>{milliseconds(100), milliseconds(200), milliseconds(400),
                                      milliseconds(800), milliseconds(1000), milliseconds(1000),
                                      milliseconds(1000)}));
}

TEST(Backoff, EveryDelayLiesWithinZeroAndItsCeiling) {
  Backoff b({.base = milliseconds(10), .cap = seconds(2)}, 42);
  for (int i = 0; i < 1000; ++i) {
    const nanoseconds ceiling = b.NextCeiling();
    const nanoseconds d = b.Next();
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d, ceiling);
    ASSERT_LE(d, seconds(2));
  }
}

TEST(Backoff, ResetStartsAgainFromTheBase) {
  Backoff b({.base = milliseconds(100), .cap = seconds(60)}, 7);
  for (int i = 0; i < 10; ++i) (void)b.Next();
  EXPECT_EQ(b.attempts(), 10u);
  b.Reset();
  EXPECT_EQ(b.attempts(), 0u);
  EXPECT_EQ(b.NextCeiling(), milliseconds(100));
  EXPECT_LE(b.Next(), milliseconds(100));
}

TEST(Backoff, TheSameSeedGivesTheSameDelays) {
  Backoff a({}, 1234);
  Backoff b({}, 1234);
  Backoff c({}, 1235);
  bool any_differs = false;
  for (int i = 0; i < 20; ++i) {
    const nanoseconds da = a.Next();
    EXPECT_EQ(da, b.Next());
    any_differs |= da != c.Next();
  }
  EXPECT_TRUE(any_differs);
}

TEST(Backoff, ManyAttemptsStayAtTheCapWithoutOverflow) {
  Backoff b({.base = seconds(1), .cap = seconds(300)}, 3);
  for (int i = 0; i < 10000; ++i) ASSERT_LE(b.Next(), seconds(300));
  EXPECT_EQ(b.NextCeiling(), seconds(300));
}

// Full jitter is uniform over [0, ceiling]: at the cap, the sample mean is near half the cap and
// each quarter of the range gets about a quarter of the samples.
TEST(Backoff, DelaysAtTheCapAreUniformlySpread) {
  const nanoseconds cap = milliseconds(1000);
  Backoff b({.base = cap, .cap = cap}, 99);
  constexpr int kSamples = 20000;
  double sum = 0;
  int quarters[4] = {0, 0, 0, 0};
  for (int i = 0; i < kSamples; ++i) {
    const double frac = static_cast<double>(b.Next().count()) / static_cast<double>(cap.count());
    sum += frac;
    ++quarters[frac >= 1.0 ? 3 : static_cast<int>(frac * 4)];
  }
  EXPECT_NEAR(sum / kSamples, 0.5, 0.02);
  for (int q : quarters) EXPECT_NEAR(q, kSamples / 4, kSamples / 40) << "a quarter of the range";
}

}  // namespace
}  // namespace weir
