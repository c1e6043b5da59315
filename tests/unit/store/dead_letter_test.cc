// The dead-letter table: buffered with the group commit, read back in id order, trimmed at
// max_dead_letters while the per-reason counters keep counting, and readable (as empty) on a log
// written before the table existed.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "agent/store/log.h"
#include "tests/support/test_support.h"
#include "tests/unit/store/store_test_util.h"

namespace weir::store {
namespace {

using std::chrono::milliseconds;
using testing::MakeReadings;
using testing::MustOpen;
using testing::Options;
using weir::testing::FakeClock;
using weir::testing::TempDir;

DeadLetter Letter(std::string reason_code, std::string payload = "{not json",
                  std::string topic = "sensors/a") {
  DeadLetter d;
  d.time_us = 1'700'000'000'000'000;
  d.source = "ingest";
  d.topic = std::move(topic);
  d.reason_code = std::move(reason_code);
  d.reason = "expected a JSON object at byte 0";
  d.payload_bytes = payload.size();
  d.payload_head = std::move(payload);
  return d;
}

// Runs SQL on the log file directly (to make a log look like one from before dead letters).
void ExecSql(const std::filesystem::path& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

TEST(StoreDeadLetterTest, AppendedLettersAreCommittedWithReadingsAndReadBackInOrder) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  DeadLetter binary = Letter("malformed", std::string("\x00\xff{", 3), "sensors/b");
  binary.source = "upstream";
  binary.reason_code = "rejected";
  ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
  ASSERT_TRUE(log->Append(MakeReadings(10)).ok());
  ASSERT_TRUE(log->AppendDeadLetter(binary).ok());
  EXPECT_EQ(log->buffered_records(), 12u);

  auto c = log->Commit();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->readings, 10u);
  EXPECT_EQ(c->dead_letters, 2u);
  EXPECT_EQ(c->first_seq, 1u);  // dead letters take no sequence
  EXPECT_EQ(c->last_seq, 10u);
  EXPECT_EQ(log->buffered_records(), 0u);

  auto letters = log->ReadDeadLetters(0, 100);
  ASSERT_TRUE(letters.ok()) << letters.status().ToString();
  ASSERT_EQ(letters->size(), 2u);
  EXPECT_EQ((*letters)[0].letter.reason_code, "malformed");
  EXPECT_EQ((*letters)[0].letter.topic, "sensors/a");
  EXPECT_EQ((*letters)[0].letter.payload_head, "{not json");
  EXPECT_EQ((*letters)[0].letter.time_us, 1'700'000'000'000'000);
  EXPECT_EQ((*letters)[1].letter.source, "upstream");
  EXPECT_EQ((*letters)[1].letter.reason_code, "rejected");
  EXPECT_EQ((*letters)[1].letter.payload_head, std::string("\x00\xff{", 3));
  EXPECT_EQ((*letters)[1].letter.payload_bytes, 3u);
  EXPECT_LT((*letters)[0].id, (*letters)[1].id);

  auto after_first = log->ReadDeadLetters((*letters)[0].id, 100);
  ASSERT_TRUE(after_first.ok());
  ASSERT_EQ(after_first->size(), 1u);
  EXPECT_EQ((*after_first)[0].id, (*letters)[1].id);

  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto from_reader = (*reader)->ReadDeadLetters(0, 1);
  ASSERT_TRUE(from_reader.ok());
  ASSERT_EQ(from_reader->size(), 1u);
  EXPECT_EQ((*from_reader)[0].letter.reason, "expected a JSON object at byte 0");
}

TEST(StoreDeadLetterTest, PayloadHeadIsTruncatedButTheFullSizeIsKept) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  const std::string big(10'000, 'x');
  ASSERT_TRUE(log->AppendDeadLetter(Letter("too_large", big)).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto letters = log->ReadDeadLetters(0, 10);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].letter.payload_head, big.substr(0, kDeadLetterHeadBytes));
  EXPECT_EQ((*letters)[0].letter.payload_bytes, 10'000u);
}

TEST(StoreDeadLetterTest, TrimmingKeepsTheNewestRowsAndTheCounters) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = Options(dir);
  o.max_dead_letters = 5;
  auto log = MustOpen(o, clock);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(log->AppendDeadLetter(Letter(i % 2 == 0 ? "malformed" : "too_large")).ok());
  }
  ASSERT_TRUE(log->Commit().ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->AppendDeadLetter(Letter("rejected")).ok());
  ASSERT_TRUE(log->Commit().ok());

