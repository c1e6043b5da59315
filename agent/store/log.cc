#include "agent/store/log.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "agent/codec/batch_codec.h"
#include "agent/store/log_rows.h"
#include "agent/store/sqlite_util.h"

namespace weir::store {

using internal::Exec;
using internal::QueryInt;
using internal::RowChecksum;
using internal::RowHeader;
using internal::SqlStatus;
using internal::Stmt;

std::string_view RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kReadings:
      return "readings";
    case RecordKind::kDefect:
      return "defect";
    case RecordKind::kGap:
      return "gap";
  }
  return "unknown";
}

std::string_view LaneName(Lane lane) { return lane == Lane::kDefects ? "defects" : "readings"; }

namespace {

namespace fs = std::filesystem;
using CursorKey = std::pair<std::string, Lane>;

constexpr uint64_t kMaxSeq = uint64_t{1} << 62;  // sequences stay far below INT64_MAX
constexpr uint64_t kFullCheckMaxBytes = uint64_t{64} << 20;

fs::path SeqFilePath(const fs::path& db) { return fs::path(db.string() + ".seq"); }

// The side file holds the sequence reservation as "weir-seq <n> <~n>\n"; the complement makes a
// damaged file detectable (it is then ignored).
std::optional<uint64_t> ReadSeqFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[128] = {};
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  unsigned long long v = 0, check = 0;
  if (std::sscanf(buf, "weir-seq %llu %llu", &v, &check) != 2 || ~v != check) return std::nullopt;
  return static_cast<uint64_t>(v);
}

Status SyncDir(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("opening directory " + dir.string() + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoError("fsync of directory " + dir.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

// Atomically replaces the side file (write temp, fsync, rename, fsync directory).
Status WriteSeqFile(const fs::path& path, uint64_t value) {
  const fs::path tmp(path.string() + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("creating " + tmp.string() + ": " + std::strerror(errno));
  char buf[96];
  int len = std::snprintf(buf, sizeof(buf), "weir-seq %llu %llu\n",
                          static_cast<unsigned long long>(value),
                          static_cast<unsigned long long>(~value));
  bool ok = ::write(fd, buf, static_cast<size_t>(len)) == len && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return IoError("writing " + tmp.string() + ": " + std::strerror(err));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return IoError("renaming " + tmp.string() + ": " + std::strerror(errno));
  }
  return SyncDir(path.parent_path());
}

std::string QuarantineStamp(int64_t wall_us) {
  std::time_t secs = static_cast<std::time_t>(wall_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%06lldZ",
                static_cast<long long>(((wall_us % 1'000'000) + 1'000'000) % 1'000'000));
  return buf;
}

// WAL bytes allowed on top of the pages in use: the WAL is checkpointed and truncated at this
// size (FORMAT.md "Quota").
uint64_t WalAllowance(uint64_t quota) {
  if (quota == 0) return uint64_t{4} << 20;
  return std::clamp<uint64_t>(quota / 8, uint64_t{64} << 10, uint64_t{4} << 20);
}

}  // namespace

struct Log::Pending {
  std::vector<Reading> readings;
  uint64_t readings_raw_bytes = 0;
  std::vector<std::string> defects;  // serialized weir.v1.Defect
  std::vector<std::pair<TimeMicros, TimeMicros>> defect_times;
  std::map<CursorKey, uint64_t> cursors;  // acked positions, including unpersisted ones
  std::set<CursorKey> dirty;
  std::optional<Clock::TimePoint> acks_since;
  codec::BatchEncoder encoder;
  codec::BatchDecoder decoder;
  Stmt insert_row;
  Stmt set_meta;
  Stmt upsert_cursor;
};

// The implementation, kept out of the header: opening and recovery, commit, quota.
class LogImpl {
 public:
  static Status OpenAndRecover(Log& log);
  static Result<CommitResult> Commit(Log& log);
  static Status EnforceQuota(Log& log);

 private:
  static Status OpenConnection(Log& log, bool fresh);
  static Status CheckExisting(Log& log, bool& empty_file);
  static Status VerifyRows(Log& log);
  static Status QuarantineFile(Log& log, const Status& why);
  static void Salvage(Log& log, const fs::path& old_db);
  static Status FinishOpen(Log& log, bool distrust_meta);
  static Status PrepareStatements(Log& log);
  static Status InsertRow(Log& log, const RowHeader& h, uint64_t raw_bytes, std::string_view blob);
  static Status SetMeta(Log& log, std::string_view key, int64_t value);
  static Result<uint64_t> UsedBytes(Log& log);
  static Status DeleteAcked(Log& log, uint64_t target, uint64_t& used);
  static Status EvictToGaps(Log& log, Lane lane, RecordKind kind, uint64_t target, uint64_t& used);
  static Status Fail(Log& log, Status error);
};

// --- Opening and recovery -----------------------------------------------------------------

Status LogImpl::OpenConnection(Log& log, bool fresh) {
  const std::string path = log.options_.path.string();
  int rc =
      sqlite3_open_v2(path.c_str(), &log.db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqlStatus(log.db_, rc, "opening " + path);
  sqlite3_busy_timeout(log.db_, 5000);
  sqlite3_extended_result_codes(log.db_, 0);
  const uint64_t wal = WalAllowance(log.options_.quota_bytes);
  std::string pragmas;
  // page_size and auto_vacuum only take effect before the first table exists, and page_size
  // must come first (FORMAT.md "Pragmas").
  if (fresh) {
    pragmas += "PRAGMA page_size=" + std::to_string(log.options_.page_size) + ";";
    pragmas += "PRAGMA auto_vacuum=INCREMENTAL;";
  }
  pragmas += "PRAGMA journal_mode=WAL;";
  pragmas += log.options_.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL;"
                                                            : "PRAGMA synchronous=NORMAL;";
  pragmas += "PRAGMA wal_autocheckpoint=" + std::to_string(wal / log.options_.page_size) + ";";
  pragmas += "PRAGMA journal_size_limit=" + std::to_string(wal) + ";";
  pragmas += "PRAGMA cell_size_check=ON;";
  return Exec(log.db_, pragmas.c_str());
}

// Checks that an existing file is a readable weir log: schema, version, quick_check.
Status LogImpl::CheckExisting(Log& log, bool& empty_file) {
  WEIR_ASSIGN_OR_RETURN(int64_t tables, QueryInt(log.db_, "SELECT count(*) FROM sqlite_master"));
  if (tables == 0) {
    empty_file = true;
    return Status::Ok();
  }
  auto version = internal::ReadMeta(log.db_, "schema_version", 0);
  if (!version.ok()) return DataLoss("not a weir log: " + version.status().message());
  if (*version > internal::kSchemaVersion) {
    return FailedPrecondition("log schema version " + std::to_string(*version) +
                              " is newer than this agent's " +
                              std::to_string(internal::kSchemaVersion));
  }
  if (*version != internal::kSchemaVersion) {
    return DataLoss("log schema version " + std::to_string(*version) + " is damaged");
  }
  // integrity_check also verifies that indexes match their tables (a damaged index would make
  // later lane reads fail); it costs O(N log N), so large files get quick_check only.
  std::error_code ec;
  const bool small = fs::file_size(log.options_.path, ec) < kFullCheckMaxBytes;
  WEIR_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(log.db_, small ? "PRAGMA integrity_check(5)"
                                                             : "PRAGMA quick_check(5)"));
  std::string problems;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("quick_check"));
    if (!row) break;
    if (s.Text(0) != "ok")
      problems += std::string(problems.empty() ? "" : "; ") + std::string(s.Text(0));
  }
  if (!problems.empty()) return DataLoss("integrity check: " + problems);
  return Status::Ok();
}

