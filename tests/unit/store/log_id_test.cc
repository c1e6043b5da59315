// What the store keeps for identity and for upstream refusals: every log has a random 128-bit
// log id (meta log_id_hi/log_id_lo) from its creation, a log from before log ids gets one at its
// first open, and a dead letter for an upstream refusal keeps its whole payload.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "agent/store/log.h"
#include "tests/support/test_support.h"
#include "tests/unit/store/store_test_util.h"

namespace weir::store {
namespace {

using testing::MakeReadings;
using testing::MustOpen;
using testing::Options;
using weir::testing::FakeClock;
using weir::testing::TempDir;

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

TEST(StoreLogIdTest, ANewLogHasARandomIdThatSurvivesReopen) {
  TempDir dir;
  FakeClock clock;
  LogId first;
  {
    auto log = MustOpen(Options(dir), clock);
    first = log->log_id();
    ASSERT_FALSE(first.empty());
    ASSERT_TRUE(log->Append(MakeReadings(3)).ok());
    ASSERT_TRUE(log->Commit().ok());
    EXPECT_TRUE(log->recovery().notes.empty());
  }
  auto log = MustOpen(Options(dir), clock);
  EXPECT_EQ(log->log_id(), first);
  auto reader = LogReader::Open(dir / "log.db");
  ASSERT_TRUE(reader.ok());
  auto stats = (*reader)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->log_id, first);
}

TEST(StoreLogIdTest, AWipedStateDirectoryStartsANewLogWithANewId) {
  TempDir dir;
  FakeClock clock;
  LogId old_id;
  {
    auto log = MustOpen(Options(dir), clock);
    old_id = log->log_id();
    ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    std::filesystem::remove_all(entry.path());  // the log, its .seq side file, everything
  }
  auto log = MustOpen(Options(dir), clock);
  EXPECT_NE(log->log_id(), old_id);
  EXPECT_FALSE(log->log_id().empty());
  ASSERT_TRUE(log->Append(MakeReadings(1)).ok());
  auto c = log->Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->first_seq, 1u);  // sequences restart: only the log id tells the logs apart
}

TEST(StoreLogIdTest, ALogFromBeforeLogIdsGetsOneAtFirstOpenAndKeepsIt) {
  TempDir dir;
  FakeClock clock;
  {
    auto log = MustOpen(Options(dir), clock);
    ASSERT_TRUE(log->Append(MakeReadings(5)).ok());
    ASSERT_TRUE(log->Commit().ok());
  }
  ExecSql(dir / "log.db", "DELETE FROM meta WHERE key IN ('log_id_hi', 'log_id_lo')");
  {
    auto reader = LogReader::Open(dir / "log.db");
    ASSERT_TRUE(reader.ok());
    auto stats = (*reader)->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_TRUE(stats->log_id.empty());  // read-only: nothing assigned
  }
  LogId assigned;
  {
    auto log = MustOpen(Options(dir), clock);
    assigned = log->log_id();
    ASSERT_FALSE(assigned.empty());
    ASSERT_EQ(log->recovery().notes.size(), 1u);
    EXPECT_NE(log->recovery().notes[0].find(assigned.ToHex()), std::string::npos);
    EXPECT_EQ(log->last_committed_seq(), 5u);  // the records are kept
  }
  auto log = MustOpen(Options(dir), clock);
  EXPECT_EQ(log->log_id(), assigned);
  EXPECT_TRUE(log->recovery().notes.empty());
}

TEST(StoreLogIdTest, AnUpstreamDeadLetterKeepsItsWholePayloadAnIngestOneItsHead) {
  TempDir dir;
  FakeClock clock;
  auto log = MustOpen(Options(dir), clock);
  const std::string payload(5000, 'p');
  DeadLetter upstream;
  upstream.source = "upstream";
  upstream.topic = "weir/gw/data";
  upstream.reason_code = "rejected";
  upstream.reason = "readings 1..10: refused";
  upstream.payload_head = payload;
  upstream.payload_bytes = payload.size();
  upstream.keep_whole_payload = true;
  DeadLetter ingest = upstream;
  ingest.source = "ingest";
  ingest.reason_code = "malformed";
  ingest.keep_whole_payload = false;
  ASSERT_TRUE(log->AppendDeadLetter(upstream).ok());
  ASSERT_TRUE(log->AppendDeadLetter(ingest).ok());
  ASSERT_TRUE(log->Commit().ok());
  auto letters = log->ReadDeadLetters(0, 10);
  ASSERT_TRUE(letters.ok()) << letters.status().ToString();
  ASSERT_EQ(letters->size(), 2u);
  EXPECT_EQ((*letters)[0].letter.payload_head, payload);
  EXPECT_EQ((*letters)[0].letter.payload_bytes, payload.size());
  EXPECT_EQ((*letters)[1].letter.payload_head.size(), kDeadLetterHeadBytes);
  EXPECT_EQ((*letters)[1].letter.payload_bytes, payload.size());
}

}  // namespace
}  // namespace weir::store
