// Log, the writer (see log.h): opening (the recovery steps themselves are in log_recovery.cc),
// appends, group commit, acks, reads and stats. Quota enforcement is in log_quota.cc, the
// read-only LogReader in log_reader.cc.
#include "agent/store/log.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/codec/batch_codec.h"
#include "agent/store/log_quota.h"
#include "agent/store/log_recovery.h"
#include "agent/store/log_rows.h"
#include "agent/store/sqlite_util.h"

namespace weir::store {

using internal::Exec;
using internal::kMaxSeq;
using internal::QueryInt;
using internal::ReadSeqFile;
using internal::RowChecksum;
using internal::RowHeader;
using internal::SeqFilePath;
using internal::SqlStatus;
using internal::Stmt;
using internal::WriteSeqFile;

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
using CursorKey = internal::CursorPositions::key_type;

}  // namespace

struct Log::Pending {
  std::vector<Reading> readings;
  uint64_t readings_raw_bytes = 0;
  std::vector<std::string> defects;  // serialized weir.v1.Defect
  std::vector<std::pair<TimeMicros, TimeMicros>> defect_times;
  std::vector<DeadLetter> dead_letters;
  internal::CursorPositions cursors;  // acked positions, including unpersisted ones
  std::set<CursorKey> dirty;
  std::optional<Clock::TimePoint> acks_since;
  codec::BatchEncoder encoder;
  codec::BatchDecoder decoder;
  Stmt insert_row;
  Stmt set_meta;
  Stmt upsert_cursor;
  Stmt insert_dead_letter;
  Stmt count_dead_letters;
  Stmt trim_dead_letters;
};

// The implementation, kept out of the header: opening, commit, and the glue to recovery and
// quota (which work on the connection and the state they are given, not on the Log).
class LogImpl {
 public:
  static Status OpenAndRecover(Log& log);
  static Status OpenWithRetries(Log& log);
  static Result<CommitResult> Commit(Log& log);
  static Status EnforceQuota(Log& log);
  static bool HeldBack(Log& log);

 private:
  static Status OpenConnection(Log& log, bool fresh);
  static Status QuarantineFile(Log& log, const Status& why);
  static Status SalvageFrom(Log& log, const fs::path& old_db);
  static Status ResumeSalvage(Log& log);
  static Status FinishOpen(Log& log, bool distrust_meta);
  static Status LoadOrAssignLogId(Log& log);
  static Status WriteLogIdIfUnsaved(Log& log);
  static Status WriteOpenMeta(Log& log);
  static Status CountUsage(Log& log);
  static Status PrepareStatements(Log& log);
  static Status InsertRow(Log& log, const RowHeader& h, uint64_t raw_bytes, std::string_view blob);
  static Status SetMeta(Log& log, std::string_view key, int64_t value);
  static Status WriteDeadLetters(Log& log);
  static Status Fail(Log& log, Status error);
  static Status NoSpace(Log& log, Status error);
  static Result<CommitResult> WriteCommit(Log& log, const std::vector<std::string>& blobs);
  static void ClearBuffered(Log& log);
};

// --- Opening ------------------------------------------------------------------------------

namespace {
// Errors at open that can pass: an I/O error (a flaky SD card), no memory, busy, a full disk
// (SqlStatus maps them to IoError, Unavailable, ResourceExhausted). Damage is DataLoss; bad
// options, permissions, a newer schema and the writer lock are final.
bool Transient(const Status& st, const fs::path& path) {
  switch (st.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kResourceExhausted:
      return true;
    case StatusCode::kIoError: {
      std::error_code ec;
      return !fs::exists(path, ec) || ::access(path.c_str(), R_OK | W_OK) == 0;
    }
    default:
      return false;
  }
}
}  // namespace