// Reads every row once; rows whose checksum fails move to the quarantine table. An SQLite
// error while scanning means the b-tree itself is damaged (DataLoss: quarantine the file).
Status LogImpl::VerifyRows(Log& log) {
  WEIR_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(log.db_,
                                              "SELECT first_seq, last_seq, lane, kind, count, "
                                              "min_time_us, max_time_us, crc, blob FROM records "
                                              "ORDER BY first_seq"));
  std::vector<std::pair<uint64_t, uint64_t>> bad;  // (first_seq, count)
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("verifying rows"));
    if (!row) break;
    RowHeader h{static_cast<uint64_t>(s.Int(0)),
                static_cast<uint64_t>(s.Int(1)),
                static_cast<Lane>(s.Int(2)),
                static_cast<RecordKind>(s.Int(3)),
                static_cast<uint64_t>(s.Int(4)),
                s.Int(5),
                s.Int(6)};
    if (RowChecksum(h, s.Blob(8)) != static_cast<uint32_t>(s.Int(7))) {
      bad.emplace_back(h.first_seq, h.kind == RecordKind::kReadings ? h.count : 0);
    }
  }
  if (bad.empty()) return Status::Ok();
  log.recovery_.integrity_ok = false;
  WEIR_RETURN_IF_ERROR(Exec(log.db_, "BEGIN IMMEDIATE"));
  WEIR_ASSIGN_OR_RETURN(
      Stmt move, Stmt::Prepare(log.db_,
                               "INSERT INTO quarantine(first_seq, last_seq, lane, kind, count, "
                               "reason, at_us, blob) SELECT first_seq, last_seq, lane, kind, "
                               "count, 'checksum mismatch', ?2, blob FROM records "
                               "WHERE first_seq = ?1"));
  WEIR_ASSIGN_OR_RETURN(Stmt del,
                        Stmt::Prepare(log.db_, "DELETE FROM records WHERE first_seq = ?1"));
  for (const auto& [seq, readings] : bad) {
    move.BindInt(1, static_cast<int64_t>(seq));
    move.BindInt(2, log.clock_.WallMicros());
    WEIR_RETURN_IF_ERROR(move.Run("quarantining a row"));
    del.BindInt(1, static_cast<int64_t>(seq));
    WEIR_RETURN_IF_ERROR(del.Run("quarantining a row"));
    log.recovery_.rows_quarantined++;
    log.recovery_.readings_quarantined += readings;
  }
  WEIR_RETURN_IF_ERROR(Exec(log.db_, "COMMIT"));
  log.recovery_.notes.push_back(std::to_string(bad.size()) +
                                " row(s) failed their checksum and were moved to quarantine");
  return Status::Ok();
}

// Moves the file and its -wal/-shm into <dir>/quarantine/<stamp>/, creates a fresh log at the
// path and copies whatever rows of the old file can still be read and verified.
Status LogImpl::QuarantineFile(Log& log, const Status& why) {
  if (log.db_ != nullptr) {
    sqlite3_close_v2(log.db_);
    log.db_ = nullptr;
  }
  const fs::path& path = log.options_.path;
  const fs::path base = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::path dir = base / "quarantine" / QuarantineStamp(log.clock_.WallMicros());
  std::error_code ec;
  for (int i = 1; fs::exists(dir, ec); ++i) {
    dir =
        base / "quarantine" / (QuarantineStamp(log.clock_.WallMicros()) + "-" + std::to_string(i));
  }
  fs::create_directories(dir, ec);
  if (ec) return IoError("creating " + dir.string() + ": " + ec.message());
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::path from(path.string() + suffix);
    if (!fs::exists(from, ec)) continue;
    fs::rename(from, dir / (path.filename().string() + suffix), ec);
    if (ec) return IoError("moving " + from.string() + " to quarantine: " + ec.message());
  }
  WEIR_RETURN_IF_ERROR(SyncDir(base));
  log.recovery_.integrity_ok = false;
  log.recovery_.file_quarantined = true;
  log.recovery_.quarantine_dir = dir;
  log.recovery_.notes.push_back("log file unusable (" + why.ToString() + "); moved to " +
                                dir.string());
  WEIR_RETURN_IF_ERROR(OpenConnection(log, /*fresh=*/true));
  WEIR_RETURN_IF_ERROR(Exec(log.db_, internal::kSchemaSql));
  Salvage(log, dir / path.filename());
  return Status::Ok();
}

