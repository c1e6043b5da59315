// Opening a damaged log never fails: damaged rows or the damaged file go to quarantine, what was
// lost becomes gap records with reason "damaged", the rest is kept, and sequences continue above
// anything issued before. Errors that can pass (injected through fault_vfs.h) are retried and
// never quarantine.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "agent/store/fault_vfs.h"
#include "agent/store/log.h"
#include "tests/support/test_support.h"
#include "tests/unit/store/store_test_util.h"

namespace weir::store {
namespace {

namespace fs = std::filesystem;
using testing::MakeReadings;
using testing::MustOpen;
using testing::Options;
using weir::testing::FakeClock;
using weir::testing::ReadFileBytes;
using weir::testing::TempDir;
using weir::testing::WriteFileBytes;

// Writes `chunks` chunks of 100 readings and closes the log; returns the last sequence.
uint64_t WriteLog(const TempDir& dir, const Clock& clock, int chunks) {
  auto log = MustOpen(Options(dir), clock);
  for (int i = 0; i < chunks; ++i) {
    EXPECT_TRUE(log->Append(MakeReadings(100, 1'700'000'000'000'000 + i * 1'000'000)).ok());
  }
  EXPECT_TRUE(log->Commit().ok());
  EXPECT_TRUE(log->Ack("forwarder", Lane::kReadings, 100).ok());
  EXPECT_TRUE(log->Commit().ok());
  return log->last_committed_seq();
}

TEST(StoreRecoveryTest, CleanLogOpensWithNothingToReport) {
  TempDir dir;
  FakeClock clock;
  WriteLog(dir, clock, 3);
  auto log = MustOpen(Options(dir), clock);
  EXPECT_TRUE(log->recovery().integrity_ok);
  EXPECT_FALSE(log->recovery().file_quarantined);
  EXPECT_EQ(log->recovery().rows_quarantined, 0u);
}

TEST(StoreRecoveryTest, GarbageFileIsQuarantinedAndSequencesContinueAbove) {
  TempDir dir;
  FakeClock clock;
  const uint64_t last = WriteLog(dir, clock, 3);
  WriteFileBytes(dir / "log.db", std::string(10000, 'x'));
  auto log = MustOpen(Options(dir), clock);
  ASSERT_NE(log, nullptr);
  const RecoveryReport& r = log->recovery();
  EXPECT_TRUE(r.file_quarantined);
  EXPECT_FALSE(r.integrity_ok);
  EXPECT_TRUE(fs::exists(r.quarantine_dir / "log.db"));
  EXPECT_FALSE(r.notes.empty());
  // Nothing could be read: the whole issued range goes upstream as one damaged gap.
  auto rows = log->Read(Lane::kReadings, 0, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].kind, RecordKind::kGap);
  EXPECT_EQ((*rows)[0].gap_reason, kGapDamaged);
  EXPECT_EQ((*rows)[0].first_seq, 1u);
  EXPECT_EQ((*rows)[0].last_seq, last);
  EXPECT_EQ(r.damaged_gaps, 1u);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->first_seq, last);
}

TEST(StoreRecoveryTest, GarbageFileWithoutSideFileContinuesAtWallClock) {
  TempDir dir;
  FakeClock clock;
  WriteLog(dir, clock, 1);
  WriteFileBytes(dir / "log.db", std::string(10000, 'x'));
  fs::remove(dir / "log.db.seq");
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_GE(c->first_seq, static_cast<uint64_t>(clock.WallMicros()));
}

// Flips one bit inside the blob of the chunk holding sequences 201..300 of a closed log.
void FlipABitInTheThirdChunk(const TempDir& dir, const Clock& clock) {
  std::string blob;
  {
    auto log = MustOpen(Options(dir), clock);
    auto rows = log->Read(Lane::kReadings, 200, 1);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    blob = (*rows)[0].blob;
  }
  std::string bytes = ReadFileBytes(dir / "log.db");
  // A slice of the blob found exactly once in the file: with small pages the blob may be split
  // over overflow pages, and chunks share bytes.
  size_t at = std::string::npos;
  for (size_t off = 0; off + 24 <= blob.size() && at == std::string::npos; off += 8) {
    const std::string slice = blob.substr(off, 24);
    const size_t first = bytes.find(slice);
    if (first != std::string::npos && bytes.find(slice, first + 1) == std::string::npos) {
      at = first;
    }
  }
  ASSERT_NE(at, std::string::npos) << "no unique slice of the blob in the checkpointed file";
  bytes[at + 12] ^= 0x10;
  WriteFileBytes(dir / "log.db", bytes);
}

TEST(StoreRecoveryTest, FlippedByteInAChunkQuarantinesOnlyThatRow) {
  TempDir dir;
  FakeClock clock;
  WriteLog(dir, clock, 5);
  ASSERT_NO_FATAL_FAILURE(FlipABitInTheThirdChunk(dir, clock));

  auto log = MustOpen(Options(dir), clock);
  const RecoveryReport& r = log->recovery();
  EXPECT_FALSE(r.file_quarantined) << ::testing::PrintToString(r.notes);
  EXPECT_FALSE(r.integrity_ok);
  EXPECT_EQ(r.rows_quarantined, 1u);
  EXPECT_EQ(r.readings_quarantined, 100u);
  EXPECT_EQ(r.damaged_gaps, 1u);
  EXPECT_EQ(r.damaged_sequences, 100u);
  auto rows = log->Read(Lane::kReadings, 0, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 5u);
  for (const auto& row : *rows) {
    EXPECT_FALSE(row.damaged);
    if (row.first_seq == 201u) {  // the damaged row keeps its place as a gap
      EXPECT_EQ(row.kind, RecordKind::kGap);
      EXPECT_EQ(row.gap_reason, kGapDamaged);
      EXPECT_EQ(row.last_seq, 300u);
      EXPECT_EQ(row.count, 100u);
      continue;
    }
    EXPECT_EQ(row.readings.size(), 100u);
  }
  auto st = log->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->quarantined_rows, 1u);
  EXPECT_EQ(log->CursorPosition("forwarder", Lane::kReadings), 100u);
}

TEST(StoreRecoveryTest, TruncatedFileOpensAndKeepsWhatIsIntact) {
  TempDir dir;
  FakeClock clock;
  const uint64_t last = WriteLog(dir, clock, 40);
  const auto size = fs::file_size(dir / "log.db");
  fs::resize_file(dir / "log.db", size / 2);
  auto log = MustOpen(Options(dir), clock);
  ASSERT_NE(log, nullptr);
  EXPECT_FALSE(log->recovery().integrity_ok);
  auto rows = log->Read(Lane::kReadings, 0, 1000);
  ASSERT_TRUE(rows.ok());
  for (const auto& row : *rows) EXPECT_FALSE(row.damaged);
  // What was lost is announced: rows and damaged gaps together cover 1..last, no silent hole.
  uint64_t covered = 0;
  for (const auto& row : *rows) {
    EXPECT_EQ(row.first_seq, covered + 1) << "a hole before " << row.first_seq;
    covered = row.last_seq;
  }
  EXPECT_EQ(covered, last);
  EXPECT_GT(log->recovery().damaged_gaps, 0u);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->first_seq, last);
}

TEST(StoreRecoveryTest, EmptyFileStartsFreshAboveTheReservation) {
  TempDir dir;
  FakeClock clock;
  const uint64_t last = WriteLog(dir, clock, 2);
  fs::resize_file(dir / "log.db", 0);
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->first_seq, last);
}