// OpenAndRecover, again after errors that can pass, with a doubling wait (bounded: open_retries
// times from open_retry_initial; 5 from 100 ms wait 3.1 s in all). Each attempt starts from a
// clean state; the report keeps the count and the last error.
Status LogImpl::OpenWithRetries(Log& log) {
  auto wait = log.options_.open_retry_initial;
  for (int attempt = 0;; ++attempt) {
    Status st = OpenAndRecover(log);
    if (st.ok() && attempt > 0) {
      log.recovery_.notes.push_back(
          "open retried " + std::to_string(attempt) +
          " time(s) after errors that can pass; last: " + log.recovery_.last_transient_error);
    }
    if (st.ok() || !Transient(st, log.options_.path) || attempt >= log.options_.open_retries) {
      return st;
    }
    const uint64_t retries = log.recovery_.transient_retries + 1;
    if (log.recovery_.file_quarantined) {
      log.salvage_from_ = log.recovery_.quarantine_dir / log.options_.path.filename();
    }
    log.pending_ = std::make_unique<Log::Pending>();  // finalizes statements first
    if (log.db_ != nullptr) sqlite3_close_v2(log.db_);
    log.db_ = nullptr;
    log.recovery_ = RecoveryReport{};
    log.recovery_.transient_retries = retries;
    log.recovery_.last_transient_error = st.ToString();
    log.next_seq_ = 1;
    log.seq_reserved_ = 0;
    log.evictions_ = EvictionStats{};
    log.limit_ = StoreLimit::kNone;
    std::this_thread::sleep_for(wait);
    wait *= 2;
  }
}

Status LogImpl::OpenConnection(Log& log, bool fresh) {
  const std::string path = log.options_.path.string();
  int rc = sqlite3_open_v2(path.c_str(), &log.db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           log.options_.vfs.empty() ? nullptr : log.options_.vfs.c_str());
  if (rc != SQLITE_OK) return SqlStatus(log.db_, rc, "opening " + path);
  // Keep -wal (truncated to nothing) and -shm at close, so that a restart on a full disk can open
  // the log and read it: a WAL database cannot be opened without its -shm, and creating one
  // needs a page of free space (FORMAT.md "Disk space").
  int persist = 1;
  sqlite3_file_control(log.db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  sqlite3_busy_timeout(log.db_, 5000);
  sqlite3_extended_result_codes(log.db_, 0);
  const uint64_t wal = internal::WalAllowance(log.options_.quota_bytes);
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
  pragmas += "PRAGMA cache_size=-" + std::to_string(log.options_.cache_kib) + ";";
  return Exec(log.db_, pragmas.c_str());
}

// Moves the unusable file aside, creates a fresh log at the path and copies whatever rows of the
// old file can still be read and verified.
Status LogImpl::QuarantineFile(Log& log, const Status& why) {
  if (log.db_ != nullptr) {
    sqlite3_close_v2(log.db_);
    log.db_ = nullptr;
  }
  WEIR_ASSIGN_OR_RETURN(
      fs::path old_db, internal::QuarantineFile(log.options_.path, log.clock_, why, log.recovery_));
  return SalvageFrom(log, old_db);
}

// Creates the fresh log and copies what `old_db` (a quarantined file) still holds into it.
Status LogImpl::SalvageFrom(Log& log, const fs::path& old_db) {
  WEIR_RETURN_IF_ERROR(OpenConnection(log, /*fresh=*/true));
  WEIR_RETURN_IF_ERROR(Exec(log.db_, internal::kSchemaSql));
  internal::Salvaged salvaged = internal::Salvage(
      old_db, log.db_, ReadSeqFile(SeqFilePath(log.options_.path)).value_or(0), log.recovery_);
  for (auto& [name, lane, acked] : salvaged.cursors) {
    CursorKey key{std::move(name), lane};
    log.pending_->cursors[key] = acked;
    log.pending_->dirty.insert(std::move(key));
  }
  log.next_seq_ = std::max(log.next_seq_, salvaged.next_seq);
  return Status::Ok();
}

// An earlier attempt moved the damaged file to quarantine and then met an error that can pass:
// what it left at the path is only its own partial work, so it is removed and the salvage runs
// again from the quarantined copy (otherwise its rows would be lost without a gap).
Status LogImpl::ResumeSalvage(Log& log) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(fs::path(log.options_.path.string() + suffix), ec);
  }
  log.recovery_.integrity_ok = false;
  log.recovery_.file_quarantined = true;
  log.recovery_.quarantine_dir = log.salvage_from_.parent_path();
  log.recovery_.notes.push_back("log file unusable; moved to " +
                                log.recovery_.quarantine_dir.string() + " by an earlier attempt");
  return SalvageFrom(log, log.salvage_from_);
}

