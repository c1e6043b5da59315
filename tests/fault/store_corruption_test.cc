// Corruption test: a log file truncated at random offsets or with random bytes flipped, in well
// over 100 variants. Opening it with the store always succeeds and reports what it quarantined;
// what is left reads without error; every lost range is announced by a gap record with reason
// "damaged" (no silent hole); writing continues with sequences above the old ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "agent/store/log.h"
#include "tests/support/test_support.h"

namespace weir::store {
namespace {

namespace fs = std::filesystem;
using weir::testing::FakeClock;
using weir::testing::ReadFileBytes;
using weir::testing::TempDir;
using weir::testing::WriteFileBytes;

constexpr int kVariants = 160;

// A closed log of about 100 KiB: readings chunks, defects, a cursor. Returns its last seq.
uint64_t BuildBaseLog(const fs::path& path, const Clock& clock) {
  LogOptions o;
  o.path = path;
  o.commit_records = 500;
  o.synchronous = Synchronous::kNormal;
  auto log = Log::Open(o, clock);
  EXPECT_TRUE(log.ok());
  std::mt19937_64 rng(7);
  TimeMicros t = 1'700'000'000'000'000;
  for (int c = 0; c < 120; ++c) {
    std::vector<Reading> batch;
    for (int i = 0; i < 500; ++i) {
      t += 1'000'000;
      batch.push_back(Reading{"sensor/" + std::to_string(c % 3), t,
                              std::round(std::sin(static_cast<double>(t) / 1e8) * 1000) / 10 +
                                  static_cast<double>(rng() % 5),
                              0});
    }
    EXPECT_TRUE((*log)->Append(batch).ok());
    if (c % 10 == 0) {
      Defect d;
      d.sensor = "sensor/0";
      d.window_start_us = t - 60'000'000;
      d.window_end_us = t;
      d.message = "defect " + std::to_string(c);
      EXPECT_TRUE((*log)->AppendDefect(d).ok());
      EXPECT_TRUE((*log)->Commit().ok());
    }
  }
  EXPECT_TRUE((*log)->Ack("forwarder", Lane::kReadings, 10'000).ok());
  EXPECT_TRUE((*log)->Commit().ok());
  return (*log)->last_committed_seq();
}

TEST(StoreCorruptionTest, DamagedFilesAlwaysOpenAndReportWhatWasQuarantined) {
  TempDir base;
  FakeClock clock;
  const uint64_t base_last = BuildBaseLog(base / "log.db", clock);
  const std::string pristine = ReadFileBytes(base / "log.db");
  const std::string side = ReadFileBytes(base / "log.db.seq");
  ASSERT_GT(pristine.size(), 50'000u);
  ASSERT_EQ(fs::file_size(base / "log.db-wal"), 0u) << "a clean close checkpoints the WAL";

  std::mt19937_64 rng(42);
  int whole_file = 0, rows_only = 0, unnoticed = 0;
  for (int v = 0; v < kVariants; ++v) {
    TempDir dir;
    std::string bytes = pristine;
    std::string what;
    if (v % 2 == 0) {
      const size_t at = rng() % bytes.size();
      bytes.resize(at);
      what = "truncated at " + std::to_string(at);
    } else {
      const int flips = 1 + static_cast<int>(rng() % 8);
      what = "flipped";
      for (int f = 0; f < flips; ++f) {
        // One variant in four also hits the first page (header and schema).
        const size_t at = (v % 8 == 1) ? rng() % 4096 : rng() % bytes.size();
        bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
        what += " " + std::to_string(at);
      }
    }
    WriteFileBytes(dir / "log.db", bytes);
    WriteFileBytes(dir / "log.db.seq", side);
    SCOPED_TRACE("variant " + std::to_string(v) + ": " + what);

    {  // A reader on the damaged file must not crash; it may refuse.
      auto reader = LogReader::Open(dir / "log.db");
      if (reader.ok()) (*reader)->Stats().status().IgnoreError();
    }

    LogOptions o;
    o.path = dir / "log.db";
    o.synchronous = Synchronous::kNormal;  // recovery is the same; fewer fsyncs keep it quick
    auto log = Log::Open(o, clock);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    const RecoveryReport& r = (*log)->recovery();
    if (r.file_quarantined) {
      ++whole_file;
      EXPECT_TRUE(fs::exists(r.quarantine_dir / "log.db"));
    } else if (!r.integrity_ok) {
      ++rows_only;
    } else {
      ++unnoticed;  // the damage hit free space or slack bytes
    }
    EXPECT_EQ(r.integrity_ok, r.notes.empty() && r.rows_quarantined == 0);

    ReadQuery q;
    q.max_records = 1u << 20;
    auto rows = (*log)->Read(q);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    uint64_t prev = 0;
    uint64_t holes = 0;
    for (const StoredRecord& row : *rows) {
      EXPECT_GT(row.first_seq, prev);
      // Every sequence the log held is still there or announced by a damaged gap: the base log
      // is contiguous (both lanes together), so a hole would be a silent loss.
      if (row.first_seq != prev + 1) ++holes;
      if (row.kind == RecordKind::kGap) {
        EXPECT_EQ(row.gap_reason, kGapDamaged);
      }
      prev = row.last_seq;
      EXPECT_LE(row.last_seq, base_last);
    }
    if (prev != base_last) ++holes;
    EXPECT_EQ(holes, 0u) << "lost ranges not announced; damaged gaps: " << r.damaged_gaps;
    // A row that failed its checksum is always announced (a quarantined file whose rows all
    // salvaged needs no gap).
    if (r.rows_quarantined > 0) {
      EXPECT_GT(r.damaged_gaps, 0u);
    }
    auto stats = (*log)->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();

    ASSERT_TRUE((*log)->Append(std::vector<Reading>{{"s", 1, 1.0, 0}}).ok());
    auto c = (*log)->Commit();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_GT(c->first_seq, base_last);
  }
  std::printf(
      "corruption variants: %d, whole file quarantined: %d, rows quarantined: %d, "
      "no damage found: %d\n",
      kVariants, whole_file, rows_only, unnoticed);
  EXPECT_GT(whole_file + rows_only, kVariants / 2);
}

}  // namespace
}  // namespace weir::store