TEST(StoreRecoveryTest, ReaderReportsDataLossOnAFileThatIsNotALog) {
  TempDir dir;
  WriteFileBytes(dir / "log.db", std::string(10000, 'x'));
  auto reader = LogReader::Open(dir / "log.db");
  EXPECT_EQ(reader.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(LogReader::Open(dir / "absent.db").status().code(), StatusCode::kNotFound);
}

TEST(StoreRecoveryTest, QuarantinedRowsBeyondTheirShareAreTrimmedButTheGapStays) {
  TempDir dir;
  FakeClock clock;
  WriteLog(dir, clock, 5);
  ASSERT_NO_FATAL_FAILURE(FlipABitInTheThirdChunk(dir, clock));
  LogOptions o = Options(dir);
  o.quota_bytes = 4 << 20;
  o.quarantine_quota_percent = 0;  // no room for quarantined data at all
  auto log = MustOpen(o, clock);
  EXPECT_EQ(log->recovery().rows_quarantined, 1u);
  EXPECT_EQ(log->evictions().quarantine_rows_trimmed, 1u);
  EXPECT_GT(log->evictions().quarantine_bytes_trimmed, 0u);
  EXPECT_EQ(log->usage().quarantine_rows, 0u);
  auto st = log->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->quarantined_rows, 0u);
  EXPECT_EQ(st->damaged_gaps, 1u);  // the loss is still announced
  EXPECT_EQ(st->damaged_gap_records, 100u);
}

// --- Errors that can pass are not damage (the fault seam: agent/store/fault_vfs.h) ------------

LogOptions FaultOptions(const TempDir& dir) {
  LogOptions o = Options(dir);
  o.vfs = testing::FaultVfsName();
  o.open_retry_initial = std::chrono::milliseconds(1);
  return o;
}