// Best effort: rows are read forwards until the first error, then backwards from the end until
// an error or the forward position, so damage in the middle loses only what it touched.
void LogImpl::Salvage(Log& log, const fs::path& old_db) {
  sqlite3* old = nullptr;
  if (sqlite3_open_v2(old_db.c_str(), &old, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(old);
    return;
  }
  if (auto next = internal::ReadMeta(old, "next_seq", 0); next.ok() && *next > 0) {
    log.next_seq_ = std::max(log.next_seq_, static_cast<uint64_t>(*next));
  }
  if (auto c = Stmt::Prepare(old, "SELECT name, lane, acked_seq FROM cursors"); c.ok()) {
    for (;;) {
      auto row = c->Step("salvaging cursors");
      if (!row.ok() || !*row) break;
      log.pending_->cursors[{std::string(c->Text(0)), static_cast<Lane>(c->Int(1))}] =
          static_cast<uint64_t>(c->Int(2));
      log.pending_->dirty.insert({std::string(c->Text(0)), static_cast<Lane>(c->Int(1))});
    }
  }
  Status st = Exec(log.db_, "BEGIN IMMEDIATE");
  auto insert = Stmt::Prepare(log.db_,
                              "INSERT OR IGNORE INTO records(first_seq, last_seq, lane, kind, "
                              "count, min_time_us, max_time_us, raw_bytes, crc, blob) VALUES "
                              "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!st.ok() || !insert.ok()) {
    sqlite3_close_v2(old);
    return;
  }
  uint64_t salvaged = 0, damaged = 0, max_seq = 0;
  int64_t forward_end = -1;
  for (const bool backwards : {false, true}) {
    std::string sql =
        "SELECT first_seq, last_seq, lane, kind, count, min_time_us, max_time_us, raw_bytes, "
        "crc, blob FROM records";
    sql += backwards ? " WHERE first_seq > ?1 ORDER BY first_seq DESC" : " ORDER BY first_seq";
    auto s = Stmt::Prepare(old, sql);
    if (!s.ok()) break;
    if (backwards) s->BindInt(1, forward_end);
    for (;;) {
      auto row = s->Step("salvaging rows");
      if (!row.ok() || !*row) break;
      RowHeader h{static_cast<uint64_t>(s->Int(0)),
                  static_cast<uint64_t>(s->Int(1)),
                  static_cast<Lane>(s->Int(2)),
                  static_cast<RecordKind>(s->Int(3)),
                  static_cast<uint64_t>(s->Int(4)),
                  s->Int(5),
                  s->Int(6)};
      if (!backwards) forward_end = std::max<int64_t>(forward_end, s->Int(0));
      std::string_view blob = s->Blob(9);
      if (RowChecksum(h, blob) != static_cast<uint32_t>(s->Int(8)) || h.last_seq >= kMaxSeq) {
        ++damaged;
        continue;
      }
      max_seq = std::max(max_seq, h.last_seq);
      for (int i = 0; i < 10; ++i) {
        sqlite3_bind_value(insert->get(), i + 1, sqlite3_column_value(s->get(), i));
      }
      if (insert->Run("copying a salvaged row").ok()) ++salvaged;
    }
  }
  sqlite3_close_v2(old);
  if (!Exec(log.db_, "COMMIT").ok()) {
    Exec(log.db_, "ROLLBACK").IgnoreError();
    salvaged = 0;
  }
  log.next_seq_ = std::max(log.next_seq_, max_seq + 1);
  log.recovery_.rows_salvaged = salvaged;
  log.recovery_.rows_quarantined += damaged;
  log.recovery_.notes.push_back("salvaged " + std::to_string(salvaged) +
                                " row(s) from the quarantined file; " + std::to_string(damaged) +
                                " row(s) failed their checksum");
}

Status LogImpl::OpenAndRecover(Log& log) {
  const fs::path& path = log.options_.path;
  const std::optional<uint64_t> reserved = ReadSeqFile(SeqFilePath(path));
  std::error_code ec;
  const bool existed = fs::exists(path, ec);
  bool distrust_meta = false;
  if (!existed) {
    log.recovery_.created = true;
    WEIR_RETURN_IF_ERROR(OpenConnection(log, /*fresh=*/true));
    // A missing file with a side file present means the log was removed: do not trust 1.
    distrust_meta = reserved.has_value();
  } else {
    bool empty_file = false;
    Status st = OpenConnection(log, /*fresh=*/false);
    if (st.ok()) st = CheckExisting(log, empty_file);
    if (st.code() == StatusCode::kFailedPrecondition) return st;  // a newer schema: not damage
    if (st.ok() && !empty_file && log.options_.verify_rows_on_open) st = VerifyRows(log);
    if (st.ok() && empty_file) {
      // An existing file without tables: created and never written, or truncated to nothing.
      log.recovery_.created = true;
      distrust_meta = true;
      sqlite3_close_v2(log.db_);
      log.db_ = nullptr;
      WEIR_RETURN_IF_ERROR(OpenConnection(log, /*fresh=*/true));
    }
    if (!st.ok()) {
      if (st.code() == StatusCode::kIoError && fs::exists(path, ec) &&
          ::access(path.c_str(), R_OK | W_OK) != 0) {
        return st;  // permissions, not damage
      }
      WEIR_RETURN_IF_ERROR(QuarantineFile(log, st));
      distrust_meta = true;
    }
  }
  WEIR_RETURN_IF_ERROR(Exec(log.db_, internal::kSchemaSql));
  if (reserved) {
    log.next_seq_ = std::max(log.next_seq_, *reserved);
  } else if (distrust_meta && log.recovery_.file_quarantined) {
    // Neither the file nor the side file can tell what was issued: wall-clock microseconds
    // are above any sequence a log could have issued at under one per microsecond.
    log.next_seq_ = std::max<uint64_t>(log.next_seq_, log.clock_.WallMicros());
    log.recovery_.notes.push_back("sequence side file missing; continuing at wall-clock µs");
  }
  return FinishOpen(log, distrust_meta);
}

Status LogImpl::FinishOpen(Log& log, bool /*distrust_meta*/) {
  WEIR_ASSIGN_OR_RETURN(int64_t meta_next, internal::ReadMeta(log.db_, "next_seq", 1));
  WEIR_ASSIGN_OR_RETURN(int64_t max_row,
                        QueryInt(log.db_,
                                 "SELECT max(coalesce((SELECT max(last_seq) FROM records), 0), "
                                 "coalesce((SELECT max(last_seq) FROM quarantine), 0))"));
  const uint64_t issued_bound = std::max(static_cast<uint64_t>(std::max<int64_t>(meta_next, 1)),
                                         static_cast<uint64_t>(max_row) + 1);
  log.next_seq_ = std::max(log.next_seq_, issued_bound);
  std::vector<CursorKey> reset;
  WEIR_ASSIGN_OR_RETURN(Stmt c,
                        Stmt::Prepare(log.db_, "SELECT name, lane, acked_seq FROM cursors"));
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, c.Step("loading cursors"));
    if (!row) break;
    CursorKey key{std::string(c.Text(0)), static_cast<Lane>(c.Int(1))};
    auto acked = static_cast<uint64_t>(c.Int(2));
    // Cursors carry no checksum; a position beyond anything the file ever issued can only be
    // damage, and it would let eviction delete unsent data. Such a cursor restarts from 0.
    if (acked >= issued_bound) {
      log.recovery_.notes.push_back("cursor '" + key.first +
                                    "' was beyond the last sequence; reset");
      log.recovery_.integrity_ok = false;
      acked = 0;
      log.pending_->dirty.insert(key);
      reset.push_back(key);
    }
    log.pending_->cursors[key] = acked;
  }
  c = Stmt();
  for (const CursorKey& key : reset) {
    WEIR_ASSIGN_OR_RETURN(
        Stmt d, Stmt::Prepare(log.db_, "DELETE FROM cursors WHERE name = ?1 AND lane = ?2"));
    d.BindText(1, key.first);
    d.BindInt(2, static_cast<int64_t>(key.second));
    WEIR_RETURN_IF_ERROR(d.Run("resetting a damaged cursor"));
  }
  for (const char* key : {"acked_rows_deleted", "rows_evicted", "readings_evicted",
                          "defects_evicted", "bytes_evicted"}) {
    WEIR_ASSIGN_OR_RETURN(int64_t v, internal::ReadMeta(log.db_, key, 0));
    EvictionStats& e = log.evictions_;
    uint64_t* field = std::string_view(key) == "acked_rows_deleted" ? &e.acked_rows_deleted
                      : std::string_view(key) == "rows_evicted"     ? &e.rows_evicted
                      : std::string_view(key) == "readings_evicted" ? &e.readings_evicted
                      : std::string_view(key) == "defects_evicted"  ? &e.defects_evicted
                                                                    : &e.bytes_evicted;
    *field = static_cast<uint64_t>(v);
  }
  WEIR_RETURN_IF_ERROR(PrepareStatements(log));
  WEIR_RETURN_IF_ERROR(Exec(log.db_, "BEGIN IMMEDIATE"));
  WEIR_RETURN_IF_ERROR(SetMeta(log, "schema_version", internal::kSchemaVersion));
  WEIR_RETURN_IF_ERROR(SetMeta(log, "next_seq", static_cast<int64_t>(log.next_seq_)));
  for (const auto& key : log.pending_->dirty) {  // cursors salvaged from a quarantined file
    Stmt& u = log.pending_->upsert_cursor;
    u.BindText(1, key.first);
    u.BindInt(2, static_cast<int64_t>(key.second));
    u.BindInt(3, static_cast<int64_t>(log.pending_->cursors[key]));
    WEIR_RETURN_IF_ERROR(u.Run("restoring cursor"));
  }
  log.pending_->dirty.clear();
  WEIR_RETURN_IF_ERROR(Exec(log.db_, "COMMIT"));
  if (log.recovery_.rows_quarantined > 0 || log.recovery_.file_quarantined) {
    log.recovery_.integrity_ok = false;
  }
  return EnforceQuota(log);
}

