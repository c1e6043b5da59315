// Opening the writer: see log_open.h.
#include "agent/store/log_open.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "agent/store/log_commit.h"
#include "agent/store/log_quota.h"
#include "agent/store/log_recovery.h"
#include "agent/store/log_rows.h"
#include "agent/store/sqlite_util.h"

namespace weir::store::internal {
namespace {

namespace fs = std::filesystem;

Status OpenConnection(LogState& st, bool fresh);
Status QuarantineAndSalvage(LogState& st, const Status& why);
Status SalvageFrom(LogState& st, const fs::path& old_db);
Status ResumeSalvage(LogState& st);
Status OpenAndRecover(LogState& st);
Status FinishOpen(LogState& st);
Status LoadCursors(LogState& st, uint64_t issued_bound);
Status WriteOpenMeta(LogState& st);
Status CountUsage(LogState& st);
Status LoadOrAssignLogId(LogState& st);
Status PrepareStatements(LogState& st);

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

Status OpenConnection(LogState& st, bool fresh) {
  const std::string path = st.options.path.string();
  int rc = sqlite3_open_v2(path.c_str(), &st.db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           st.options.vfs.empty() ? nullptr : st.options.vfs.c_str());
  if (rc != SQLITE_OK) return SqlStatus(st.db, rc, "opening " + path);
  // Keep -wal (truncated to nothing) and -shm at close, so that a restart on a full disk can open
  // the log and read it: a WAL database cannot be opened without its -shm, and creating one
  // needs a page of free space (FORMAT.md "Disk space").
  int persist = 1;
  sqlite3_file_control(st.db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  sqlite3_busy_timeout(st.db, 5000);
  sqlite3_extended_result_codes(st.db, 0);
  const uint64_t wal = internal::WalAllowance(st.options.quota_bytes);
  std::string pragmas;
  // page_size and auto_vacuum only take effect before the first table exists, and page_size
  // must come first (FORMAT.md "Pragmas").
  if (fresh) {
    pragmas += "PRAGMA page_size=" + std::to_string(st.options.page_size) + ";";
    pragmas += "PRAGMA auto_vacuum=INCREMENTAL;";
  }
  pragmas += "PRAGMA journal_mode=WAL;";
  pragmas += st.options.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL;"
                                                          : "PRAGMA synchronous=NORMAL;";
  pragmas += "PRAGMA wal_autocheckpoint=" + std::to_string(wal / st.options.page_size) + ";";
  pragmas += "PRAGMA journal_size_limit=" + std::to_string(wal) + ";";
  pragmas += "PRAGMA cell_size_check=ON;";
  pragmas += "PRAGMA cache_size=-" + std::to_string(st.options.cache_kib) + ";";
  return Exec(st.db, pragmas.c_str());
}

// Moves the unusable file aside, creates a fresh log at the path and copies whatever rows of the
// old file can still be read and verified.
Status QuarantineAndSalvage(LogState& st, const Status& why) {
  if (st.db != nullptr) {
    sqlite3_close_v2(st.db);
    st.db = nullptr;
  }
  WEIR_ASSIGN_OR_RETURN(fs::path old_db,
                        internal::QuarantineFile(st.options.path, st.clock, why, st.recovery));
  return SalvageFrom(st, old_db);
}

// Creates the fresh log and copies what `old_db` (a quarantined file) still holds into it.
Status SalvageFrom(LogState& st, const fs::path& old_db) {
  WEIR_RETURN_IF_ERROR(OpenConnection(st, /*fresh=*/true));
  WEIR_RETURN_IF_ERROR(Exec(st.db, internal::kSchemaSql));
  internal::Salvaged salvaged = internal::Salvage(
      old_db, st.db, ReadSeqFile(SeqFilePath(st.options.path)).value_or(0), st.recovery);
  for (auto& [name, lane, acked] : salvaged.cursors) {
    CursorKey key{std::move(name), lane};
    st.pending->cursors[key] = acked;
    st.pending->dirty.insert(std::move(key));
  }
  st.next_seq = std::max(st.next_seq, salvaged.next_seq);
  return Status::Ok();
}

// An earlier attempt moved the damaged file to quarantine and then met an error that can pass:
// what it left at the path is only its own partial work, so it is removed and the salvage runs
// again from the quarantined copy (otherwise its rows would be lost without a gap).
Status ResumeSalvage(LogState& st) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::remove(fs::path(st.options.path.string() + suffix), ec);
  }
  st.recovery.integrity_ok = false;
  st.recovery.file_quarantined = true;
  st.recovery.quarantine_dir = st.salvage_from.parent_path();
  st.recovery.notes.push_back("log file unusable; moved to " + st.recovery.quarantine_dir.string() +
                              " by an earlier attempt");
  return SalvageFrom(st, st.salvage_from);
}

Status OpenAndRecover(LogState& st) {
  const fs::path& path = st.options.path;
  const std::optional<uint64_t> reserved = ReadSeqFile(SeqFilePath(path));
  std::error_code ec;
  const bool existed = fs::exists(path, ec);
  bool distrust_meta = false;
  if (!st.salvage_from.empty()) {
    WEIR_RETURN_IF_ERROR(ResumeSalvage(st));
    distrust_meta = true;
  } else if (!existed) {
    st.recovery.created = true;
    WEIR_RETURN_IF_ERROR(OpenConnection(st, /*fresh=*/true));
    // A missing file with a side file present means the log was removed: do not trust 1.
    distrust_meta = reserved.has_value();
  } else {
    bool empty_file = false;
    Status status = OpenConnection(st, /*fresh=*/false);
    if (status.ok()) status = internal::CheckExisting(st.db, path, empty_file);
    if (status.code() == StatusCode::kFailedPrecondition) return status;  // newer: not damage
    if (status.ok() && !empty_file && st.options.verify_rows_on_open) {
      status = internal::VerifyRows(st.db, st.clock, st.recovery);
    }
    if (status.ok() && empty_file) {
      // An existing file without tables: created and never written, or truncated to nothing.
      st.recovery.created = true;
      distrust_meta = true;
      sqlite3_close_v2(st.db);
      st.db = nullptr;
      WEIR_RETURN_IF_ERROR(OpenConnection(st, /*fresh=*/true));
    }
    if (!status.ok()) {
      // Only damage quarantines. I/O errors, no memory, busy and full can pass: Log::Open
      // retries them (FORMAT.md "Recovery", step 0); permissions are returned as they are.
      if (status.code() != StatusCode::kDataLoss) return status;
      WEIR_RETURN_IF_ERROR(QuarantineAndSalvage(st, status));
      distrust_meta = true;
    }
  }
  WEIR_RETURN_IF_ERROR(Exec(st.db, internal::kSchemaSql));
  if (reserved) {
    st.next_seq = std::max(st.next_seq, *reserved);
  } else if (distrust_meta && st.recovery.file_quarantined) {
    // Neither the file nor the side file can tell what was issued: wall-clock microseconds
    // are above any sequence a log could have issued at under one per microsecond.
    st.next_seq = std::max<uint64_t>(st.next_seq, st.clock.WallMicros());
    st.recovery.notes.push_back("sequence side file missing; continuing at wall-clock µs");
  }
  return FinishOpen(st);
}

// Loads the cursors. Cursors carry no checksum; a position at or beyond `issued_bound` (above
// anything the file ever issued) can only be damage, and it would let eviction delete unsent
// data: such a cursor restarts from 0.
Status LoadCursors(LogState& st, uint64_t issued_bound) {
  std::vector<CursorKey> reset;
  WEIR_ASSIGN_OR_RETURN(Stmt c, Stmt::Prepare(st.db, "SELECT name, lane, acked_seq FROM cursors"));
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, c.Step("loading cursors"));
    if (!row) break;
    CursorKey key{std::string(c.Text(0)), static_cast<Lane>(c.Int(1))};
    auto acked = static_cast<uint64_t>(c.Int(2));
    if (acked >= issued_bound) {
      st.recovery.notes.push_back("cursor '" + key.first + "' was beyond the last sequence; reset");
      st.recovery.integrity_ok = false;
      acked = 0;
      st.pending->dirty.insert(key);
      reset.push_back(key);
    }
    st.pending->cursors[key] = acked;
  }
  c = Stmt();
  for (const CursorKey& key : reset) {
    WEIR_ASSIGN_OR_RETURN(
        Stmt d, Stmt::Prepare(st.db, "DELETE FROM cursors WHERE name = ?1 AND lane = ?2"));
    d.BindText(1, key.first);
    d.BindInt(2, static_cast<int64_t>(key.second));
    WEIR_RETURN_IF_ERROR(d.Run("resetting a damaged cursor"));
  }
  return Status::Ok();
}

