// The health judgement of a trial: window against baseline, one test per criterion.
#include "agent/control/health.h"

#include <gtest/gtest.h>

namespace weir::control {
namespace {

HealthSample Healthy() {
  HealthSample s;
  s.upstream_connected = true;
  return s;
}

std::string Code(const std::optional<Refusal>& r) { return r ? r->code : "ok"; }

TEST(HealthTest, QuietHealthyWindowPasses) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  n.upstream_acked = 10;
  n.ingest_messages = 100;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, true)), "ok");
}

TEST(HealthTest, StallIsH1) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  n.stalled = true;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "health.H1");
  s.stalled = true;  // already stalled before the apply: not held against it
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "ok");
}

TEST(HealthTest, UpstreamLossesAndDisconnectAreH2) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  n.upstream_losses = 2;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "health.H2");
  n = Healthy();
  n.upstream_connected = false;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "ok");  // judged at the end of the window
  EXPECT_EQ(Code(JudgeHealth(b, s, n, true)), "health.H2");
}

TEST(HealthTest, BacklogWithoutAcksIsH2) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  s.upstream_acked = n.upstream_acked = 7;
  n.backlog_rows = 50;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, true)), "health.H2");
  n.upstream_acked = 8;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, true)), "ok");
}

TEST(HealthTest, NewBrokerRefusalsAreH2UnlessAlreadyInBaseline) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  n.upstream_refused = 1;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "health.H2");
  s.upstream_refused = 3;
  n.upstream_refused = 4;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "ok");
}

TEST(HealthTest, UpstreamDownAtApplyIsNotJudged) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  s.upstream_connected = n.upstream_connected = false;
  n.upstream_losses = 5;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, true)), "ok");
}

TEST(HealthTest, RejectionJumpIsH4) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  s.ingest_messages = 100;
  s.ingest_rejected = 10;  // 10 % before
  n.ingest_messages = 120;
  n.ingest_rejected = 20;  // 50 % in the window
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "health.H4");
  n.ingest_rejected = 15;  // 25 %: below max(20, 30)
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "ok");
  n.ingest_messages = 103;  // too few messages to judge
  n.ingest_rejected = 13;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "ok");
}

TEST(HealthTest, StoreErrorsAndNewHoldBackAreH5) {
  HealthSample b = Healthy(), s = Healthy(), n = Healthy();
  n.store_errors = 1;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "health.H5");
  n = Healthy();
  n.store_held_back = true;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "health.H5");
  s.store_held_back = true;
  EXPECT_EQ(Code(JudgeHealth(b, s, n, false)), "ok");
}

}  // namespace
}  // namespace weir::control