  auto letters = log->ReadDeadLetters(0, 100);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 5u);
  EXPECT_EQ(letters->front().id, 8u);  // ids 1..12 were issued; the newest five are kept
  EXPECT_EQ(letters->back().id, 12u);
  EXPECT_EQ(letters->back().letter.reason_code, "rejected");

  auto st = log->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->dead_letters.rows, 5u);
  EXPECT_EQ(st->dead_letters.total, 12u);
  EXPECT_EQ(st->dead_letters.by_reason["malformed"], 4u);
  EXPECT_EQ(st->dead_letters.by_reason["too_large"], 4u);
  EXPECT_EQ(st->dead_letters.by_reason["rejected"], 4u);
}

TEST(StoreDeadLetterTest, IdsAreNotReusedAfterEveryRowWasTrimmed) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = Options(dir);
  o.max_dead_letters = 0;  // counters only
  auto log = MustOpen(o, clock);
  ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
  ASSERT_TRUE(log->Commit().ok());
  log.reset();
  o.max_dead_letters = 10;
  log = MustOpen(o, clock);
  ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto letters = log->ReadDeadLetters(0, 10);
  ASSERT_TRUE(letters.ok());
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ(letters->front().id, 2u);
}

TEST(StoreDeadLetterTest, CountersSurviveReopen) {
  TempDir dir;
  FakeClock clock;
  {
    auto log = MustOpen(Options(dir), clock);
    ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
    ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
    ASSERT_TRUE(log->AppendDeadLetter(Letter("rejected")).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  auto log = MustOpen(Options(dir), clock);
  ASSERT_TRUE(log->AppendDeadLetter(Letter("rejected")).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto st = log->Stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->dead_letters.total, 4u);
  EXPECT_EQ(st->dead_letters.rows, 4u);
  EXPECT_EQ(st->dead_letters.by_reason["malformed"], 2u);
  EXPECT_EQ(st->dead_letters.by_reason["rejected"], 2u);

  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok());
  auto rst = (*reader)->Stats();
  ASSERT_TRUE(rst.ok());
  EXPECT_EQ(rst->dead_letters.total, 4u);
  EXPECT_EQ(rst->dead_letters.by_reason, st->dead_letters.by_reason);
}

TEST(StoreDeadLetterTest, CommitIfDueCommitsLettersAloneAfterTheInterval) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);  // commit interval 50 ms
  ASSERT_FALSE(log->NextCommitDeadline().has_value());
  ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
  ASSERT_TRUE(log->NextCommitDeadline().has_value());
  auto early = log->CommitIfDue();
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->dead_letters, 0u);
  EXPECT_EQ(log->buffered_records(), 1u);

  clock.Advance(milliseconds(50));
  auto due = log->CommitIfDue();
  ASSERT_TRUE(due.ok()) << due.status().ToString();
  EXPECT_EQ(due->dead_letters, 1u);
  EXPECT_TRUE(due->empty());  // no sequence was committed: nothing for the forwarder
  EXPECT_EQ(due->first_seq, 0u);
  EXPECT_FALSE(log->NextCommitDeadline().has_value());
  EXPECT_EQ(log->last_committed_seq(), 0u);
  auto letters = log->ReadDeadLetters(0, 10);
  ASSERT_TRUE(letters.ok());
  EXPECT_EQ(letters->size(), 1u);
}

TEST(StoreDeadLetterTest, LettersAreAcceptedWhileTheLogIsOverQuota) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = Options(dir);
  o.quota_bytes = 64 * 1024;
  o.quota_policy = QuotaPolicy::kPauseIngest;
  auto log = MustOpen(o, clock);
  Status refused;
  for (int i = 0; i < 200 && refused.ok(); ++i) {
    auto c = log->Append(MakeReadings(100, 1'700'000'000'000'000 + i * 1'000'000));
    if (!c.ok()) refused = c.status();
  }
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->dead_letters, 1u);
}

