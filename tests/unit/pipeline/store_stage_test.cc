// The store thread under a full disk and the disk reserve: it holds ingest back instead of
// failing, says why, and commits everything it took once space returns (issue 10, item 3). The
// full disk comes from the store's fault seam (agent/store/fault_vfs.h).
#include "agent/pipeline/store_stage.h"

#include <gtest/gtest.h>

#include <memory>

#include "agent/store/fault_vfs.h"
#include "tests/support/test_support.h"

namespace weir::pipeline {
namespace {

using weir::testing::TempDir;
using weir::testing::WaitFor;

constexpr TimeMicros kT0 = 1'700'000'000'000'000;

IngestItem Item(int index) {
  IngestItem item;
  for (int i = 0; i < 100; ++i) {
    item.readings.push_back(
        Reading{"s", kT0 + (index * 100 + i) * 1000, static_cast<double>(index * 100 + i), 0});
  }
  return item;
}

class StoreStageDiskTest : public ::testing::Test {
 protected:
  void TearDown() override {
    store::testing::ClearFaults();
    if (stage_) {
      EXPECT_TRUE(stage_->Stop().ok());
    }
  }
  void Start() {
    store::LogOptions lo;
    lo.path = dir_ / "log.db";
    lo.commit_records = 500;
    lo.commit_interval = std::chrono::milliseconds(5);
    lo.synchronous = store::Synchronous::kNormal;
    lo.vfs = store::testing::FaultVfsName();
    auto log = store::Log::Open(lo, SystemClock::Instance());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    queue_ = std::make_unique<IngestQueue>(1024);
    StoreStageOptions so;
    so.retry_interval = std::chrono::milliseconds(10);
    auto stage =
        StoreStage::Start(std::move(*log), *queue_, so, SystemClock::Instance(), nullptr, nullptr);
    ASSERT_TRUE(stage.ok()) << stage.status().ToString();
    stage_ = std::move(*stage);
  }
  TempDir dir_;
  std::unique_ptr<IngestQueue> queue_;
  std::unique_ptr<StoreStage> stage_;
};

TEST_F(StoreStageDiskTest, AFullDiskHoldsIngestBackAndEverythingIsCommittedWhenSpaceReturns) {
  Start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue_->Push(Item(i)).ok());
  ASSERT_TRUE(WaitFor([&] { return stage_->counters().readings_committed == 500; }));
  store::testing::FailNextWrites(1 << 30, store::testing::Fault::kFull);
  for (int i = 5; i < 30; ++i) ASSERT_TRUE(queue_->Push(Item(i)).ok());
  ASSERT_TRUE(WaitFor([&] {
    const StoreStageCounters c = stage_->counters();
    return c.disk_full_commits > 0 && c.paused && c.limit == store::StoreLimit::kDiskFull;
  }));
  EXPECT_FALSE(stage_->fatal_error().has_value());
  EXPECT_EQ(stage_->counters().readings_committed, 500u);

  store::testing::ClearFaults();  // another program freed space
  ASSERT_TRUE(WaitFor([&] { return stage_->counters().readings_committed == 3000; }))
      << stage_->counters().readings_committed;
  const StoreStageCounters c = stage_->counters();
  EXPECT_FALSE(c.paused);
  EXPECT_EQ(c.limit, store::StoreLimit::kNone);
  EXPECT_EQ(c.last_committed_seq, 3000u);
  EXPECT_FALSE(stage_->fatal_error().has_value());
}

TEST_F(StoreStageDiskTest, OtherWriteErrorsStayFatal) {
  Start();
  ASSERT_TRUE(queue_->Push(Item(0)).ok());
  ASSERT_TRUE(WaitFor([&] { return stage_->counters().readings_committed == 100; }));
  store::testing::FailNextWrites(1 << 30, store::testing::Fault::kIoError);
  for (int i = 1; i < 10; ++i) ASSERT_TRUE(queue_->Push(Item(i)).ok());
  ASSERT_TRUE(WaitFor([&] { return stage_->fatal_error().has_value(); }));
  store::testing::ClearFaults();
  EXPECT_FALSE(stage_->Stop().ok());
  stage_.reset();
}

}  // namespace
}  // namespace weir::pipeline