Status LogImpl::PrepareStatements(Log& log) {
  Log::Pending& p = *log.pending_;
  WEIR_ASSIGN_OR_RETURN(p.insert_row,
                        Stmt::Prepare(log.db_,
                                      "INSERT INTO records(first_seq, last_seq, lane, kind, "
                                      "count, min_time_us, max_time_us, raw_bytes, crc, blob) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  WEIR_ASSIGN_OR_RETURN(p.set_meta, Stmt::Prepare(log.db_,
                                                  "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                                                  "ON CONFLICT(key) DO UPDATE SET value = ?2"));
  WEIR_ASSIGN_OR_RETURN(
      p.upsert_cursor,
      Stmt::Prepare(log.db_,
                    "INSERT INTO cursors(name, lane, acked_seq) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT(name, lane) DO UPDATE SET acked_seq = max(acked_seq, ?3)"));
  return Status::Ok();
}

Status LogImpl::InsertRow(Log& log, const RowHeader& h, uint64_t raw_bytes, std::string_view blob) {
  Stmt& s = log.pending_->insert_row;
  s.BindInt(1, static_cast<int64_t>(h.first_seq));
  s.BindInt(2, static_cast<int64_t>(h.last_seq));
  s.BindInt(3, static_cast<int64_t>(h.lane));
  s.BindInt(4, static_cast<int64_t>(h.kind));
  s.BindInt(5, static_cast<int64_t>(h.count));
  s.BindInt(6, h.min_time_us);
  s.BindInt(7, h.max_time_us);
  s.BindInt(8, static_cast<int64_t>(raw_bytes));
  s.BindInt(9, RowChecksum(h, blob));
  s.BindBlobStatic(10, blob);
  return s.Run("inserting a record");
}

Status LogImpl::SetMeta(Log& log, std::string_view key, int64_t value) {
  Stmt& s = log.pending_->set_meta;
  s.BindText(1, key);
  s.BindInt(2, value);
  return s.Run("updating meta");
}

// --- Commit ------------------------------------------------------------------------------

Status LogImpl::Fail(Log& log, Status error) {
  Exec(log.db_, "ROLLBACK").IgnoreError();
  log.sticky_ = error;
  return error;
}

Result<CommitResult> LogImpl::Commit(Log& log) {
  if (!log.sticky_.ok()) {
    return FailedPrecondition("log refuses writes after an earlier error: " +
                              log.sticky_.ToString());
  }
  Log::Pending& p = *log.pending_;
  if (log.buffered_records_ == 0 && p.dirty.empty()) return CommitResult{};

  // Encode before the transaction so the write lock is held only for the inserts.
  const size_t n = p.readings.size();
  const size_t chunk = log.options_.commit_records;
  std::vector<std::string> blobs;
  for (size_t i = 0; i < n; i += chunk) {
    auto blob =
        p.encoder.Encode(std::span<const Reading>(p.readings).subspan(i, std::min(chunk, n - i)));
    if (!blob.ok()) {
      // Deterministic for this input, so retrying would fail forever: drop the batch.
      log.buffered_records_ -= n;
      p.readings.clear();
      p.readings_raw_bytes = 0;
      if (log.buffered_records_ == 0) log.first_buffered_at_.reset();
      return blob.status().WithContext("encoding readings (batch dropped)");
    }
    blobs.push_back(std::move(blob).value());
  }

  const uint64_t total = p.defects.size() + n;
  CommitResult result;
  const uint64_t first = log.next_seq_;
  const uint64_t last = first + total - 1;
  if (total > 0) {
    if (last >= kMaxSeq) return Fail(log, OutOfRange("sequence space exhausted"));
    if (last + 1 > log.seq_reserved_) {
      // Reserve before issuing, so a fresh log after quarantine can continue above.
      const uint64_t reserve = last + 1 + log.options_.seq_reserve_block;
      Status st = WriteSeqFile(SeqFilePath(log.options_.path), reserve);
      if (!st.ok()) return Fail(log, st.WithContext("reserving sequences"));
      log.seq_reserved_ = reserve;
    }
    result = {first, last, n, p.defects.size()};
  }

  Status st = Exec(log.db_, "BEGIN IMMEDIATE");
  if (!st.ok()) return Fail(log, st);
  uint64_t seq = first;
  for (size_t i = 0; i < p.defects.size(); ++i, ++seq) {
    RowHeader h{seq,
                seq,
                Lane::kDefects,
                RecordKind::kDefect,
                1,
                p.defect_times[i].first,
                p.defect_times[i].second};
    st = InsertRow(log, h, 0, p.defects[i]);
    if (!st.ok()) return Fail(log, st);
  }
  for (size_t c = 0; c < blobs.size(); ++c) {
    const size_t begin = c * chunk, end = std::min(n, begin + chunk);
    RowHeader h{seq,
                seq + (end - begin) - 1,
                Lane::kReadings,
                RecordKind::kReadings,
                end - begin,
                INT64_MAX,
                INT64_MIN};
    uint64_t raw = 0;
    for (size_t i = begin; i < end; ++i) {
      h.min_time_us = std::min(h.min_time_us, p.readings[i].time_us);
      h.max_time_us = std::max(h.max_time_us, p.readings[i].time_us);
      raw += internal::RawReadingBytes(p.readings[i]);
    }
    st = InsertRow(log, h, raw, blobs[c]);
    if (!st.ok()) return Fail(log, st);
    seq = h.last_seq + 1;
  }
  if (total > 0) {
    st = SetMeta(log, "next_seq", static_cast<int64_t>(last + 1));
    if (!st.ok()) return Fail(log, st);
  }
  for (const auto& key : p.dirty) {
    p.upsert_cursor.BindText(1, key.first);
    p.upsert_cursor.BindInt(2, static_cast<int64_t>(key.second));
    p.upsert_cursor.BindInt(3, static_cast<int64_t>(p.cursors[key]));
    st = p.upsert_cursor.Run("persisting a cursor");
    if (!st.ok()) return Fail(log, st);
  }
  st = Exec(log.db_, "COMMIT");
  if (!st.ok()) return Fail(log, st);

  if (total > 0) log.next_seq_ = last + 1;
  p.readings.clear();
  p.readings_raw_bytes = 0;
  p.defects.clear();
  p.defect_times.clear();
  p.dirty.clear();
  p.acks_since.reset();
  log.buffered_records_ = 0;
  log.first_buffered_at_.reset();
  WEIR_RETURN_IF_ERROR(EnforceQuota(log));
  return result;
}

// --- Quota -------------------------------------------------------------------------------

Result<uint64_t> LogImpl::UsedBytes(Log& log) {
  WEIR_ASSIGN_OR_RETURN(int64_t page_size, QueryInt(log.db_, "PRAGMA page_size"));
  WEIR_ASSIGN_OR_RETURN(int64_t pages, QueryInt(log.db_, "PRAGMA page_count"));
  WEIR_ASSIGN_OR_RETURN(int64_t free_pages, QueryInt(log.db_, "PRAGMA freelist_count"));
  return static_cast<uint64_t>((pages - free_pages) * page_size);
}

// Deletes rows acked by every cursor of their lane, oldest first, until `used` <= target.
Status LogImpl::DeleteAcked(Log& log, uint64_t target, uint64_t& used) {
  for (Lane lane : {Lane::kReadings, Lane::kDefects}) {
    std::optional<uint64_t> min_ack;
    for (const auto& [key, pos] : log.pending_->cursors) {
      if (key.second == lane) min_ack = std::min(min_ack.value_or(pos), pos);
    }
    if (!min_ack || *min_ack == 0) continue;
    WEIR_ASSIGN_OR_RETURN(Stmt sel,
                          Stmt::Prepare(log.db_,
                                        "SELECT first_seq FROM records WHERE lane = ?1 AND "
                                        "last_seq <= ?2 ORDER BY first_seq LIMIT 16"));
    WEIR_ASSIGN_OR_RETURN(Stmt del,
                          Stmt::Prepare(log.db_, "DELETE FROM records WHERE first_seq = ?1"));
    while (used > target) {
      sel.BindInt(1, static_cast<int64_t>(lane));
      sel.BindInt(2, static_cast<int64_t>(*min_ack));
      std::vector<int64_t> seqs;
      for (;;) {
        WEIR_ASSIGN_OR_RETURN(bool row, sel.Step("selecting acked rows"));
        if (!row) break;
        seqs.push_back(sel.Int(0));
      }
      sel.Reset();
      if (seqs.empty()) break;
      for (int64_t s : seqs) {
        del.BindInt(1, s);
        WEIR_RETURN_IF_ERROR(del.Run("deleting an acked row"));
        log.evictions_.acked_rows_deleted++;
      }
      WEIR_ASSIGN_OR_RETURN(used, UsedBytes(log));
    }
  }
  return Status::Ok();
}

// Replaces the oldest rows of `kind` in `lane` by gap records (merged with a gap just before
// them in the lane) until `used` <= target.
Status LogImpl::EvictToGaps(Log& log, Lane lane, RecordKind kind, uint64_t target, uint64_t& used) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt sel, Stmt::Prepare(log.db_,
                              "SELECT first_seq, last_seq, count, min_time_us, max_time_us, "
                              "length(blob) FROM records WHERE lane = ?1 AND kind = ?2 "
                              "ORDER BY first_seq LIMIT 1"));
  WEIR_ASSIGN_OR_RETURN(Stmt prev,
                        Stmt::Prepare(log.db_,
                                      "SELECT first_seq, last_seq, kind, count, min_time_us, "
                                      "max_time_us FROM records WHERE lane = ?1 AND first_seq < ?2 "
                                      "ORDER BY first_seq DESC LIMIT 1"));
  WEIR_ASSIGN_OR_RETURN(
      Stmt update, Stmt::Prepare(log.db_,
                                 "UPDATE records SET last_seq = ?2, kind = ?3, count = ?4, "
                                 "min_time_us = ?5, max_time_us = ?6, raw_bytes = 0, crc = ?7, "
                                 "blob = x'' WHERE first_seq = ?1"));
  WEIR_ASSIGN_OR_RETURN(Stmt del,
                        Stmt::Prepare(log.db_, "DELETE FROM records WHERE first_seq = ?1"));
  while (used > target) {
    sel.BindInt(1, static_cast<int64_t>(lane));
    sel.BindInt(2, static_cast<int64_t>(kind));
    WEIR_ASSIGN_OR_RETURN(bool row, sel.Step("selecting rows to evict"));
    if (!row) {
      sel.Reset();
      break;
    }
    RowHeader gap{static_cast<uint64_t>(sel.Int(0)),
                  static_cast<uint64_t>(sel.Int(1)),
                  lane,
                  RecordKind::kGap,
                  static_cast<uint64_t>(sel.Int(2)),
                  sel.Int(3),
                  sel.Int(4)};
    const auto blob_bytes = static_cast<uint64_t>(sel.Int(5));
    sel.Reset();
    const uint64_t evicted_first = gap.first_seq;
    const uint64_t evicted_count = gap.count;

    prev.BindInt(1, static_cast<int64_t>(lane));
    prev.BindInt(2, static_cast<int64_t>(gap.first_seq));
    WEIR_ASSIGN_OR_RETURN(bool has_prev, prev.Step("reading the previous row"));
    if (has_prev && static_cast<RecordKind>(prev.Int(2)) == RecordKind::kGap) {
      gap.first_seq = static_cast<uint64_t>(prev.Int(0));
      gap.count += static_cast<uint64_t>(prev.Int(3));
      gap.min_time_us = std::min(gap.min_time_us, prev.Int(4));
      gap.max_time_us = std::max(gap.max_time_us, prev.Int(5));
      prev.Reset();
      del.BindInt(1, static_cast<int64_t>(evicted_first));
      WEIR_RETURN_IF_ERROR(del.Run("merging into a gap"));
    } else {
      prev.Reset();
    }
    update.BindInt(1, static_cast<int64_t>(gap.first_seq));
    update.BindInt(2, static_cast<int64_t>(gap.last_seq));
    update.BindInt(3, static_cast<int64_t>(RecordKind::kGap));
    update.BindInt(4, static_cast<int64_t>(gap.count));
    update.BindInt(5, gap.min_time_us);
    update.BindInt(6, gap.max_time_us);
    update.BindInt(7, RowChecksum(gap, {}));
    WEIR_RETURN_IF_ERROR(update.Run("writing a gap record"));

    EvictionStats& e = log.evictions_;
    e.rows_evicted++;
    e.bytes_evicted += blob_bytes;
    (kind == RecordKind::kDefect ? e.defects_evicted : e.readings_evicted) += evicted_count;
    WEIR_ASSIGN_OR_RETURN(used, UsedBytes(log));
  }
  return Status::Ok();
}

