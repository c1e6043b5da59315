// The disk as a second quota (store.min_free_bytes), a full disk that is not fatal, and the
// shares of the quota that quarantined data and dead letters may use (FORMAT.md "Disk space",
// "Quota and eviction").
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>

#include "agent/store/fault_vfs.h"
#include "agent/store/log.h"
#include "tests/support/test_support.h"
#include "tests/unit/store/store_test_util.h"

namespace weir::store {
namespace {

namespace fs = std::filesystem;
using weir::testing::FakeClock;
using weir::testing::TempDir;
using weir::testing::WriteFileBytes;

constexpr TimeMicros kT0 = 1'700'000'000'000'000;
constexpr uint64_t kMiB = 1 << 20;

// The fake filesystem: 1 GiB, with g_available bytes available.
std::atomic<uint64_t> g_available{512 * kMiB};
Result<platform::FilesystemSpace> FakeSpace(const fs::path&) {
  platform::FilesystemSpace s;
  s.total_bytes = 1024 * kMiB;
  s.available_bytes = g_available.load();
  s.free_bytes = s.available_bytes;
  return s;
}

// 1,000 readings with random values: about 8 KiB encoded.
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

LogOptions DiskOptions(const TempDir& dir, QuotaPolicy policy) {
  LogOptions o;
  o.path = dir / "log.db";
  o.commit_records = 1000;
  o.quota_bytes = 64 * kMiB;
  o.quota_policy = policy;
  o.min_free_bytes = 10 * kMiB;
  o.free_space = &FakeSpace;
  o.synchronous = Synchronous::kNormal;
  return o;
}

class DiskSpaceTest : public ::testing::Test {
 protected:
  void SetUp() override { g_available = 512 * kMiB; }
  void TearDown() override { testing::ClearFaults(); }
  TempDir dir_;
  FakeClock clock_;
};

TEST(ResolveMinFreeBytesTest, AutoIsTheLargerOf64MiBAnd5PercentCapped) {
  EXPECT_EQ(ResolveMinFreeBytes(kMinFreeAuto, 100 * kMiB), 10 * kMiB);  // 10 % of a tiny fs
  EXPECT_EQ(ResolveMinFreeBytes(kMinFreeAuto, 1024 * kMiB), 64 * kMiB);
  EXPECT_EQ(ResolveMinFreeBytes(kMinFreeAuto, 2048 * kMiB), 2048 * kMiB / 20);
  EXPECT_EQ(ResolveMinFreeBytes(kMinFreeAuto, 32 * 1024 * kMiB), 256 * kMiB);  // the cap
  EXPECT_EQ(ResolveMinFreeBytes(0, 1024 * kMiB), 0u);
  EXPECT_EQ(ResolveMinFreeBytes(5 * kMiB, 1024 * kMiB), 5 * kMiB);
}

TEST_F(DiskSpaceTest, ReserveReachedPausesIngestAndSpaceComingBackResumesIt) {
  auto log = testing::MustOpen(DiskOptions(dir_, QuotaPolicy::kPauseIngest), clock_);
  ASSERT_TRUE(log->Append(NoisyChunk(0)).ok());
  EXPECT_EQ(log->limit(), StoreLimit::kNone);
  g_available = 2 * kMiB;  // another program filled the disk below the reserve
  ASSERT_TRUE(log->Append(NoisyChunk(1)).ok());  // commits, then the check finds the reserve
  EXPECT_EQ(log->limit(), StoreLimit::kDiskReserve);
  EXPECT_EQ(log->usage().min_free_bytes, 10 * kMiB);
  auto refused = log->Append(NoisyChunk(2));
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("disk_reserve"), std::string::npos);
  g_available = 512 * kMiB;  // freed again: the next Append asks and goes through
  auto resumed = log->Append(NoisyChunk(2));
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(log->limit(), StoreLimit::kNone);
  EXPECT_EQ(log->last_committed_seq(), 3000u);
}

TEST_F(DiskSpaceTest, ReserveUnderEvictOldestTurnsTheOldestUnsentChunksIntoGaps) {
  auto log = testing::MustOpen(DiskOptions(dir_, QuotaPolicy::kEvictOldest), clock_);
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  EXPECT_EQ(log->evictions().rows_evicted, 0u);
  g_available = 0;  // nothing left on the filesystem at all
  auto r = log->Append(NoisyChunk(10));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(log->evictions().rows_evicted, 0u);
  EXPECT_EQ(log->limit(), StoreLimit::kDiskReserve);  // everything is a gap, still below
  ReadQuery q;
  q.max_records = 1000;
  auto rows = log->Read(q);
  ASSERT_TRUE(rows.ok());
  ASSERT_FALSE(rows->empty());
  EXPECT_EQ((*rows)[0].kind, RecordKind::kGap);
  EXPECT_EQ((*rows)[0].gap_reason, kGapEvicted);
  g_available = 512 * kMiB;
  EXPECT_TRUE(log->Append(NoisyChunk(11)).ok());
  EXPECT_EQ(log->limit(), StoreLimit::kNone);
}

TEST_F(DiskSpaceTest, ZeroDisablesTheReserve) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kPauseIngest);
  o.min_free_bytes = 0;
  auto log = testing::MustOpen(o, clock_);
  g_available = 0;
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
  EXPECT_EQ(log->limit(), StoreLimit::kNone);
}