Status FinishOpen(LogState& st) {
  WEIR_ASSIGN_OR_RETURN(int64_t meta_next, internal::ReadMeta(st.db, "next_seq", 1));
  WEIR_ASSIGN_OR_RETURN(int64_t max_row,
                        QueryInt(st.db,
                                 "SELECT max(coalesce((SELECT max(last_seq) FROM records), 0), "
                                 "coalesce((SELECT max(last_seq) FROM quarantine), 0))"));
  const uint64_t issued_bound = std::max(static_cast<uint64_t>(std::max<int64_t>(meta_next, 1)),
                                         static_cast<uint64_t>(max_row) + 1);
  st.next_seq = std::max(st.next_seq, issued_bound);
  WEIR_ASSIGN_OR_RETURN(int64_t intake_mark, internal::ReadMeta(st.db, "intake_mark", 0));
  st.committed_intake_mark = st.intake_mark =
      static_cast<uint64_t>(std::max<int64_t>(0, intake_mark));
  WEIR_RETURN_IF_ERROR(LoadCursors(st, issued_bound));
  WEIR_ASSIGN_OR_RETURN(st.evictions, internal::ReadEvictionStats(st.db));
  WEIR_RETURN_IF_ERROR(CountUsage(st));
  WEIR_RETURN_IF_ERROR(PrepareStatements(st));
  WEIR_RETURN_IF_ERROR(LoadOrAssignLogId(st));
  const Status meta = WriteOpenMeta(st);
  if (meta.code() == StatusCode::kResourceExhausted) {
    // A full disk: open for reading and forwarding; the meta and the cursors restored above stay
    // pending (dirty) and go with the first commit that finds space.
    Exec(st.db, "ROLLBACK").IgnoreError();
    st.recovery.opened_without_space = true;
    st.recovery.notes.push_back("opened without free space (" + meta.ToString() +
                                "); writes wait for space");
    st.limit = StoreLimit::kDiskFull;
  } else if (!meta.ok()) {
    return meta;
  }
  if (st.recovery.rows_quarantined > 0 || st.recovery.file_quarantined) {
    st.recovery.integrity_ok = false;
  }
  if (st.limit == StoreLimit::kDiskFull) return Status::Ok();
  // An eviction that finds the disk full leaves the log open for reading (limit kDiskFull).
  Status quota = EnforceQuota(st);
  if (quota.code() == StatusCode::kResourceExhausted && st.sticky.ok()) return Status::Ok();
  return quota;
}