Status LogImpl::EnforceQuota(Log& log) {
  const uint64_t quota = log.options_.quota_bytes;
  if (quota == 0) return Status::Ok();
  const uint64_t allowance = WalAllowance(quota);
  const uint64_t budget = quota > allowance ? quota - allowance : 0;
  auto used = UsedBytes(log);
  if (!used.ok()) return Fail(log, used.status());
  if (*used <= budget) {
    log.over_quota_ = false;
    return Status::Ok();
  }
  // Evict to 90% of the budget so that eviction does not run on every commit.
  const uint64_t target = budget / 10 * 9;
  const EvictionStats before = log.evictions_;
  auto run = [&]() -> Status {
    WEIR_RETURN_IF_ERROR(Exec(log.db_, "BEGIN IMMEDIATE"));
    WEIR_RETURN_IF_ERROR(DeleteAcked(log, target, *used));
    if (log.options_.quota_policy == QuotaPolicy::kEvictOldest) {
      WEIR_RETURN_IF_ERROR(EvictToGaps(log, Lane::kReadings, RecordKind::kReadings, target, *used));
      WEIR_RETURN_IF_ERROR(EvictToGaps(log, Lane::kDefects, RecordKind::kDefect, target, *used));
    }
    const EvictionStats& e = log.evictions_;
    WEIR_RETURN_IF_ERROR(
        SetMeta(log, "acked_rows_deleted", static_cast<int64_t>(e.acked_rows_deleted)));
    WEIR_RETURN_IF_ERROR(SetMeta(log, "rows_evicted", static_cast<int64_t>(e.rows_evicted)));
    WEIR_RETURN_IF_ERROR(
        SetMeta(log, "readings_evicted", static_cast<int64_t>(e.readings_evicted)));
    WEIR_RETURN_IF_ERROR(SetMeta(log, "defects_evicted", static_cast<int64_t>(e.defects_evicted)));
    WEIR_RETURN_IF_ERROR(SetMeta(log, "bytes_evicted", static_cast<int64_t>(e.bytes_evicted)));
    return Exec(log.db_, "COMMIT");
  };
  Status st = run();
  if (!st.ok()) {
    log.evictions_ = before;
    return Fail(log, st.WithContext("enforcing the quota"));
  }
  log.over_quota_ = *used > budget;
  return Status::Ok();
}