Status LogImpl::OpenAndRecover(Log& log) {
  const fs::path& path = log.options_.path;
  const std::optional<uint64_t> reserved = ReadSeqFile(SeqFilePath(path));
  std::error_code ec;
  const bool existed = fs::exists(path, ec);
  bool distrust_meta = false;
  if (!log.salvage_from_.empty()) {
    WEIR_RETURN_IF_ERROR(ResumeSalvage(log));
    distrust_meta = true;
  } else if (!existed) {
    log.recovery_.created = true;
    WEIR_RETURN_IF_ERROR(OpenConnection(log, /*fresh=*/true));
    // A missing file with a side file present means the log was removed: do not trust 1.
    distrust_meta = reserved.has_value();
  } else {
    bool empty_file = false;
    Status st = OpenConnection(log, /*fresh=*/false);
    if (st.ok()) st = internal::CheckExisting(log.db_, path, empty_file);
    if (st.code() == StatusCode::kFailedPrecondition) return st;  // a newer schema: not damage
    if (st.ok() && !empty_file && log.options_.verify_rows_on_open) {
      st = internal::VerifyRows(log.db_, log.clock_, log.recovery_);
    }
    if (st.ok() && empty_file) {
      // An existing file without tables: created and never written, or truncated to nothing.
      log.recovery_.created = true;
      distrust_meta = true;
      sqlite3_close_v2(log.db_);
      log.db_ = nullptr;
      WEIR_RETURN_IF_ERROR(OpenConnection(log, /*fresh=*/true));
    }
    if (!st.ok()) {
      // Only damage quarantines. I/O errors, no memory, busy and full can pass: Log::Open
      // retries them (FORMAT.md "Recovery", step 0); permissions are returned as they are.
      if (st.code() != StatusCode::kDataLoss) return st;
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
  WEIR_ASSIGN_OR_RETURN(int64_t intake_mark, internal::ReadMeta(log.db_, "intake_mark", 0));
  log.committed_intake_mark_ = log.intake_mark_ =
      static_cast<uint64_t>(std::max<int64_t>(0, intake_mark));
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
  WEIR_ASSIGN_OR_RETURN(log.evictions_, internal::ReadEvictionStats(log.db_));
  WEIR_RETURN_IF_ERROR(CountUsage(log));
  WEIR_RETURN_IF_ERROR(PrepareStatements(log));
  WEIR_RETURN_IF_ERROR(LoadOrAssignLogId(log));
  Status st = WriteOpenMeta(log);
  if (st.code() == StatusCode::kResourceExhausted) {
    // A full disk: open for reading and forwarding; the meta and the cursors restored above stay
    // pending (dirty) and go with the first commit that finds space.
    Exec(log.db_, "ROLLBACK").IgnoreError();
    log.recovery_.opened_without_space = true;
    log.recovery_.notes.push_back("opened without free space (" + st.ToString() +
                                  "); writes wait for space");
    log.limit_ = StoreLimit::kDiskFull;
  } else if (!st.ok()) {
    return st;
  }
  if (log.recovery_.rows_quarantined > 0 || log.recovery_.file_quarantined) {
    log.recovery_.integrity_ok = false;
  }
  if (log.limit_ == StoreLimit::kDiskFull) return Status::Ok();
  // An eviction that finds the disk full leaves the log open for reading (limit kDiskFull).
  Status quota = EnforceQuota(log);
  if (quota.code() == StatusCode::kResourceExhausted && log.sticky_.ok()) return Status::Ok();
  return quota;
}

// At open: the schema version, the next sequence and cursors salvaged from a quarantined file.
Status LogImpl::WriteOpenMeta(Log& log) {
  WEIR_RETURN_IF_ERROR(Exec(log.db_, "BEGIN IMMEDIATE"));
  WEIR_RETURN_IF_ERROR(SetMeta(log, "schema_version", internal::kSchemaVersion));
  WEIR_RETURN_IF_ERROR(SetMeta(log, "next_seq", static_cast<int64_t>(log.next_seq_)));
  WEIR_RETURN_IF_ERROR(WriteLogIdIfUnsaved(log));
  for (const auto& key : log.pending_->dirty) {  // cursors salvaged from a quarantined file
    Stmt& u = log.pending_->upsert_cursor;
    u.BindText(1, key.first);
    u.BindInt(2, static_cast<int64_t>(key.second));
    u.BindInt(3, static_cast<int64_t>(log.pending_->cursors[key]));
    WEIR_RETURN_IF_ERROR(u.Run("restoring cursor"));
  }
  WEIR_RETURN_IF_ERROR(Exec(log.db_, "COMMIT"));
  log.pending_->dirty.clear();
  log.log_id_unsaved_ = false;
  return Status::Ok();
}

// The bytes per kind at open: one pass over the blobs' lengths; later commits and evictions
// keep the figures current.
Status LogImpl::CountUsage(Log& log) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(log.db_, "SELECT lane, sum(length(blob)) FROM records GROUP BY lane"));
  log.usage_ = UsageBytes{};
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("counting usage"));
    if (!row) break;
    (static_cast<Lane>(s.Int(0)) == Lane::kDefects ? log.usage_.defects : log.usage_.readings) =
        static_cast<uint64_t>(s.Int(1));
  }
  log.usage_.quarantine_files = internal::QuarantineFileBytes(log.options_.path);
  log.usage_dirty_ = true;
  return Status::Ok();
}