// At open: the schema version, the next sequence and cursors salvaged from a quarantined file.
Status WriteOpenMeta(LogState& st) {
  WEIR_RETURN_IF_ERROR(Exec(st.db, "BEGIN IMMEDIATE"));
  WEIR_RETURN_IF_ERROR(SetMeta(st, "schema_version", internal::kSchemaVersion));
  WEIR_RETURN_IF_ERROR(SetMeta(st, "next_seq", static_cast<int64_t>(st.next_seq)));
  WEIR_RETURN_IF_ERROR(WriteLogIdIfUnsaved(st));
  for (const auto& key : st.pending->dirty) {  // cursors salvaged from a quarantined file
    Stmt& u = st.pending->upsert_cursor;
    u.BindText(1, key.first);
    u.BindInt(2, static_cast<int64_t>(key.second));
    u.BindInt(3, static_cast<int64_t>(st.pending->cursors[key]));
    WEIR_RETURN_IF_ERROR(u.Run("restoring cursor"));
  }
  WEIR_RETURN_IF_ERROR(Exec(st.db, "COMMIT"));
  st.pending->dirty.clear();
  st.log_id_unsaved = false;
  return Status::Ok();
}

// The bytes per kind at open: one pass over the blobs' lengths; later commits and evictions
// keep the figures current.
Status CountUsage(LogState& st) {
  st.usage = UsageBytes{};
  WEIR_RETURN_IF_ERROR(CountLaneBytes(st.db, st.usage));
  st.usage.quarantine_files = internal::QuarantineFileBytes(st.options.path);
  st.usage_dirty = true;
  return Status::Ok();
}

