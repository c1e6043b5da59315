// The byte quota: acked rows go first, then the oldest unsent readings become gap records in
// place, defects last; or ingest pauses until acks free space.
#include <gtest/gtest.h>

#include <random>

#include "agent/store/log.h"
#include "tests/support/test_support.h"
#include "tests/unit/store/store_test_util.h"

namespace weir::store {
namespace {

using testing::MakeDefect;
using weir::testing::FakeClock;
using weir::testing::TempDir;

constexpr TimeMicros kT0 = 1'700'000'000'000'000;
constexpr uint64_t kQuota = 256 << 10;  // budget for pages: 192 KiB (64 KiB WAL allowance)

// 1,000 readings with random values: about 8 KiB encoded, so a few dozen fill the quota.
std::vector<Reading> NoisyChunk(uint64_t index) {
  std::mt19937_64 rng(index);
  std::uniform_real_distribution<double> dist(-1e6, 1e6);
  std::vector<Reading> out;
  for (int i = 0; i < 1000; ++i) {
    out.push_back(
        Reading{"s", kT0 + static_cast<TimeMicros>(index * 1000 + i) * 1000, dist(rng), 0});
  }
  return out;
}

LogOptions QuotaOptions(const TempDir& dir, QuotaPolicy policy) {
  LogOptions o;
  o.path = dir / "log.db";
  o.commit_records = 1000;
  o.quota_bytes = kQuota;
  o.quota_policy = policy;
  o.synchronous = Synchronous::kNormal;  // keeps the test fast; quota logic is the same
  return o;
}

std::vector<StoredRecord> ReadAll(Log& log, Lane lane) {
  ReadQuery q;
  q.lane = lane;
  q.max_records = 100000;
  q.decode = false;
  auto rows = log.Read(q);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? std::move(rows).value() : std::vector<StoredRecord>{};
}

TEST(StoreQuotaTest, EvictOldestReplacesOldestUnsentChunksByOneGapInPlace) {
  TempDir dir;
  FakeClock clock;
  auto log = testing::MustOpen(QuotaOptions(dir, QuotaPolicy::kEvictOldest), clock);
  for (uint64_t i = 0; i < 60; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  const EvictionStats& e = log->evictions();
  EXPECT_GT(e.rows_evicted, 0u);
  EXPECT_EQ(e.readings_evicted % 1000, 0u);
  auto rows = ReadAll(*log, Lane::kReadings);
  ASSERT_GE(rows.size(), 2u);
  // One merged gap at the head, covering exactly what was evicted, then the data in order.
  EXPECT_EQ(rows[0].kind, RecordKind::kGap);
  EXPECT_EQ(rows[0].first_seq, 1u);
  EXPECT_EQ(rows[0].count, e.readings_evicted);
  EXPECT_EQ(rows[0].last_seq, e.readings_evicted);
  EXPECT_EQ(rows[0].min_time_us, kT0);
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].kind, RecordKind::kReadings);
    EXPECT_EQ(rows[i].first_seq, rows[i - 1].last_seq + 1);
  }
  EXPECT_EQ(rows.back().last_seq, 60'000u);
  auto st = log->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_LE(st->live_bytes, kQuota);
  EXPECT_EQ(st->readings.gaps, 1u);
  EXPECT_EQ(st->readings.gap_records, e.readings_evicted);
  EXPECT_EQ(st->evictions.readings_evicted, e.readings_evicted);
}

TEST(StoreQuotaTest, AckedRowsAreDeletedBeforeUnsentRowsAreEvicted) {
  TempDir dir;
  FakeClock clock;
  auto log = testing::MustOpen(QuotaOptions(dir, QuotaPolicy::kEvictOldest), clock);
  for (uint64_t i = 0; i < 15; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  ASSERT_TRUE(log->Ack("forwarder", Lane::kReadings, 15'000).ok());
  for (uint64_t i = 15; i < 30; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  EXPECT_GT(log->evictions().acked_rows_deleted, 0u);
  EXPECT_EQ(log->evictions().rows_evicted, 0u);
  auto rows = ReadAll(*log, Lane::kReadings);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0].kind, RecordKind::kReadings);  // no gap: nothing unsent was lost
  EXPECT_EQ(rows.back().last_seq, 30'000u);
}

TEST(StoreQuotaTest, RowsAreAckedOnlyWhenEveryCursorOfTheLaneAckedThem) {
  TempDir dir;
  FakeClock clock;
  auto log = testing::MustOpen(QuotaOptions(dir, QuotaPolicy::kEvictOldest), clock);
  for (uint64_t i = 0; i < 15; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  ASSERT_TRUE(log->Ack("forwarder", Lane::kReadings, 15'000).ok());
  ASSERT_TRUE(log->Ack("archive", Lane::kReadings, 1'000).ok());
  for (uint64_t i = 15; i < 30; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  EXPECT_EQ(log->evictions().acked_rows_deleted, 1u);  // only the chunk both cursors acked
  EXPECT_GT(log->evictions().rows_evicted, 0u);
}

TEST(StoreQuotaTest, DefectsAreEvictedOnlyAfterEveryReadingsChunk) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = QuotaOptions(dir, QuotaPolicy::kEvictOldest);
  auto log = testing::MustOpen(o, clock);
  auto big_defect = [](int i) {
    Defect d = MakeDefect(kT0 + i);
    std::mt19937 rng(i);
    d.message.resize(20'000);
    for (char& c : d.message) c = static_cast<char>('a' + rng() % 26);
    return d;
  };
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(log->AppendDefect(big_defect(i)).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  EXPECT_GT(log->evictions().readings_evicted, 0u);
  EXPECT_EQ(log->evictions().defects_evicted, 0u);
  EXPECT_EQ(ReadAll(*log, Lane::kDefects).size(), 6u);

  for (int i = 6; i < 12; ++i) {
    ASSERT_TRUE(log->AppendDefect(big_defect(i)).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  EXPECT_GT(log->evictions().defects_evicted, 0u);
  for (const auto& r : ReadAll(*log, Lane::kReadings)) EXPECT_EQ(r.kind, RecordKind::kGap);
  auto defects = ReadAll(*log, Lane::kDefects);
  ASSERT_FALSE(defects.empty());
  EXPECT_EQ(defects[0].kind, RecordKind::kGap);
  EXPECT_EQ(defects[0].count, log->evictions().defects_evicted);
  EXPECT_EQ(defects.back().kind, RecordKind::kDefect);
}

TEST(StoreQuotaTest, PauseIngestRefusesAppendsUntilAcksFreeSpace) {
  TempDir dir;
  FakeClock clock;
  auto log = testing::MustOpen(QuotaOptions(dir, QuotaPolicy::kPauseIngest), clock);
  Status refused;
  uint64_t i = 0;
  for (; i < 100 && refused.ok(); ++i) {
    auto c = log->Append(NoisyChunk(i));
    if (!c.ok()) refused = c.status();
  }
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  EXPECT_EQ(log->evictions().rows_evicted, 0u);
  const uint64_t last = log->last_committed_seq();
  auto rows = ReadAll(*log, Lane::kReadings);
  EXPECT_EQ(rows.front().first_seq, 1u);  // nothing was lost
  ASSERT_TRUE(log->Ack("forwarder", Lane::kReadings, last).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto resumed = log->Append(NoisyChunk(i));
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_GT(log->evictions().acked_rows_deleted, 0u);
}

TEST(StoreQuotaTest, EvictionCountersSurviveReopen) {
  TempDir dir;
  FakeClock clock;
  uint64_t evicted = 0;
  {
    auto log = testing::MustOpen(QuotaOptions(dir, QuotaPolicy::kEvictOldest), clock);
    for (uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
    evicted = log->evictions().readings_evicted;
    ASSERT_GT(evicted, 0u);
  }
  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok());
  auto st = (*reader)->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->evictions.readings_evicted, evicted);
}

}  // namespace
}  // namespace weir::store