// --- Log ---------------------------------------------------------------------------------

Log::Log(const LogOptions& options, const Clock& clock)
    : options_(options), clock_(clock), pending_(std::make_unique<Pending>()) {}

Log::~Log() {
  pending_.reset();  // finalizes the statements before the connection closes
  if (db_ == nullptr) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    return;
  }
  // Closing checkpoints the WAL; after a clean close the reservation can shrink back to the
  // next sequence, so a clean restart continues without a jump.
  const bool clean = sqlite3_close_v2(db_) == SQLITE_OK && sticky_.ok();
  if (clean && next_seq_ < seq_reserved_) {
    WriteSeqFile(SeqFilePath(options_.path), next_seq_).IgnoreError();
  }
  ::close(lock_fd_);  // releases the writer lock, last
}

Result<std::unique_ptr<Log>> Log::Open(const LogOptions& options, const Clock& clock) {
  if (options.path.empty()) return InvalidArgument("log path is empty");
  if (options.commit_records == 0) return InvalidArgument("commit_records must be at least 1");
  if (options.commit_records > codec::kMaxBatchReadings) {
    return InvalidArgument("commit_records is above the codec's batch limit");
  }
  if (options.seq_reserve_block == 0) return InvalidArgument("seq_reserve_block must be >= 1");
  if (options.page_size < 512 || options.page_size > 65536 ||
      (options.page_size & (options.page_size - 1)) != 0) {
    return InvalidArgument("page_size must be a power of two from 512 to 65536");
  }
  const fs::path dir =
      options.path.parent_path().empty() ? fs::path(".") : options.path.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("log directory " + dir.string() + " missing");
  std::unique_ptr<Log> log(new Log(options, clock));
  // The writer owns the sequence space in memory, so a second writer would issue duplicates.
  const std::string lock_path = options.path.string() + ".lock";
  log->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (log->lock_fd_ < 0) return IoError("opening " + lock_path + ": " + std::strerror(errno));
  if (::flock(log->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return AlreadyExists("log " + options.path.string() + " is open by another writer");
  }
  Status st = LogImpl::OpenAndRecover(*log);
  if (!st.ok()) return st.WithContext("opening log " + options.path.string());
  if (!log->sticky_.ok()) return log->sticky_.WithContext("opening log");
  return log;
}

Result<CommitResult> Log::Append(std::span<const Reading> readings) {
  if (!sticky_.ok()) {
    return FailedPrecondition("log refuses writes after an earlier error: " + sticky_.ToString());
  }
  if (over_quota_) return ResourceExhausted("log is over its quota; ingest paused");
  if (readings.empty()) return CommitResult{};
  pending_->readings.insert(pending_->readings.end(), readings.begin(), readings.end());
  buffered_records_ += readings.size();
  if (!first_buffered_at_) first_buffered_at_ = clock_.Now();
  if (buffered_records_ >= options_.commit_records) return Commit();
  return CommitResult{};
}

Result<CommitResult> Log::AppendDefect(const Defect& defect) {
  if (!sticky_.ok()) {
    return FailedPrecondition("log refuses writes after an earlier error: " + sticky_.ToString());
  }
  if (over_quota_) return ResourceExhausted("log is over its quota; ingest paused");
  WEIR_ASSIGN_OR_RETURN(std::string bytes, internal::EncodeDefect(defect));
  pending_->defects.push_back(std::move(bytes));
  pending_->defect_times.emplace_back(std::min(defect.window_start_us, defect.window_end_us),
                                      std::max(defect.window_end_us, defect.window_start_us));
  ++buffered_records_;
  if (!first_buffered_at_) first_buffered_at_ = clock_.Now();
  if (buffered_records_ >= options_.commit_records) return Commit();
  return CommitResult{};
}

std::optional<Clock::TimePoint> Log::NextCommitDeadline() const {
  std::optional<Clock::TimePoint> due;
  if (first_buffered_at_) due = *first_buffered_at_ + options_.commit_interval;
  if (pending_->acks_since) {
    auto ack_due = *pending_->acks_since + options_.commit_interval;
    due = due ? std::min(*due, ack_due) : ack_due;
  }
  return due;
}

Result<CommitResult> Log::CommitIfDue() {
  auto due = NextCommitDeadline();
  if (!due || clock_.Now() < *due) return CommitResult{};
  return Commit();
}

Result<CommitResult> Log::Commit() { return LogImpl::Commit(*this); }

Status Log::Ack(std::string_view cursor, Lane lane, uint64_t seq) {
  if (!sticky_.ok()) {
    return FailedPrecondition("log refuses writes after an earlier error: " + sticky_.ToString());
  }
  if (cursor.empty()) return InvalidArgument("cursor name is empty");
  if (seq > last_committed_seq()) {
    return OutOfRange("ack of sequence " + std::to_string(seq) + " beyond the last committed " +
                      std::to_string(last_committed_seq()));
  }
  CursorKey key{std::string(cursor), lane};
  auto [it, inserted] = pending_->cursors.try_emplace(key, 0);
  if (!inserted && seq <= it->second) return Status::Ok();  // behind or at: a repeat, no-op
  it->second = std::max(it->second, seq);
  pending_->dirty.insert(std::move(key));
  if (!pending_->acks_since) pending_->acks_since = clock_.Now();
  return Status::Ok();
}

uint64_t Log::CursorPosition(std::string_view cursor, Lane lane) const {
  auto it = pending_->cursors.find({std::string(cursor), lane});
  return it == pending_->cursors.end() ? 0 : it->second;
}

Status Log::DeleteCursor(std::string_view cursor, Lane lane) {
  if (!sticky_.ok()) {
    return FailedPrecondition("log refuses writes after an earlier error: " + sticky_.ToString());
  }
  CursorKey key{std::string(cursor), lane};
  pending_->cursors.erase(key);
  pending_->dirty.erase(key);
  WEIR_ASSIGN_OR_RETURN(Stmt s,
                        Stmt::Prepare(db_, "DELETE FROM cursors WHERE name = ?1 AND lane = ?2"));
  s.BindText(1, cursor);
  s.BindInt(2, static_cast<int64_t>(lane));
  Status st = s.Run("deleting a cursor");
  if (!st.ok()) sticky_ = st;
  return st;
}

Result<std::vector<StoredRecord>> Log::Read(const ReadQuery& query) {
  return internal::ReadRows(db_, query, pending_->decoder);
}

Result<std::vector<StoredRecord>> Log::Read(Lane lane, uint64_t after_seq, size_t max_records) {
  ReadQuery q;
  q.lane = lane;
  q.after_seq = after_seq;
  q.max_records = max_records;
  return Read(q);
}

Result<LogStats> Log::Stats() {
  WEIR_ASSIGN_OR_RETURN(LogStats st, internal::ComputeStats(db_, options_.path));
  st.next_seq = next_seq_;
  for (CursorStats& c : st.cursors) c.acked_seq = CursorPosition(c.name, c.lane);
  return st;
}

Status Log::Compact() {
  if (!sticky_.ok()) {
    return FailedPrecondition("log refuses writes after an earlier error: " + sticky_.ToString());
  }
  Status st = Exec(db_, "PRAGMA incremental_vacuum");
  if (st.ok()) st = Exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)");
  if (!st.ok()) sticky_ = st;
  return st;
}

