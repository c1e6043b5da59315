// The forwarder's pieces without a broker: LaneWindow (a lane's in-flight window and its cursor
// rule) and RefusalPolicy (retries of refused messages, ranges given up).
#include <gtest/gtest.h>

#include "agent/pipeline/lane_window.h"
#include "agent/pipeline/refusal_policy.h"

namespace weir::pipeline {
namespace {

ForwardPiece Range(uint64_t first, uint64_t last) {
  ForwardPiece p;
  p.first_seq = first;
  p.last_seq = last;
  return p;
}

TEST(LaneWindowTest, TheCursorMovesOnlyOverASettledPrefix) {
  LaneWindow w;
  w.Push(Range(1, 10)).token = 1;
  w.Push(Range(11, 20)).token = 2;
  w.Push(Range(21, 30)).token = 3;
  w.Find(2)->done = true;  // acknowledged out of order
  EXPECT_EQ(w.PopSettled(), std::nullopt);
  EXPECT_EQ(w.Unsettled(), 2u);
  w.Find(1)->done = true;
  EXPECT_EQ(w.PopSettled(), 20u);  // both, in one step
  EXPECT_EQ(w.Unsettled(), 1u);
  EXPECT_EQ(w.Find(1), nullptr);
  EXPECT_NE(w.Find(3), nullptr);
}

TEST(LaneWindowTest, FirstRefusedIsTheOldestUnsettledRefusal) {
  LaneWindow w;
  w.Push(Range(1, 1));
  InflightMessage& second = w.Push(Range(2, 2));
  InflightMessage& third = w.Push(Range(3, 3));
  EXPECT_EQ(w.FirstRefused(), nullptr);
  third.refused = true;
  second.refused = true;
  EXPECT_EQ(w.FirstRefused(), &second);
  second.done = true;  // given up for good
  EXPECT_EQ(w.FirstRefused(), &third);
}

TEST(LaneWindowTest, PopNewestTakesBackAnUnpublishedMessage) {
  LaneWindow w;
  w.Push(Range(1, 5));
  w.Push(Range(6, 9));
  const ForwardPiece back = w.PopNewest();
  EXPECT_EQ(back.first_seq, 6u);
  EXPECT_EQ(w.Unsettled(), 1u);
}

TEST(RefusalPolicyTest, GivesUpAtMaxAttemptsAndRemembersTriesAcrossReconnects) {
  RefusalPolicy p;
  p.Configure({std::chrono::milliseconds(10), std::chrono::milliseconds(80)}, 3);
  EXPECT_FALSE(p.Refused(5, 9, 1));
  EXPECT_FALSE(p.Refused(5, 9, 2));
  EXPECT_EQ(p.TriesBefore(5, 9), 2u);
  EXPECT_EQ(p.TriesBefore(5, 8), std::nullopt);  // another range
  EXPECT_TRUE(p.Refused(5, 9, 3));
  p.Settled(5);
  EXPECT_EQ(p.TriesBefore(5, 9), std::nullopt);
}

TEST(RefusalPolicyTest, DelaysComeFromCoreBackoffAndStartAgainWhenSettled) {
  RefusalPolicy p;
  p.Configure({std::chrono::milliseconds(10), std::chrono::milliseconds(40)}, 10);
  for (int i = 0; i < 20; ++i) EXPECT_LE(p.NextDelay(), std::chrono::milliseconds(40));
  p.Settled(1);
  EXPECT_LE(p.NextDelay(), std::chrono::milliseconds(10));  // the first delay again
}

TEST(RefusalPolicyTest, AGivenUpRangeIsSentAsItsGapUntilTheCursorPassesIt) {
  RefusalPolicy p;
  ForwardPiece gap = Range(11, 20);
  gap.rejection_gap = true;
  p.Refused(11, 20, 1);
  p.GaveUp(gap);
  EXPECT_EQ(p.TriesBefore(11, 20), std::nullopt);
  ASSERT_NE(p.GivenUp(11, 20), nullptr);
  EXPECT_TRUE(p.GivenUp(11, 20)->rejection_gap);
  EXPECT_EQ(p.GivenUp(11, 19), nullptr);
  p.Forget(19);
  EXPECT_NE(p.GivenUp(11, 20), nullptr);
  p.Forget(20);
  EXPECT_EQ(p.GivenUp(11, 20), nullptr);
}

}  // namespace
}  // namespace weir::pipeline