TEST_F(DiskSpaceTest, QuotaAndReserveAreToldApart) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kPauseIngest);
  o.quota_bytes = 256 << 10;
  auto log = testing::MustOpen(o, clock_);
  Status refused;
  for (uint64_t i = 0; i < 60 && refused.ok(); ++i) refused = log->Append(NoisyChunk(i)).status();
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(log->limit(), StoreLimit::kQuota);
}

TEST_F(DiskSpaceTest, AFullDiskIsNotStickyAndKeepsWhatWasBuffered) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kPauseIngest);
  o.min_free_bytes = 0;
  o.vfs = testing::FaultVfsName();
  auto log = testing::MustOpen(o, clock_);
  ASSERT_TRUE(log->Append(NoisyChunk(0)).ok());
  testing::FailNextWrites(1000000, testing::Fault::kFull);
  auto full = log->Append(NoisyChunk(1));  // its commit finds the disk full
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->empty());
  EXPECT_TRUE(log->sticky_error().ok());
  EXPECT_EQ(log->limit(), StoreLimit::kDiskFull);
  EXPECT_EQ(log->buffered_records(), 1000u);
  EXPECT_EQ(log->Append(NoisyChunk(2)).status().code(), StatusCode::kResourceExhausted);
  clock_.Advance(Log::kDiskFullRetry);
  EXPECT_EQ(log->CommitIfDue().status().code(), StatusCode::kResourceExhausted);
  testing::ClearFaults();  // space is back
  EXPECT_TRUE(log->CommitIfDue()->empty()) << "waits kDiskFullRetry after the last try";
  clock_.Advance(Log::kDiskFullRetry);
  auto committed = log->CommitIfDue();
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(committed->first_seq, 1001u);
  EXPECT_EQ(committed->last_seq, 2000u);
  EXPECT_EQ(log->limit(), StoreLimit::kNone);
  ASSERT_TRUE(log->Append(NoisyChunk(2)).ok());
  EXPECT_EQ(log->last_committed_seq(), 3000u);
}

TEST_F(DiskSpaceTest, AnExistingLogOpensOnAFullDiskAndWritesWhenSpaceReturns) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kPauseIngest);
  o.min_free_bytes = 0;
  {
    auto log = testing::MustOpen(o, clock_);
    ASSERT_TRUE(log->Append(NoisyChunk(0)).ok());
  }
  // As after a crash: the reservation is above meta's next_seq, so opening must write meta.
  // (When nothing changed, opening writes nothing at all: SQLite skips identical rows.)
  const uint64_t reserved = 5000;
  WriteFileBytes(dir_ / "log.db.seq",
                 "weir-seq " + std::to_string(reserved) + " " + std::to_string(~reserved) + "\n");
  o.vfs = testing::FaultVfsName();
  testing::FailNextWrites(1000000, testing::Fault::kFull);
  auto log = testing::MustOpen(o, clock_);
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->recovery().opened_without_space);
  EXPECT_EQ(log->recovery().transient_retries, 0u);
  EXPECT_EQ(log->limit(), StoreLimit::kDiskFull);
  auto rows = log->Read(Lane::kReadings, 0, 10);  // the backlog can be forwarded
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
  ASSERT_TRUE(log->Ack("upstream", Lane::kReadings, 1000).ok());
  testing::ClearFaults();
  ASSERT_TRUE(log->Append(NoisyChunk(1)).ok());
  EXPECT_EQ(log->last_committed_seq(), reserved + 999);
  EXPECT_EQ(log->limit(), StoreLimit::kNone);
  log.reset();
  auto reopened = testing::MustOpen(DiskOptions(dir_, QuotaPolicy::kPauseIngest), clock_);
  EXPECT_EQ(reopened->CursorPosition("upstream", Lane::kReadings), 1000u);
}