// Inside FinishOpen's transaction: reads the log id, or makes one for a log that has none (a new
// log, or one written before log ids: FORMAT.md "Log id" says why a new identity for its records
// is acceptable).
Status LogImpl::LoadOrAssignLogId(Log& log) {
  WEIR_ASSIGN_OR_RETURN(int64_t hi, internal::ReadMeta(log.db_, "log_id_hi", 0));
  WEIR_ASSIGN_OR_RETURN(int64_t lo, internal::ReadMeta(log.db_, "log_id_lo", 0));
  log.log_id_ = LogId{static_cast<uint64_t>(hi), static_cast<uint64_t>(lo)};
  if (!log.log_id_.empty()) return Status::Ok();
  log.log_id_ = LogId::Random();
  if (log.recovery_.file_quarantined) {
    log.recovery_.notes.push_back("the log re-created after quarantine has a new log id " +
                                  log.log_id_.ToHex());
  } else if (!log.recovery_.created) {
    log.recovery_.notes.push_back("the log had no log id (written before log ids); assigned " +
                                  log.log_id_.ToHex());
  }
  // Written by WriteOpenMeta, or by the first commit that finds space after an open on a full
  // disk; until then the id lives in memory only, and envelopes already carry it.
  log.log_id_unsaved_ = true;
  return Status::Ok();
}