class TransientOpenTest : public ::testing::TestWithParam<testing::Fault> {
 protected:
  void TearDown() override { testing::ClearFaults(); }
};

TEST_P(TransientOpenTest, FailedReadsAtOpenAreRetriedAndNeverQuarantine) {
  TempDir dir;
  FakeClock clock;
  const uint64_t last = WriteLog(dir, clock, 3);
  const uint64_t injected = testing::InjectedFaults();
  testing::FailNextReads(3, GetParam());
  auto log = MustOpen(FaultOptions(dir), clock);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(testing::InjectedFaults() - injected, 3u);
  const RecoveryReport& r = log->recovery();
  EXPECT_GE(r.transient_retries, 1u);
  EXPECT_FALSE(r.last_transient_error.empty());
  EXPECT_FALSE(r.file_quarantined) << ::testing::PrintToString(r.notes);
  EXPECT_EQ(r.rows_quarantined, 0u);
  EXPECT_EQ(r.damaged_gaps, 0u);
  EXPECT_TRUE(r.integrity_ok);
  EXPECT_FALSE(fs::exists(dir / "quarantine"));
  auto rows = log->Read(Lane::kReadings, 0, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 3u);
  EXPECT_EQ(log->last_committed_seq(), last);
}

TEST_P(TransientOpenTest, FailedOpensAreRetried) {
  TempDir dir;
  FakeClock clock;
  WriteLog(dir, clock, 2);
  testing::FailNextOpens(2, GetParam());
  auto log = MustOpen(FaultOptions(dir), clock);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->recovery().transient_retries, 2u);
  EXPECT_FALSE(log->recovery().file_quarantined);
  EXPECT_FALSE(fs::exists(dir / "quarantine"));
}

TEST_P(TransientOpenTest, ErrorsThatOutlastTheRetriesFailTheOpenAndKeepTheFile) {
  TempDir dir;
  FakeClock clock;
  WriteLog(dir, clock, 2);
  const std::string before = ReadFileBytes(dir / "log.db");
  LogOptions o = FaultOptions(dir);
  o.open_retries = 2;
  testing::FailNextOpens(1000, GetParam());
  auto log = Log::Open(o, clock);
  testing::ClearFaults();
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(dir / "quarantine"));
  EXPECT_EQ(ReadFileBytes(dir / "log.db"), before);
  auto again = MustOpen(o, clock);  // the error passed: the log is all there
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->recovery().integrity_ok);
}

TEST(StoreRecoveryTest, AnErrorThatPassesAfterTheFileWasQuarantinedStillSalvagesIt) {
  TempDir dir;
  FakeClock clock;
  WriteLog(dir, clock, 4);
  ASSERT_NO_FATAL_FAILURE(FlipABitInTheThirdChunk(dir, clock));
  // Damage the header too, so the whole file is quarantined, then fail the fresh log's open.
  std::string bytes = ReadFileBytes(dir / "log.db");
  bytes.replace(0, 16, std::string(16, 'x'));
  WriteFileBytes(dir / "log.db", bytes);
  testing::FailOpensAfter(1, 1, testing::Fault::kIoError);
  auto log = MustOpen(FaultOptions(dir), clock);
  testing::ClearFaults();
  ASSERT_NE(log, nullptr);
  const RecoveryReport& r = log->recovery();
  EXPECT_EQ(r.transient_retries, 1u);
  EXPECT_TRUE(r.file_quarantined);
  EXPECT_TRUE(fs::exists(r.quarantine_dir / "log.db"));
  // Nothing vanished: every sequence is a row or announced by a damaged gap.
  auto rows = log->Read(Lane::kReadings, 0, 100);
  ASSERT_TRUE(rows.ok());
  uint64_t covered = 0;
  for (const auto& row : *rows) {
    EXPECT_EQ(row.first_seq, covered + 1);
    covered = row.last_seq;
  }
  EXPECT_EQ(covered, 400u);
  EXPECT_GT(r.damaged_gaps, 0u);
}

std::string FaultName(const ::testing::TestParamInfo<testing::Fault>& param) {
  switch (param.param) {
    case testing::Fault::kIoError:
      return "IoError";
    case testing::Fault::kNoMem:
      return "NoMem";
    case testing::Fault::kBusy:
      return "Busy";
    case testing::Fault::kFull:
      return "Full";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(Faults, TransientOpenTest,
                         ::testing::Values(testing::Fault::kIoError, testing::Fault::kNoMem,
                                           testing::Fault::kBusy, testing::Fault::kFull),
                         FaultName);

}  // namespace
}  // namespace weir::store