TEST_F(DiskSpaceTest, ALogBelowItsReserveOpensOnAFullDiskThoughEvictionCannotWrite) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kPauseIngest);
  {
    auto log = testing::MustOpen(o, clock_);
    for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());
    ASSERT_TRUE(log->Ack("upstream", Lane::kReadings, 2000).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  g_available = 0;  // below the reserve: opening wants to delete the acked rows, and cannot
  o.vfs = testing::FaultVfsName();
  testing::FailNextWrites(1000000, testing::Fault::kFull);
  auto log = testing::MustOpen(o, clock_);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->limit(), StoreLimit::kDiskFull);
  EXPECT_TRUE(log->sticky_error().ok());
  auto rows = log->Read(Lane::kReadings, 2000, 10);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 1u);
}

// --- Shares of the quota ----------------------------------------------------------------------

TEST_F(DiskSpaceTest, DeadLettersAreTrimmedOldestFirstToTheirShare) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kEvictOldest);
  o.quota_bytes = 2 * kMiB;
  o.dead_letters_quota_percent = 5;  // 104,800 bytes
  auto log = testing::MustOpen(o, clock_);
  for (int i = 0; i < 1000; ++i) {
    DeadLetter d;
    d.source = "ingest";
    d.topic = "sensors/x";
    d.reason_code = "malformed";
    d.reason = "not a number";
    d.payload_head = std::string(256, 'p');
    d.payload_bytes = 256;
    ASSERT_TRUE(log->AppendDeadLetter(d).ok());
    if (i % 100 == 99) {
      ASSERT_TRUE(log->Commit().ok());
    }
  }
  const uint64_t share = o.quota_bytes / 100 * 5;
  EXPECT_LE(log->usage().dead_letters, share);
  EXPECT_GT(log->usage().dead_letters, share / 2);
  EXPECT_GT(log->evictions().dead_letters_trimmed, 0u);
  auto letters = log->ReadDeadLetters(0, 10000);
  ASSERT_TRUE(letters.ok());
  ASSERT_FALSE(letters->empty());
  EXPECT_EQ(letters->back().id, 1000u);  // the newest are kept
  EXPECT_EQ(letters->size() + log->evictions().dead_letters_trimmed, 1000u);
}

void WriteQuarantinedLog(const TempDir& dir, const std::string& stamp, size_t bytes) {
  fs::create_directories(dir / "quarantine" / stamp);
  WriteFileBytes(dir / "quarantine" / stamp / "log.db", std::string(bytes, 'q'));
}

TEST_F(DiskSpaceTest, QuarantinedFilesCountAndAreTrimmedOldestFirst) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kEvictOldest);
  o.quota_bytes = 2 * kMiB;  // share: 209,700 bytes
  WriteQuarantinedLog(dir_, "20250101T000000.000000Z", 150'000);
  WriteQuarantinedLog(dir_, "20260101T000000.000000Z", 150'000);
  auto log = testing::MustOpen(o, clock_);
  EXPECT_FALSE(fs::exists(dir_ / "quarantine" / "20250101T000000.000000Z"));
  EXPECT_TRUE(fs::exists(dir_ / "quarantine" / "20260101T000000.000000Z"));
  EXPECT_EQ(log->evictions().quarantine_files_trimmed, 1u);
  EXPECT_EQ(log->evictions().quarantine_bytes_trimmed, 150'000u);
  EXPECT_EQ(log->usage().quarantine_files, 150'000u);
  EXPECT_GE(log->usage().quota_counted, 150'000u);
}

TEST_F(DiskSpaceTest, QuarantineCannotCrowdOutUnsentData) {
  // Without a share, 1.5 MiB of quarantined files under a 2 MiB quota would leave the readings
  // almost nothing, and evict_oldest would discard unsent data while staying at the limit.
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kEvictOldest);
  o.quota_bytes = 2 * kMiB;
  WriteQuarantinedLog(dir_, "20250101T000000.000000Z", 1'500'000);
  auto log = testing::MustOpen(o, clock_);
  for (uint64_t i = 0; i < 40; ++i) ASSERT_TRUE(log->Append(NoisyChunk(i)).ok());  // ~320 KiB
  EXPECT_EQ(log->evictions().rows_evicted, 0u);
  EXPECT_EQ(log->evictions().quarantine_files_trimmed, 1u);
  EXPECT_EQ(log->limit(), StoreLimit::kNone);
}

TEST_F(DiskSpaceTest, SharesSurviveReopenAsCounters) {
  LogOptions o = DiskOptions(dir_, QuotaPolicy::kEvictOldest);
  o.quota_bytes = 2 * kMiB;
  WriteQuarantinedLog(dir_, "20250101T000000.000000Z", 1'500'000);
  { auto log = testing::MustOpen(o, clock_); }
  auto log = testing::MustOpen(o, clock_);
  EXPECT_EQ(log->evictions().quarantine_files_trimmed, 1u);
  auto st = log->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->evictions.quarantine_files_trimmed, 1u);
}

}  // namespace
}  // namespace weir::store