Status LogImpl::WriteLogIdIfUnsaved(Log& log) {
  if (!log.log_id_unsaved_) return Status::Ok();
  WEIR_RETURN_IF_ERROR(SetMeta(log, "log_id_hi", static_cast<int64_t>(log.log_id_.hi)));
  return SetMeta(log, "log_id_lo", static_cast<int64_t>(log.log_id_.lo));
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
  WEIR_ASSIGN_OR_RETURN(p.insert_dead_letter,
                        Stmt::Prepare(log.db_,
                                      "INSERT INTO dead_letters(time_us, source, topic, "
                                      "reason_code, reason, payload_head, payload_bytes) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  WEIR_ASSIGN_OR_RETURN(p.count_dead_letters,
                        Stmt::Prepare(log.db_,
                                      "INSERT INTO dead_letter_counts(reason_code, count) "
                                      "VALUES (?1, ?2) ON CONFLICT(reason_code) "
                                      "DO UPDATE SET count = count + ?2"));
  // Keeps the newest max_dead_letters rows (FORMAT.md "Dead letters").
  WEIR_ASSIGN_OR_RETURN(p.trim_dead_letters,
                        Stmt::Prepare(log.db_,
                                      "DELETE FROM dead_letters WHERE id IN (SELECT id FROM "
                                      "dead_letters ORDER BY id DESC LIMIT -1 OFFSET ?1)"));
  return Status::Ok();
}

// Inside the commit's transaction: the buffered dead letters, their counters, then the trim.
Status LogImpl::WriteDeadLetters(Log& log) {
  Log::Pending& p = *log.pending_;
  if (p.dead_letters.empty()) return Status::Ok();
  std::map<std::string_view, int64_t> counts;
  for (const DeadLetter& d : p.dead_letters) {
    Stmt& s = p.insert_dead_letter;
    s.BindInt(1, d.time_us);
    s.BindText(2, d.source);
    s.BindText(3, d.topic);
    s.BindText(4, d.reason_code);
    s.BindText(5, d.reason);
    s.BindBlobStatic(6, d.payload_head);
    s.BindInt(7, static_cast<int64_t>(std::min<uint64_t>(d.payload_bytes, INT64_MAX)));
    WEIR_RETURN_IF_ERROR(s.Run("inserting a dead letter"));
    ++counts[d.reason_code];
  }
  for (const auto& [code, n] : counts) {
    p.count_dead_letters.BindText(1, code);
    p.count_dead_letters.BindInt(2, n);
    WEIR_RETURN_IF_ERROR(p.count_dead_letters.Run("counting dead letters"));
  }
  p.trim_dead_letters.BindInt(
      1, static_cast<int64_t>(std::min<uint64_t>(log.options_.max_dead_letters, INT64_MAX)));
  return p.trim_dead_letters.Run("trimming dead letters");
}

Status LogImpl::InsertRow(Log& log, const RowHeader& h, uint64_t raw_bytes, std::string_view blob) {
  Stmt& s = log.pending_->insert_row;
  internal::BindRowHeader(s, 1, h);
  s.BindInt(8, static_cast<int64_t>(raw_bytes));
  s.BindInt(9, RowChecksum(h, blob));
  s.BindBlobStatic(10, blob);
  return s.Run("inserting a record");
}

Status LogImpl::SetMeta(Log& log, std::string_view key, int64_t value) {
  return internal::SetMeta(log.pending_->set_meta, key, value);
}

// --- Commit ------------------------------------------------------------------------------

Status LogImpl::Fail(Log& log, Status error) {
  Exec(log.db_, "ROLLBACK").IgnoreError();
  if (error.code() == StatusCode::kResourceExhausted) return NoSpace(log, std::move(error));
  log.sticky_ = error;
  return error;
}

// A write found no space (SQLITE_FULL, ENOSPC). Unlike a failed fsync this leaves nothing in
// doubt: the transaction was rolled back and the file is as it was, so the error is not sticky.
// What was buffered stays buffered and the next commit tries again (FORMAT.md "Disk space").
Status LogImpl::NoSpace(Log& log, Status error) {
  log.limit_ = StoreLimit::kDiskFull;
  log.disk_full_at_ = log.clock_.Now();
  return error;
}

void LogImpl::ClearBuffered(Log& log) {
  Log::Pending& p = *log.pending_;
  p.readings.clear();
  p.readings_raw_bytes = 0;
  p.defects.clear();
  p.defect_times.clear();
  p.dead_letters.clear();
  p.dirty.clear();
  p.acks_since.reset();
  log.buffered_records_ = 0;
  log.first_buffered_at_.reset();
}

Result<CommitResult> LogImpl::Commit(Log& log) {
  WEIR_RETURN_IF_ERROR(log.RefuseIfFailed());
  Log::Pending& p = *log.pending_;
  const bool mark_moved = log.intake_mark_ != log.committed_intake_mark_;
  if (log.buffered_records_ == 0 && p.dirty.empty() && !mark_moved) return CommitResult{};

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
  WEIR_ASSIGN_OR_RETURN(CommitResult result, WriteCommit(log, blobs));
  if (!result.empty()) log.next_seq_ = result.last_seq + 1;
  log.committed_intake_mark_ = log.intake_mark_;
  log.log_id_unsaved_ = false;
  for (const std::string& b : blobs) log.usage_.readings += b.size();
  for (const std::string& d : p.defects) log.usage_.defects += d.size();
  if (!p.dead_letters.empty()) log.usage_dirty_ = true;
  ClearBuffered(log);
  if (log.limit_ == StoreLimit::kDiskFull) log.limit_ = StoreLimit::kNone;  // space came back
  WEIR_RETURN_IF_ERROR(EnforceQuota(log));
  return result;
}

// Reserves sequences and writes the buffered rows, dead letters and acks in one transaction.
// On error the transaction is rolled back (Fail) and nothing buffered is cleared.
Result<CommitResult> LogImpl::WriteCommit(Log& log, const std::vector<std::string>& blobs) {
  Log::Pending& p = *log.pending_;
  const size_t n = p.readings.size();
  const size_t chunk = log.options_.commit_records;
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
  result.dead_letters = p.dead_letters.size();

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
  // next_seq also when nothing was issued: an open on a full disk may have left it unwritten.
  st = SetMeta(log, "next_seq", static_cast<int64_t>(total > 0 ? last + 1 : log.next_seq_));
  if (st.ok() && log.intake_mark_ != log.committed_intake_mark_) {
    st = SetMeta(log, "intake_mark", static_cast<int64_t>(log.intake_mark_));
  }
  if (st.ok()) st = WriteLogIdIfUnsaved(log);
  if (st.ok()) st = WriteDeadLetters(log);
  for (auto it = p.dirty.begin(); st.ok() && it != p.dirty.end(); ++it) {
    p.upsert_cursor.BindText(1, it->first);
    p.upsert_cursor.BindInt(2, static_cast<int64_t>(it->second));
    p.upsert_cursor.BindInt(3, static_cast<int64_t>(p.cursors[*it]));
    st = p.upsert_cursor.Run("persisting a cursor");
  }
  if (st.ok()) st = Exec(log.db_, "COMMIT");
  if (!st.ok()) return Fail(log, st);
  return result;
}

// --- Quota -------------------------------------------------------------------------------

Status LogImpl::EnforceQuota(Log& log) {
  internal::QuotaState q{log.options_, log.pending_->cursors, log.evictions_, log.usage_,
                         log.usage_dirty_};
  auto limit = internal::EnforceQuota(log.db_, q, log.pending_->set_meta);
  log.usage_dirty_ = q.recount;
  if (!limit.ok()) return Fail(log, limit.status());
  log.limit_ = *limit;
  return Status::Ok();
}

// While writes are held back, every Append asks again (cheap: a statvfs and three header reads,
// no write unless something can be evicted): space may come back without a commit.
bool LogImpl::HeldBack(Log& log) {
  if (log.limit_ == StoreLimit::kNone) return false;
  // A full disk: let one group be buffered, so that its commit (or CommitIfDue's retry) finds
  // out when space is back; refuse more until then.
  if (log.limit_ == StoreLimit::kDiskFull) return log.buffered_records_ > 0;
  return !EnforceQuota(log).ok() || log.limit_ != StoreLimit::kNone;
}

// --- Log ---------------------------------------------------------------------------------

Log::Log(const LogOptions& options, const Clock& clock)
    : options_(options), clock_(clock), pending_(std::make_unique<Pending>()) {}

Log::~Log() {
  pending_.reset();  // finalizes the statements before the connection closes
  if (db_ == nullptr) return;
  // Closing checkpoints the WAL; after a clean close the reservation can shrink back to the
  // next sequence, so a clean restart continues without a jump.
  const bool clean = sqlite3_close_v2(db_) == SQLITE_OK && sticky_.ok();
  if (clean && next_seq_ < seq_reserved_) {
    WriteSeqFile(SeqFilePath(options_.path), next_seq_).IgnoreError();
  }
}  // lock_ is released last, after the file is closed

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
  WEIR_ASSIGN_OR_RETURN(log->lock_,
                        platform::InstanceLock::AcquireFile(
                            options.path.string() + ".lock",
                            "log " + options.path.string() + " is open by another writer"));
  Status st = LogImpl::OpenWithRetries(*log);
  if (!st.ok()) return st.WithContext("opening log " + options.path.string());
  if (!log->sticky_.ok()) return log->sticky_.WithContext("opening log");
  return log;
}

