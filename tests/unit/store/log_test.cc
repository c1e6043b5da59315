// The log's contract: sequences, group commit, cursors and acks, reads, stats, sticky errors.
#include "agent/store/log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>

#include "tests/support/test_support.h"
#include "tests/unit/store/store_test_util.h"

namespace weir::store {
namespace {

using std::chrono::milliseconds;
using testing::MakeDefect;
using testing::MakeReadings;
using testing::MustOpen;
using testing::Options;
using weir::testing::FakeClock;
using weir::testing::TempDir;

TEST(StoreLogTest, CommitAssignsContiguousSequencesFromOne) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->recovery().created);
  ASSERT_TRUE(log->Append(MakeReadings(10)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->first_seq, 1u);
  EXPECT_EQ(c->last_seq, 10u);
  EXPECT_EQ(c->readings, 10u);
  EXPECT_EQ(log->last_committed_seq(), 10u);
}

TEST(StoreLogTest, SequencesIncreaseAcrossReopen) {
  TempDir dir;
  FakeClock clock;
  uint64_t last = 0;
  for (int round = 0; round < 5; ++round) {
    auto log = MustOpen(Options(dir), clock);
    ASSERT_TRUE(log->Append(MakeReadings(7)).ok());
    ASSERT_TRUE(log->AppendDefect(MakeDefect(1'700'000'000'000'000)).ok());
    auto c = log->Commit();
    ASSERT_TRUE(c.ok());
    EXPECT_GT(c->first_seq, last);
    EXPECT_EQ(c->last_seq - c->first_seq + 1, 8u);
    last = c->last_seq;
  }
}

TEST(StoreLogTest, CleanReopenContinuesWithoutAJump) {
  TempDir dir;
  FakeClock clock;
  {
    auto log = MustOpen(Options(dir), clock);
    ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first_seq, 6u);
}

TEST(StoreLogTest, SequencesAreNotReusedAfterTheFileIsDeleted) {
  TempDir dir;
  FakeClock clock;
  uint64_t last = 0;
  {
    auto log = MustOpen(Options(dir), clock);
    ASSERT_TRUE(log->Append(MakeReadings(50)).ok());
    auto c = log->Commit();
    ASSERT_TRUE(c.ok());
    last = c->last_seq;
  }
  // Every row is gone (as if deleted), only the side file remains.
  std::filesystem::remove(dir / "log.db");
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->first_seq, last);
}

TEST(StoreLogTest, SequencesAreNotReusedAfterACrashWithoutCleanClose) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = Options(dir);
  o.seq_reserve_block = 1000;
  uint64_t last = 0;
  {
    auto log = MustOpen(o, clock);
    ASSERT_TRUE(log->Append(MakeReadings(30)).ok());
    auto c = log->Commit();
    ASSERT_TRUE(c.ok());
    last = c->last_seq;
    // Simulate the loss of the newest rows: remove the file under the open log.
    std::filesystem::remove(dir / "log.db");
    std::filesystem::remove(dir / "log.db-wal");
  }
  auto log = MustOpen(o, clock);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->first_seq, last);
}

TEST(StoreLogTest, GroupCommitHappensWhenCountIsReached) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);  // commit_records = 100
  auto a = log->Append(MakeReadings(60));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->empty());
  EXPECT_EQ(log->buffered_records(), 60u);
  auto b = log->Append(MakeReadings(40));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first_seq, 1u);
  EXPECT_EQ(b->last_seq, 100u);
  EXPECT_EQ(log->buffered_records(), 0u);
}

TEST(StoreLogTest, GroupCommitHappensWhenIntervalPasses) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);  // commit_interval = 50 ms
  EXPECT_FALSE(log->NextCommitDeadline().has_value());
  ASSERT_TRUE(log->Append(MakeReadings(3)).ok());
  ASSERT_TRUE(log->NextCommitDeadline().has_value());
  EXPECT_EQ(*log->NextCommitDeadline(), clock.Now() + milliseconds(50));
  clock.Advance(milliseconds(49));
  auto early = log->CommitIfDue();
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());
  clock.Advance(milliseconds(1));
  auto due = log->CommitIfDue();
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(due->last_seq, 3u);
  EXPECT_FALSE(log->NextCommitDeadline().has_value());
}

TEST(StoreLogTest, LargeAppendIsSplitIntoChunksOfAtMostCommitRecords) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  auto c = log->Append(MakeReadings(250));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->last_seq, 250u);
  auto rows = log->Read(Lane::kReadings, 0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].first_seq, 1u);
  EXPECT_EQ((*rows)[0].last_seq, 100u);
  EXPECT_EQ((*rows)[2].first_seq, 201u);
  EXPECT_EQ((*rows)[2].count, 50u);
}

