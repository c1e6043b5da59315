// Event-time windows: tumbling, sliding, count; watermark, lateness and out-of-order readings.
#include "agent/detect/window.h"

#include <gtest/gtest.h>

#include <vector>

namespace weir::detect {
namespace {

constexpr TimeMicros kS = kSecond;

WindowConfig Tumbling(TimeMicros size, TimeMicros lateness) {
  WindowConfig c;
  c.kind = WindowKind::kTumbling;
  c.size_us = size;
  c.allowed_lateness_us = lateness;
  return c;
}

TEST(WindowTest, TumblingWindowClosesWhenWatermarkPassesItsEnd) {
  WindowAggregator w(Tumbling(10 * kS, 0));
  std::vector<WindowResult> closed;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.Add(i * kS, i, &closed));
  EXPECT_TRUE(closed.empty());
  ASSERT_TRUE(w.Add(10 * kS, 100, &closed));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].start_us, 0);
  EXPECT_EQ(closed[0].end_us, 10 * kS);
  EXPECT_EQ(closed[0].stats.count, 10u);
  EXPECT_DOUBLE_EQ(closed[0].stats.min, 0);
  EXPECT_DOUBLE_EQ(closed[0].stats.max, 9);
  EXPECT_DOUBLE_EQ(closed[0].stats.mean, 4.5);
  EXPECT_NEAR(closed[0].stats.stddev, 3.0277, 1e-3);
}

TEST(WindowTest, OutOfOrderReadingWithinLatenessIsFoldedIntoItsWindow) {
  WindowAggregator w(Tumbling(10 * kS, 5 * kS));
  std::vector<WindowResult> closed;
  ASSERT_TRUE(w.Add(1 * kS, 1, &closed));
  ASSERT_TRUE(w.Add(12 * kS, 2, &closed));  // watermark 7 s: window [0,10) still open
  ASSERT_TRUE(w.Add(8 * kS, 3, &closed));   // out of order, not late
  EXPECT_TRUE(closed.empty());
  ASSERT_TRUE(w.Add(16 * kS, 4, &closed));  // watermark 11 s closes [0,10)
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].stats.count, 2u);
  EXPECT_DOUBLE_EQ(closed[0].stats.max, 3);
  EXPECT_EQ(w.late(), 0u);
}

TEST(WindowTest, LateReadingIsCountedAndNotFoldedIn) {
  WindowAggregator w(Tumbling(10 * kS, 2 * kS));
  std::vector<WindowResult> closed;
  ASSERT_TRUE(w.Add(5 * kS, 1, &closed));
  ASSERT_TRUE(w.Add(25 * kS, 2, &closed));  // watermark 23 s: [0,10) closed with one reading
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_FALSE(w.Add(9 * kS, 1000, &closed));
  EXPECT_EQ(w.late(), 1u);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].stats.count, 1u);
}

TEST(WindowTest, SlidingWindowsOverlapByHop) {
  WindowConfig c = Tumbling(10 * kS, 0);
  c.kind = WindowKind::kSliding;
  c.hop_us = 5 * kS;
  WindowAggregator w(c);
  std::vector<WindowResult> closed;
  for (int i = 0; i <= 30; ++i) ASSERT_TRUE(w.Add(i * kS, 1, &closed));
  // Windows ending by 30 s: [-5,5) [0,10) [5,15) [10,20) [15,25) [20,30).
  ASSERT_EQ(closed.size(), 6u);
  EXPECT_EQ(closed[0].start_us, -5 * kS);
  EXPECT_EQ(closed[0].stats.count, 5u);
  EXPECT_EQ(closed[1].start_us, 0);
  EXPECT_EQ(closed[1].stats.count, 10u);
  EXPECT_EQ(closed[5].start_us, 20 * kS);
}

TEST(WindowTest, CountWindowClosesAfterCountReadings) {
  WindowConfig c;
  c.kind = WindowKind::kCount;
  c.count = 4;
  WindowAggregator w(c);
  std::vector<WindowResult> closed;
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(w.Add(i * kS, i, &closed));
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[1].stats.count, 4u);
  EXPECT_DOUBLE_EQ(closed[1].stats.min, 4);
  EXPECT_EQ(closed[1].start_us, 4 * kS);
  EXPECT_EQ(closed[1].end_us, 7 * kS);
}

TEST(WindowTest, AdvancingTheWatermarkWithoutReadingsClosesWindows) {
  WindowAggregator w(Tumbling(10 * kS, 0));
  std::vector<WindowResult> closed;
  ASSERT_TRUE(w.Add(3 * kS, 7, &closed));
  w.AdvanceWatermark(9 * kS, &closed);
  EXPECT_TRUE(closed.empty());
  w.AdvanceWatermark(10 * kS, &closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_DOUBLE_EQ(closed[0].stats.mean, 7);
}

TEST(WindowTest, OpenWindowsStayBoundedUnderExtremeLateness) {
  WindowConfig c = Tumbling(1 * kS, 1'000'000 * kS);  // everything is "on time"
  WindowAggregator w(c);
  std::vector<WindowResult> closed;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(w.Add(i * kS, i, &closed));
  EXPECT_EQ(w.forced_closes() + WindowAggregator::kMaxOpen, 1000u);
  EXPECT_EQ(closed.size(), w.forced_closes());
}

}  // namespace
}  // namespace weir::detect