Result<CommitResult> Log::Append(std::span<const Reading> readings) {
  WEIR_RETURN_IF_ERROR(RefuseIfFailed());
  if (LogImpl::HeldBack(*this)) return HeldBackError();
  if (readings.empty()) return CommitResult{};
  pending_->readings.insert(pending_->readings.end(), readings.begin(), readings.end());
  buffered_records_ += readings.size();
  if (!first_buffered_at_) first_buffered_at_ = clock_.Now();
  return CommitIfFull();
}

Result<CommitResult> Log::AppendDefect(const Defect& defect) {
  WEIR_RETURN_IF_ERROR(RefuseIfFailed());
  if (LogImpl::HeldBack(*this)) return HeldBackError();
  WEIR_ASSIGN_OR_RETURN(std::string bytes, internal::EncodeDefect(defect));
  pending_->defects.push_back(std::move(bytes));
  pending_->defect_times.emplace_back(std::min(defect.window_start_us, defect.window_end_us),
                                      std::max(defect.window_end_us, defect.window_start_us));
  ++buffered_records_;
  if (!first_buffered_at_) first_buffered_at_ = clock_.Now();
  return CommitIfFull();
}

// The group is full: commit. When the disk is full the records stay buffered (they were
// accepted) and the caller sees an empty result; limit() says why the next Append is refused.
Result<CommitResult> Log::CommitIfFull() {
  if (buffered_records_ < options_.commit_records) return CommitResult{};
  auto r = Commit();
  if (!r.ok() && r.status().code() == StatusCode::kResourceExhausted && sticky_.ok()) {
    return CommitResult{};
  }
  return r;
}