TEST(StoreLogTest, ReadReturnsExactlyWhatWasAppendedInOrder) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  auto in = MakeReadings(150);
  in[3].value = -0.0;
  in[4].quality = 7;
  ASSERT_TRUE(log->Append(in).ok());
  ASSERT_TRUE(log->AppendDefect(MakeDefect(in[10].time_us)).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto rows = log->Read(Lane::kReadings, 0, 100);
  ASSERT_TRUE(rows.ok());
  std::vector<Reading> out;
  uint64_t expect_seq = 0;
  for (const auto& r : *rows) {
    EXPECT_EQ(r.kind, RecordKind::kReadings);
    EXPECT_FALSE(r.damaged);
    EXPECT_FALSE(r.blob.empty());
    EXPECT_GT(r.first_seq, expect_seq);
    expect_seq = r.last_seq;
    out.insert(out.end(), r.readings.begin(), r.readings.end());
  }
  EXPECT_EQ(out, in);
  auto defects = log->Read(Lane::kDefects, 0, 10);
  ASSERT_TRUE(defects.ok());
  ASSERT_EQ(defects->size(), 1u);
  ASSERT_TRUE((*defects)[0].defect.has_value());
  EXPECT_EQ(*(*defects)[0].defect, MakeDefect(in[10].time_us));
}

TEST(StoreLogTest, CursorReadsResumeAfterAckedSequenceAcrossReopen) {
  TempDir dir;
  FakeClock clock;
  uint64_t acked = 0;
  {
    auto log = MustOpen(Options(dir), clock);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(log->Append(MakeReadings(100)).ok());
    }
    auto rows = log->Read(Lane::kReadings, log->CursorPosition("forwarder", Lane::kReadings), 2);
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 2u);
    acked = (*rows)[1].last_seq;
    ASSERT_TRUE(log->Ack("forwarder", Lane::kReadings, acked).ok());
    EXPECT_EQ(log->CursorPosition("forwarder", Lane::kReadings), acked);
    ASSERT_TRUE(log->Commit().ok());  // acks ride the next commit
  }
  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto pos = (*reader)->CursorPosition("forwarder", Lane::kReadings);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, acked);
  auto log = MustOpen(Options(dir), clock);
  EXPECT_EQ(log->CursorPosition("forwarder", Lane::kReadings), acked);
  auto rest = log->Read(Lane::kReadings, acked, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].first_seq, acked + 1);
}

TEST(StoreLogTest, ReadAfterAPartialAckReturnsTheStraddlingChunkWhole) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(MakeReadings(100)).ok());
  ASSERT_TRUE(log->Commit().ok());
  // The forwarder sent the second chunk (101..200) in two messages; only the first was acked.
  ASSERT_TRUE(log->Ack("forwarder", Lane::kReadings, 150).ok());
  auto rows = log->Read(Lane::kReadings, 150, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].first_seq, 101u);
  EXPECT_EQ((*rows)[0].last_seq, 200u);
  EXPECT_EQ((*rows)[0].readings.size(), 100u);
  EXPECT_EQ((*rows)[1].first_seq, 201u);
  // At a chunk boundary nothing before it comes back.
  auto next = log->Read(Lane::kReadings, 200, 10);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].first_seq, 201u);
}

TEST(StoreLogTest, AckOnlyMovesForwardAndOnlyToCommittedSequences) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(10)).ok());
  EXPECT_EQ(log->Ack("f", Lane::kReadings, 1).code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(log->Commit().ok());
  ASSERT_TRUE(log->Ack("f", Lane::kReadings, 8).ok());
  EXPECT_TRUE(log->Ack("f", Lane::kReadings, 3).ok());  // behind: a no-op
  EXPECT_EQ(log->CursorPosition("f", Lane::kReadings), 8u);
  EXPECT_EQ(log->Ack("f", Lane::kReadings, 11).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(log->CursorPosition("f", Lane::kDefects), 0u);  // per lane
}

TEST(StoreLogTest, PendingAcksAreCommittedByCommitIfDue) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
  ASSERT_TRUE(log->Commit().ok());
  ASSERT_TRUE(log->Ack("f", Lane::kReadings, 5).ok());
  ASSERT_TRUE(log->NextCommitDeadline().has_value());
  clock.Advance(milliseconds(50));
  ASSERT_TRUE(log->CommitIfDue().ok());
  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*(*reader)->CursorPosition("f", Lane::kReadings), 5u);
}

TEST(StoreLogTest, ReaderSeesCommitsOfTheOpenWriter) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
  auto before = (*reader)->Read(Lane::kReadings, 0, 10);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->size(), 1u);  // the buffered readings are not visible
  ASSERT_TRUE(log->Commit().ok());
  auto after = (*reader)->Read(Lane::kReadings, 0, 10);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 2u);
}