// --- LogReader ---------------------------------------------------------------------------

LogReader::~LogReader() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<std::unique_ptr<LogReader>> LogReader::Open(const std::filesystem::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("log " + path.string() + " does not exist");
  std::unique_ptr<LogReader> reader(new LogReader(path));
  int rc = sqlite3_open_v2(path.c_str(), &reader->db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return SqlStatus(reader->db_, rc, "opening " + path.string());
  sqlite3_busy_timeout(reader->db_, 5000);
  auto version = internal::ReadMeta(reader->db_, "schema_version", 0);
  if (!version.ok()) {
    return DataLoss("not a readable weir log: " + version.status().message());
  }
  if (*version != internal::kSchemaVersion) {
    return DataLoss("unexpected log schema version " + std::to_string(*version));
  }
  return reader;
}

Result<std::vector<StoredRecord>> LogReader::Read(const ReadQuery& query) {
  codec::BatchDecoder decoder;
  return internal::ReadRows(db_, query, decoder);
}

Result<std::vector<StoredRecord>> LogReader::Read(Lane lane, uint64_t after_seq,
                                                  size_t max_records) {
  ReadQuery q;
  q.lane = lane;
  q.after_seq = after_seq;
  q.max_records = max_records;
  return Read(q);
}

Result<uint64_t> LogReader::CursorPosition(std::string_view cursor, Lane lane) {
  return internal::ReadCursor(db_, cursor, lane);
}

Result<LogStats> LogReader::Stats() { return internal::ComputeStats(db_, path_); }

}  // namespace weir::store