// Inside FinishOpen's transaction: reads the log id, or makes one for a log that has none (a new
// log, or one written before log ids: FORMAT.md "Log id" says why a new identity for its records
// is acceptable).
Status LoadOrAssignLogId(LogState& st) {
  WEIR_ASSIGN_OR_RETURN(st.log_id, ReadLogId(st.db));
  if (!st.log_id.empty()) return Status::Ok();
  st.log_id = LogId::Random();
  if (st.recovery.file_quarantined) {
    st.recovery.notes.push_back("the log re-created after quarantine has a new log id " +
                                st.log_id.ToHex());
  } else if (!st.recovery.created) {
    st.recovery.notes.push_back("the log had no log id (written before log ids); assigned " +
                                st.log_id.ToHex());
  }
  // Written by WriteOpenMeta, or by the first commit that finds space after an open on a full
  // disk; until then the id lives in memory only, and envelopes already carry it.
  st.log_id_unsaved = true;
  return Status::Ok();
}

Status PrepareStatements(LogState& st) {
  PendingWrites& p = *st.pending;
  WEIR_ASSIGN_OR_RETURN(p.insert_row,
                        Stmt::Prepare(st.db,
                                      "INSERT INTO records(first_seq, last_seq, lane, kind, "
                                      "count, min_time_us, max_time_us, raw_bytes, crc, blob) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  WEIR_ASSIGN_OR_RETURN(p.set_meta, Stmt::Prepare(st.db,
                                                  "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                                                  "ON CONFLICT(key) DO UPDATE SET value = ?2"));
  WEIR_ASSIGN_OR_RETURN(
      p.upsert_cursor,
      Stmt::Prepare(st.db,
                    "INSERT INTO cursors(name, lane, acked_seq) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT(name, lane) DO UPDATE SET acked_seq = max(acked_seq, ?3)"));
  WEIR_ASSIGN_OR_RETURN(p.insert_dead_letter,
                        Stmt::Prepare(st.db,
                                      "INSERT INTO dead_letters(time_us, source, topic, "
                                      "reason_code, reason, payload_head, payload_bytes) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  WEIR_ASSIGN_OR_RETURN(p.count_dead_letters,
                        Stmt::Prepare(st.db,
                                      "INSERT INTO dead_letter_counts(reason_code, count) "
                                      "VALUES (?1, ?2) ON CONFLICT(reason_code) "
                                      "DO UPDATE SET count = count + ?2"));
  // Keeps the newest max_dead_letters rows (FORMAT.md "Dead letters").
  WEIR_ASSIGN_OR_RETURN(p.trim_dead_letters,
                        Stmt::Prepare(st.db,
                                      "DELETE FROM dead_letters WHERE id IN (SELECT id FROM "
                                      "dead_letters ORDER BY id DESC LIMIT -1 OFFSET ?1)"));
  return Status::Ok();
}

}  // namespace

// OpenAndRecover, again after errors that can pass, with a doubling wait (bounded: open_retries
// times from open_retry_initial; 5 from 100 ms wait 3.1 s in all). Each attempt starts from a
// clean state; the report keeps the count and the last error.
Status OpenWithRetries(LogState& st) {
  auto wait = st.options.open_retry_initial;
  for (int attempt = 0;; ++attempt) {
    const Status status = OpenAndRecover(st);
    if (status.ok() && attempt > 0) {
      st.recovery.notes.push_back(
          "open retried " + std::to_string(attempt) +
          " time(s) after errors that can pass; last: " + st.recovery.last_transient_error);
    }
    if (status.ok() || !Transient(status, st.options.path) || attempt >= st.options.open_retries) {
      return status;
    }
    const uint64_t retries = st.recovery.transient_retries + 1;
    if (st.recovery.file_quarantined) {
      st.salvage_from = st.recovery.quarantine_dir / st.options.path.filename();
    }
    st.pending = std::make_unique<PendingWrites>();  // finalizes statements first
    if (st.db != nullptr) sqlite3_close_v2(st.db);
    st.db = nullptr;
    st.recovery = RecoveryReport{};
    st.recovery.transient_retries = retries;
    st.recovery.last_transient_error = status.ToString();
    st.next_seq = 1;
    st.seq_reserved = 0;
    st.evictions = EvictionStats{};
    st.limit = StoreLimit::kNone;
    std::this_thread::sleep_for(wait);
    wait *= 2;
  }
}

}  // namespace weir::store::internal