TEST(StoreLogTest, ReadByTimeRangeReturnsOverlappingChunks) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  const TimeMicros t0 = 1'700'000'000'000'000;
  ASSERT_TRUE(log->Append(MakeReadings(100, t0)).ok());              // t0 .. t0+99ms
  ASSERT_TRUE(log->Append(MakeReadings(100, t0 + 1'000'000)).ok());  // +1 s
  ASSERT_TRUE(log->Append(MakeReadings(100, t0 + 2'000'000)).ok());  // +2 s
  ReadQuery q;
  q.from_us = t0 + 1'000'000;
  q.to_us = t0 + 1'500'000;
  auto rows = log->Read(q);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].first_seq, 101u);
  q = ReadQuery{};
  q.after_seq = 100;
  q.to_seq = 200;
  rows = log->Read(q);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
}

TEST(StoreLogTest, StatsCountRecordsBytesCursorsAndRatio) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(300)).ok());
  ASSERT_TRUE(log->AppendDefect(MakeDefect(1'700'000'000'000'000)).ok());
  ASSERT_TRUE(log->Commit().ok());
  ASSERT_TRUE(log->Ack("forwarder", Lane::kReadings, 100).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto st = log->Stats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->readings.readings, 300u);
  EXPECT_EQ(st->readings.chunks, 3u);
  EXPECT_EQ(st->defects.defects, 1u);
  EXPECT_EQ(st->readings.first_seq, 1u);
  EXPECT_EQ(st->defects.last_seq, 301u);
  EXPECT_GT(st->stored_bytes, 0u);
  EXPECT_GT(st->compression_ratio, 1.0);
  EXPECT_EQ(st->next_seq, 302u);
  ASSERT_EQ(st->cursors.size(), 1u);
  EXPECT_EQ(st->cursors[0].acked_seq, 100u);
  EXPECT_EQ(st->cursors[0].unsent_rows, 2u);
  EXPECT_EQ(st->cursors[0].oldest_unsent_seq, 101u);
  EXPECT_EQ(st->cursors[0].oldest_unsent_us, 1'700'000'000'000'000 + 100'000);
  EXPECT_EQ(st->quarantined_rows, 0u);
}

TEST(StoreLogTest, FailedSideFileWriteMakesTheLogRefuseWritesUntilReopened) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = Options(dir);
  o.seq_reserve_block = 1;  // every commit rewrites the reservation
  auto log = MustOpen(o, clock);
  ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
  ASSERT_TRUE(log->Commit().ok());
  // A directory where the side file must go makes its replacement fail (rename onto it).
  std::filesystem::remove(dir / "log.db.seq");
  std::filesystem::create_directory(dir / "log.db.seq");
  ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
  auto failed = log->Commit();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kIoError);
  EXPECT_FALSE(log->sticky_error().ok());
  EXPECT_EQ(log->Append(MakeReadings(1)).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(log->Commit().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(log->Ack("f", Lane::kReadings, 1).code(), StatusCode::kFailedPrecondition);
  log.reset();
  std::filesystem::remove(dir / "log.db.seq");
  log = MustOpen(o, clock);
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_GT(c->first_seq, 5u);
}

TEST(StoreLogTest, FileSizeLimitDuringCommitIsAStickyError) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->Append(MakeReadings(100)).ok());
  // Writes beyond RLIMIT_FSIZE fail with EFBIG (SIGXFSZ ignored): a disk that filled up.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_action {};
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);
  rlimit old_limit{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  Status failure;
  for (int i = 0; i < 50 && failure.ok(); ++i) {
    auto c = log->Append(MakeReadings(100, 1'700'000'000'000'000 + i * 1'000'000));
    if (!c.ok()) failure = c.status();
  }
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ASSERT_EQ(sigaction(SIGXFSZ, &old_action, nullptr), 0);
  ASSERT_FALSE(failure.ok());
  EXPECT_FALSE(log->sticky_error().ok());
  EXPECT_EQ(log->Append(MakeReadings(100)).status().code(), StatusCode::kFailedPrecondition);
  const uint64_t last = log->last_committed_seq();
  log.reset();
  log = MustOpen(Options(dir), clock);
  auto rows = log->Read(Lane::kReadings, 0, 1000);
  ASSERT_TRUE(rows.ok());
  ASSERT_FALSE(rows->empty());
  EXPECT_EQ(rows->back().last_seq, last);  // what was committed is there, nothing more
}

TEST(StoreLogTest, SecondWriterIsRefusedWhileTheFirstIsOpen) {
  TempDir dir;
  FakeClock clock;
  auto first = MustOpen(Options(dir), clock);
  EXPECT_EQ(Log::Open(Options(dir), clock).status().code(), StatusCode::kAlreadyExists);
  auto reader = LogReader::Open(dir / "log.db");
  EXPECT_TRUE(reader.ok());  // readers are not writers
  first.reset();
  EXPECT_TRUE(Log::Open(Options(dir), clock).ok());
}

TEST(StoreLogTest, OpenRejectsBadOptions) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = Options(dir);
  o.commit_records = 0;
  EXPECT_EQ(Log::Open(o, clock).status().code(), StatusCode::kInvalidArgument);
  o = Options(dir);
  o.path = dir / "missing" / "log.db";
  EXPECT_EQ(Log::Open(o, clock).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace weir::store
