// Bounded memory through a long outage under pause_ingest (issue 10, item 2): the log reaches its
// quota and stops taking readings, the ingest queue spills past its memory budget into the intake
// journal, the journal reaches its cap and weir pauses the local connection (the broker holds the
// rest). Peak RSS stays within the budget; when the upstream returns, every reading the local
// broker acknowledged arrives once, in order.
//
// WEIR_OUTAGE_SECONDS (compile definition) sets the outage: 60 s in the `fault` label, 600 s in
// the `soak` label (the 10 minutes).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/agent_harness.h"
#include "tests/support/test_support.h"

#ifndef WEIR_OUTAGE_SECONDS
#define WEIR_OUTAGE_SECONDS 60
#define WEIR_MEMORY_SUITE AgentMemory
#else
#define WEIR_MEMORY_SUITE AgentMemorySoak  // ctest names must differ between the two binaries
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEIR_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEIR_SANITIZED 1
#endif
#endif
#ifndef WEIR_SANITIZED
#define WEIR_SANITIZED 0
#endif

namespace weir {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testing::AgentRig;
using testing::Diagnostics;
using testing::JsonCount;
using testing::SimulateArgs;
using testing::WaitFor;

// Peak resident set (VmHWM) of a process in KiB, 0 when it cannot be read.
uint64_t PeakRssKib(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  uint64_t value = 0;
  while (in >> key) {
    if (key == "VmHWM:") {
      in >> value;
      return value;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

TEST(WEIR_MEMORY_SUITE, PauseIngestThroughALongOutageStaysInItsMemoryBudgetAndLosesNothing) {
  constexpr int kOutage = WEIR_OUTAGE_SECONDS;
  constexpr double kRate = 5000;
  [[maybe_unused]] constexpr uint64_t kPeakRssBudgetKib = 20'000'000 / 1024;  // the 20 MB
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  // A small quota in small chunks, so the quota is reached early in the outage; the smallest
  // journal cap, so the local connection is paused before it ends.
  ASSERT_TRUE(rig->StartAgent(
      {"--set", "store.quota_bytes=1048576", "--set", "store.quota_policy=pause_ingest", "--set",
       "store.group_commit_records=10", "--set", "ingest.journal_max_bytes=16777216"}))
      << rig->AgentStderr();
  const auto pid = static_cast<int64_t>(JsonCount(rig->AgentStatus(), "/pid"));
  ASSERT_GT(pid, 0);

  const auto count = static_cast<uint64_t>(kRate * (kOutage + 8));
  auto sim = rig->SimulateInBackground({.count = count, .rate = kRate, .sensors = 100});
  ASSERT_TRUE(rig->WaitForSinkDelivered(500, seconds(15))) << Diagnostics(*rig);
  ASSERT_TRUE(rig->upstream().Stop().ok());
  const bool held = testing::HoldFor(seconds(kOutage), [&] { return rig->agent_running(); });
  ASSERT_TRUE(held) << "weir run exited during the outage" << Diagnostics(*rig);
  const json during = rig->AgentStatus();
  EXPECT_TRUE(during["store"].value("paused", false))
      << "the quota never paused ingest" << during.dump(2);
  EXPECT_GT(JsonCount(during, "/ingest/spilled_total"), 0u) << during.dump(2);
  EXPECT_GE(JsonCount(during, "/ingest/journal/pauses"), 1u) << during.dump(2);

  const uint64_t peak_outage_kib = PeakRssKib(pid);
  std::printf("peak RSS %llu KiB at the end of the outage; status %s\n",
              static_cast<unsigned long long>(peak_outage_kib), during["ingest"].dump().c_str());
  ASSERT_TRUE(rig->upstream().Restart().ok());
  const int sim_exit = sim->Wait(seconds(120));
  const auto summary = rig->SimulateSummary(sim_exit);
  ASSERT_EQ(sim_exit, 0) << summary.err;
  ASSERT_EQ(summary.published, count) << summary.err;
  // Catching up is bounded by the store thread at this test's tiny commits (10 readings, one
  // fsync each): about 14,000 readings/s here, so the wait grows with the outage.
  ASSERT_TRUE(rig->WaitForSinkDelivered(count, seconds(180 + kOutage))) << Diagnostics(*rig);
  const uint64_t peak_kib = PeakRssKib(pid);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  const json& lane = report["lanes"]["readings"];
  EXPECT_EQ(JsonCount(lane, "/delivered"), count) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/order_violations"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/silent_gaps"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/evicted_records"), 0u) << report.dump(2);
  ASSERT_GT(peak_kib, 0u);
#if !WEIR_SANITIZED  // a sanitizer's shadow memory and quarantine make RSS meaningless
  EXPECT_LT(peak_kib, kPeakRssBudgetKib) << "peak RSS " << peak_kib << " KiB";
#endif
  RecordProperty("peak_rss_kib", std::to_string(peak_kib));
  std::printf("peak RSS %llu KiB over a %d s outage at %.0f readings/s\n",
              static_cast<unsigned long long>(peak_kib), kOutage, kRate);
}

}  // namespace
}  // namespace weir