TEST(StoreDeadLetterTest, ReaderOnALogWithoutTheTableReadsNothingAndTheWriterAddsIt) {
  TempDir dir;
  FakeClock clock;
  {
    auto log = MustOpen(Options(dir), clock);
    ASSERT_TRUE(log->Append(MakeReadings(10)).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  // As written before dead letters existed.
  ExecSql(dir / "log.db", "DROP TABLE dead_letters; DROP TABLE dead_letter_counts;");

  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto none = (*reader)->ReadDeadLetters(0, 100);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  auto st = (*reader)->Stats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->readings.readings, 10u);
  EXPECT_EQ(st->dead_letters.total, 0u);
  reader->reset();

  auto log = MustOpen(Options(dir), clock);
  EXPECT_TRUE(log->recovery().integrity_ok);
  ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto letters = log->ReadDeadLetters(0, 10);
  ASSERT_TRUE(letters.ok());
  EXPECT_EQ(letters->size(), 1u);
}

TEST(StoreDeadLetterTest, UnreadableTableIsDataLossAndStatsStillWork) {
  TempDir dir;
  FakeClock clock;
  {
    auto log = MustOpen(Options(dir), clock);
    ASSERT_TRUE(log->Append(MakeReadings(10)).ok());
    ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  // A table of the right name but the wrong shape: what a damaged schema looks like to a query.
  ExecSql(dir / "log.db",
          "DROP TABLE dead_letters; CREATE TABLE dead_letters(id INTEGER PRIMARY KEY, junk);");
  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok());
  auto letters = (*reader)->ReadDeadLetters(0, 10);
  ASSERT_FALSE(letters.ok());
  EXPECT_EQ(letters.status().code(), StatusCode::kDataLoss);
  auto st = (*reader)->Stats();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->readings.readings, 10u);
  EXPECT_EQ(st->dead_letters.total, 1u);  // the counters are in their own table
}

// A flipped byte in the schema text can rename a column and still pass integrity_check; such a
// file is damaged: it must open (quarantined, rows salvaged) and take writes, dead letters too.
TEST(StoreDeadLetterTest, DamagedSchemaTextQuarantinesTheFileAndTheLogStillWorks) {
  for (const char* damage : {"ALTER TABLE dead_letters RENAME COLUMN topic TO topix",
                             "ALTER TABLE records RENAME COLUMN raw_bytes TO raw_bytez"}) {
    SCOPED_TRACE(damage);
    TempDir dir;
    FakeClock clock;
    {
      auto log = MustOpen(Options(dir), clock);
      ASSERT_TRUE(log->Append(MakeReadings(10)).ok());
      ASSERT_TRUE(log->AppendDeadLetter(Letter("malformed")).ok());
      ASSERT_TRUE(log->Commit().ok());
    }
    ExecSql(dir / "log.db", damage);
    auto log = Log::Open(Options(dir), clock);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_TRUE((*log)->recovery().file_quarantined);
    ASSERT_TRUE((*log)->Append(MakeReadings(1)).ok());
    ASSERT_TRUE((*log)->AppendDeadLetter(Letter("malformed")).ok());
    auto c = (*log)->Commit();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->dead_letters, 1u);
  }
}

TEST(StoreDeadLetterTest, StickyErrorRefusesLetters) {
  TempDir dir;
  FakeClock clock;
  LogOptions o = Options(dir);
  o.seq_reserve_block = 1;  // every commit rewrites the reservation
  auto log = MustOpen(o, clock);
  // A directory where the side file must go makes the next commit fail (rename onto it).
  std::filesystem::remove(dir / "log.db.seq");
  std::filesystem::create_directory(dir / "log.db.seq");
  ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
  ASSERT_FALSE(log->Commit().ok());
  ASSERT_FALSE(log->sticky_error().ok());
  EXPECT_EQ(log->AppendDeadLetter(Letter("malformed")).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace weir::store
