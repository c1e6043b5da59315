// The intake path with its journal: Ingest over a real journal, the store thread over a real log.
// Past the queue's memory budget messages wait in the journal and are committed in order; the
// log's intake mark follows what is committed; a restart's replay takes exactly what the log
// does not hold.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/codec/payload_parser.h"
#include "agent/pipeline/ingest.h"
#include "agent/pipeline/store_stage.h"
#include "agent/store/intake_journal.h"
#include "agent/store/log.h"
#include "tests/support/test_support.h"

namespace weir::pipeline {
namespace {

using weir::testing::TempDir;
using weir::testing::WaitFor;

std::vector<IngestRoute> NumberRoute() {
  codec::ParserConfig config;
  config.format = "number";
  auto parser = codec::MakeParser(config);
  EXPECT_TRUE(parser.ok());
  return {{"s/#", std::shared_ptr<const codec::PayloadParser>(std::move(*parser))}};
}

// Every reading value in the log's readings lane, in sequence order.
std::vector<double> LoggedValues(const std::filesystem::path& path) {
  auto reader = store::LogReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<double> values;
  if (!reader.ok()) return values;
  uint64_t after = 0;
  for (;;) {
    auto rows = (*reader)->Read(Lane::kReadings, after, 1000);
    EXPECT_TRUE(rows.ok());
    if (!rows.ok() || rows->empty()) return values;
    for (const store::StoredRecord& r : *rows) {
      for (const Reading& reading : r.readings) values.push_back(reading.value);
      after = r.last_seq;
    }
  }
}

class IntakeTest : public ::testing::Test {
 protected:
  std::unique_ptr<store::Log> OpenLog() {
    store::LogOptions lo;
    lo.path = dir_ / "log.db";
    lo.commit_interval = std::chrono::milliseconds(2);
    lo.synchronous = store::Synchronous::kNormal;
    auto log = store::Log::Open(lo, clock_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(*log) : nullptr;
  }
  std::unique_ptr<store::IntakeJournal> OpenJournal(uint64_t mark) {
    auto j = store::IntakeJournal::Open({.dir = dir_ / "intake", .segment_bytes = 4096}, mark);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(*j) : nullptr;
  }
  void Send(Ingest& ingest, int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string payload = std::to_string(i);
      ingest.OnMessage({.topic = "s/a", .payload = payload, .qos = 1});
    }
  }

  TempDir dir_;
  const Clock& clock_ = SystemClock::Instance();  // commits are due by time, too
};

TEST_F(IntakeTest, PastTheBudgetMessagesWaitInTheJournalAndAreCommittedInOrder) {
  auto journal = OpenJournal(0);
  IngestQueue queue(IngestQueue::kMinBudgetBytes);
  Ingest ingest(NumberRoute(), 1024, queue, clock_, journal.get());
  constexpr int kCount = 5000;  // far beyond what 64 KiB of parsed items hold
  Send(ingest, 0, kCount);
  EXPECT_GT(ingest.spilled(), 3000u);
  EXPECT_LE(queue.bytes(), IngestQueue::kMinBudgetBytes + 4096);

  IntakeSource intake{journal.get(),
                      [&](const store::IntakeEntry& e) { return ingest.ParseEntry(e); }};
  auto stage = StoreStage::Start(OpenLog(), queue, {}, clock_, nullptr, nullptr, intake);
  ASSERT_TRUE(stage.ok()) << stage.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return (*stage)->counters().readings_committed == kCount; }));
  EXPECT_EQ((*stage)->counters().intake_replayed, ingest.spilled());
  EXPECT_EQ((*stage)->counters().intake_lost, 0u);
  ASSERT_TRUE((*stage)->Stop().ok());
  stage->reset();

  const std::vector<double> values = LoggedValues(dir_ / "log.db");
  ASSERT_EQ(values.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(values[i], i) << "at " << i;
  // Committed segments were released: only the tail is left.
  EXPECT_LE(journal->Stats().segments, 2u);
  auto log = OpenLog();
  EXPECT_EQ(log->committed_intake_mark(), static_cast<uint64_t>(kCount));
}

TEST_F(IntakeTest, AfterACrashOnlyWhatTheLogLacksIsReplayed) {
  {
    // A first run commits 300 messages; 200 more reach the journal but never the log (kill -9).
    auto journal = OpenJournal(0);
    IngestQueue queue(IngestQueue::kMinBudgetBytes);
    Ingest ingest(NumberRoute(), 1024, queue, clock_, journal.get());
    Send(ingest, 0, 300);
    auto stage = StoreStage::Start(
        OpenLog(), queue, {}, clock_, nullptr, nullptr,
        {journal.get(), [&](const store::IntakeEntry& e) { return ingest.ParseEntry(e); }});
    ASSERT_TRUE(stage.ok());
    ASSERT_TRUE((*stage)->Stop().ok());
    stage->reset();
    IngestQueue lost(IngestQueue::kMinBudgetBytes);
    Ingest late(NumberRoute(), 1024, lost, clock_, journal.get());
    Send(late, 300, 500);
  }
  auto log = OpenLog();
  ASSERT_EQ(log->committed_intake_mark(), 300u);
  auto journal = OpenJournal(log->committed_intake_mark());
  ASSERT_EQ(journal->last_number(), 500u);
  IngestQueue queue(IngestQueue::kMinBudgetBytes);
  Ingest ingest(NumberRoute(), 1024, queue, clock_, journal.get());
  ASSERT_TRUE(queue.PushSpilled(log->committed_intake_mark() + 1, journal->last_number()).ok());
  auto stage = StoreStage::Start(
      std::move(log), queue, {}, clock_, nullptr, nullptr,
      {journal.get(), [&](const store::IntakeEntry& e) { return ingest.ParseEntry(e); }});
  ASSERT_TRUE(stage.ok());
  ASSERT_TRUE(WaitFor([&] { return (*stage)->counters().readings_committed == 200; }));
  ASSERT_TRUE((*stage)->Stop().ok());
  stage->reset();
  const std::vector<double> values = LoggedValues(dir_ / "log.db");
  ASSERT_EQ(values.size(), 500u);  // each message once
  for (int i = 0; i < 500; ++i) ASSERT_EQ(values[i], i) << "at " << i;
}

}  // namespace
}  // namespace weir::pipeline