// The one guard of every write entry point (FORMAT.md "Sticky error").
Status Log::RefuseIfFailed() const {
  if (sticky_.ok()) return Status::Ok();
  return FailedPrecondition("log refuses writes after an earlier error: " + sticky_.ToString());
}

Status Log::HeldBackError() const {
  return ResourceExhausted(std::string("log holds writes back (") +
                           std::string(StoreLimitName(limit_)) + "); ingest paused");
}

Status Log::AppendDeadLetter(const DeadLetter& letter) {
  WEIR_RETURN_IF_ERROR(RefuseIfFailed());
  DeadLetter& d = pending_->dead_letters.emplace_back(letter);
  if (!d.keep_whole_payload && d.payload_head.size() > kDeadLetterHeadBytes) {
    d.payload_head.resize(kDeadLetterHeadBytes);
  }
  ++buffered_records_;
  if (!first_buffered_at_) first_buffered_at_ = clock_.Now();
  return Status::Ok();
}

std::optional<Clock::TimePoint> Log::NextCommitDeadline() const {
  std::optional<Clock::TimePoint> due;
  if (first_buffered_at_) due = *first_buffered_at_ + options_.commit_interval;
  if (pending_->acks_since) {
    auto ack_due = *pending_->acks_since + options_.commit_interval;
    due = due ? std::min(*due, ack_due) : ack_due;
  }
  // After a commit found the disk full, the next try waits a little (not a busy loop).
  if (due && limit_ == StoreLimit::kDiskFull) {
    due = std::max(*due, disk_full_at_ + kDiskFullRetry);
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
  WEIR_RETURN_IF_ERROR(RefuseIfFailed());
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
  WEIR_RETURN_IF_ERROR(RefuseIfFailed());
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

Result<std::vector<StoredDeadLetter>> Log::ReadDeadLetters(uint64_t after_id, size_t max) {
  return internal::ReadDeadLetters(db_, after_id, max);
}

Result<LogStats> Log::Stats() {
  WEIR_ASSIGN_OR_RETURN(LogStats st, internal::ComputeStats(db_, options_.path));
  st.next_seq = next_seq_;
  st.usage.quota_counted = usage_.quota_counted;
  st.usage.filesystem_available = usage_.filesystem_available;
  st.usage.min_free_bytes = usage_.min_free_bytes;
  for (CursorStats& c : st.cursors) c.acked_seq = CursorPosition(c.name, c.lane);
  return st;
}

}  // namespace weir::store
