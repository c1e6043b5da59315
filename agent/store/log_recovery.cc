#include "agent/store/log_recovery.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <system_error>
#include <utility>

#include "agent/core/utc_time.h"
#include "agent/store/log_rows.h"
#include "agent/store/sqlite_util.h"
#include "platform/files.h"

namespace weir::store::internal {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kFullCheckMaxBytes = uint64_t{64} << 20;

// Every table the writer uses, with every column it names (kSchemaSql). A flipped byte in the
// schema text (sqlite_master) can rename a table or column and still pass integrity_check; the
// writer's statements would then fail to prepare and the log could not be opened or written.
// Optional tables may be missing (a log from before dead letters): the writer creates them.
struct TableShape {
  const char* sql;
  const char* table;  // nullptr: required; otherwise checked only when this table exists
};
constexpr TableShape kTableShapes[] = {
    {"SELECT key, value FROM meta LIMIT 0", nullptr},
    {"SELECT first_seq, last_seq, lane, kind, count, min_time_us, max_time_us, raw_bytes, crc, "
     "blob FROM records LIMIT 0",
     nullptr},
    {"SELECT name, lane, acked_seq FROM cursors LIMIT 0", nullptr},
    {"SELECT id, first_seq, last_seq, lane, kind, count, reason, at_us, blob FROM quarantine "
     "LIMIT 0",
     nullptr},
    {"SELECT id, time_us, source, topic, reason_code, reason, payload_head, payload_bytes FROM "
     "dead_letters LIMIT 0",
     "dead_letters"},
    {"SELECT reason_code, count FROM dead_letter_counts LIMIT 0", "dead_letter_counts"},
    {"SELECT name, seq FROM sqlite_sequence LIMIT 0", "sqlite_sequence"},
};

Status CheckSchemaShape(sqlite3* db) {
  for (const TableShape& t : kTableShapes) {
    if (t.table != nullptr) {
      WEIR_ASSIGN_OR_RETURN(
          Stmt e, Stmt::Prepare(db,
                                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                "name = ?1"));
      e.BindText(1, t.table);
      WEIR_ASSIGN_OR_RETURN(bool row, e.Step("looking up a table"));
      if (!row || e.Int(0) == 0) continue;
    }
    auto s = Stmt::Prepare(db, t.sql);
    if (!s.ok() && s.status().reason() == kReasonSchemaMismatch) {
      return DataLoss("schema damaged: " + s.status().message());
    }
    if (!s.ok()) return s.status();
  }
  return Status::Ok();
}

std::string QuarantineStamp(int64_t wall_us) {
  return FormatUtc(wall_us, UtcFraction::kMicros, UtcForm::kBasic);
}

}  // namespace

// --- The sequence side file ---------------------------------------------------------------

fs::path SeqFilePath(const fs::path& db) { return fs::path(db.string() + ".seq"); }

// The side file holds the sequence reservation as "weir-seq <n> <~n>\n"; the complement makes a
// damaged file detectable (it is then ignored).
std::optional<uint64_t> ReadSeqFile(const fs::path& path) {
  auto text = platform::ReadFile(path, 128);
  if (!text.ok()) return std::nullopt;
  unsigned long long v = 0, check = 0;
  if (std::sscanf(text->c_str(), "weir-seq %llu %llu", &v, &check) != 2 || ~v != check) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(v);
}

// No space is ResourceExhausted (platform::ErrnoStatus): the writer treats it as a full disk,
// not as a sticky error (FORMAT.md "Disk space").
Status WriteSeqFile(const fs::path& path, uint64_t value) {
  char buf[96];
  const int len = std::snprintf(buf, sizeof(buf), "weir-seq %llu %llu\n",
                                static_cast<unsigned long long>(value),
                                static_cast<unsigned long long>(~value));
  const Status s =
      platform::WriteFileAtomically(path, std::string_view(buf, static_cast<size_t>(len)));
  return s.code() == StatusCode::kResourceExhausted
             ? s.WithReason(StoreLimitName(StoreLimit::kDiskFull))
             : s;
}

// --- Checks on an existing file -----------------------------------------------------------

Status CheckExisting(sqlite3* db, const fs::path& path, bool& empty_file) {
  WEIR_ASSIGN_OR_RETURN(int64_t tables, QueryInt(db, "SELECT count(*) FROM sqlite_master"));
  if (tables == 0) {
    empty_file = true;
    return Status::Ok();
  }
  auto version = ReadMeta(db, "schema_version", 0);
  if (!version.ok()) {
    // An error that can pass (I/O, busy, no memory, full) is not evidence of damage.
    if (version.status().code() != StatusCode::kInternal &&
        version.status().code() != StatusCode::kDataLoss) {
      return version.status();
    }
    return DataLoss("not a weir log: " + version.status().message());
  }
  if (*version > kSchemaVersion) {
    return FailedPrecondition("log schema version " + std::to_string(*version) +
                              " is newer than this agent's " + std::to_string(kSchemaVersion));
  }
  if (*version != kSchemaVersion) {
    return DataLoss("log schema version " + std::to_string(*version) + " is damaged");
  }
  // integrity_check also verifies that indexes match their tables (a damaged index would make
  // later lane reads fail); it costs O(N log N), so large files get quick_check only.
  std::error_code ec;
  const bool small = fs::file_size(path, ec) < kFullCheckMaxBytes;
  WEIR_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db, small ? "PRAGMA integrity_check(5)" : "PRAGMA quick_check(5)"));
  std::string problems;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("quick_check"));
    if (!row) break;
    if (s.Text(0) != "ok")
      problems += std::string(problems.empty() ? "" : "; ") + std::string(s.Text(0));
  }
  if (!problems.empty()) return DataLoss("integrity check: " + problems);
  return CheckSchemaShape(db);
}

namespace {

// A row that failed its checksum. Its columns may be what is damaged, so the gap that replaces
// it is bounded by the next row in sequence order.
struct BadRow {
  RowHeader h;
  uint64_t next_first = 0;  // first_seq of the next row in the file (any lane); 0: none
};

// The header of the damaged gap standing in for `bad`: its first_seq (the b-tree key, which
// integrity_check vouches for) up to its last_seq when that is plausible, else up to the next
// row (or first_seq alone when there is none).
RowHeader DamagedGapFor(const BadRow& bad) {
  RowHeader g = bad.h;
  const bool plausible = g.last_seq >= g.first_seq && g.last_seq < kMaxSeq &&
                         (bad.next_first == 0 || g.last_seq < bad.next_first);
  if (!plausible) g.last_seq = bad.next_first != 0 ? bad.next_first - 1 : g.first_seq;
  if (g.lane != Lane::kDefects && g.lane != Lane::kReadings) g.lane = Lane::kReadings;
  g.kind = RecordKind::kGap;
  g.count = g.last_seq - g.first_seq + 1;
  return g;
}

}  // namespace

Status WriteDamagedGap(sqlite3* db, const RowHeader& gap, RecoveryReport& report) {
  WEIR_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db,
                                              "INSERT OR REPLACE INTO records(first_seq, "
                                              "last_seq, lane, kind, count, min_time_us, "
                                              "max_time_us, raw_bytes, crc, blob) VALUES (?1, "
                                              "?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9)"));
  RowHeader g = gap;
  g.kind = RecordKind::kGap;
  BindRowHeader(s, 1, g);
  s.BindInt(8, RowChecksum(g, kGapDamaged));
  s.BindBlobStatic(9, kGapDamaged);
  WEIR_RETURN_IF_ERROR(s.Run("writing a damaged gap"));
  report.damaged_gaps++;
  report.damaged_sequences += gap.last_seq - gap.first_seq + 1;
  return Status::Ok();
}

Status VerifyRows(sqlite3* db, const Clock& clock, RecoveryReport& report) {
  WEIR_ASSIGN_OR_RETURN(Stmt s,
                        Stmt::Prepare(db, std::string("SELECT ") + kRowHeaderColumns +
                                              ", crc, blob FROM records ORDER BY first_seq"));
  std::vector<BadRow> bad;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("verifying rows"));
    if (!row) break;
    const RowHeader h = ReadRowHeader(s);
    if (!bad.empty() && bad.back().next_first == 0) bad.back().next_first = h.first_seq;
    if (RowChecksum(h, s.Blob(8)) != static_cast<uint32_t>(s.Int(7))) bad.push_back({h, 0});
  }
  if (bad.empty()) return Status::Ok();
  report.integrity_ok = false;
  WEIR_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  WEIR_ASSIGN_OR_RETURN(
      Stmt move, Stmt::Prepare(db,
                               "INSERT INTO quarantine(first_seq, last_seq, lane, kind, count, "
                               "reason, at_us, blob) SELECT first_seq, last_seq, lane, kind, "
                               "count, 'checksum mismatch', ?2, blob FROM records "
                               "WHERE first_seq = ?1"));
  // The row keeps its place as a gap with reason "damaged", so the forwarder announces exactly
  // the sequences that were lost (FORMAT.md "Recovery", step 4).
  for (const BadRow& b : bad) {
    move.BindInt(1, static_cast<int64_t>(b.h.first_seq));
    move.BindInt(2, clock.WallMicros());
    WEIR_RETURN_IF_ERROR(move.Run("quarantining a row"));
    WEIR_RETURN_IF_ERROR(WriteDamagedGap(db, DamagedGapFor(b), report));
    report.rows_quarantined++;
    if (b.h.kind == RecordKind::kReadings) report.readings_quarantined += b.h.count;
  }
  WEIR_RETURN_IF_ERROR(Exec(db, "COMMIT"));
  report.notes.push_back(std::to_string(bad.size()) +
                         " row(s) failed their checksum: moved to quarantine, replaced by "
                         "damaged gaps");
  return Status::Ok();
}

// --- Whole-file quarantine and salvage ----------------------------------------------------

Result<fs::path> QuarantineFile(const fs::path& path, const Clock& clock, const Status& why,
                                RecoveryReport& report) {
  const fs::path base = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::path dir = base / "quarantine" / QuarantineStamp(clock.WallMicros());
  std::error_code ec;
  for (int i = 1; fs::exists(dir, ec); ++i) {
    dir = base / "quarantine" / (QuarantineStamp(clock.WallMicros()) + "-" + std::to_string(i));
  }
  fs::create_directories(dir, ec);
  if (ec) return IoError("creating " + dir.string() + ": " + ec.message());
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::path from(path.string() + suffix);
    if (!fs::exists(from, ec)) continue;
    fs::rename(from, dir / (path.filename().string() + suffix), ec);
    if (ec) return IoError("moving " + from.string() + " to quarantine: " + ec.message());
  }
  WEIR_RETURN_IF_ERROR(platform::FsyncDirectory(base));
  report.integrity_ok = false;
  report.file_quarantined = true;
  report.quarantine_dir = dir;
  report.notes.push_back("log file unusable (" + why.ToString() + "); moved to " + dir.string());
  return dir / path.filename();
}

namespace {

// Reads the old file's rows in one direction and copies the verified ones; `bad` collects the
// rows that failed their checksum, with the neighbour that bounds them.
struct ScanState {
  uint64_t salvaged = 0, max_seq = 0;
  std::vector<BadRow> bad;
  bool error = false;         // the scan stopped on an error, not at the end
  int64_t lowest_first = -1;  // the extreme first_seq reached (forwards: highest)
  uint64_t lowest_last = 0;   // forwards: plausible last_seq of the last row read
};

void ScanOld(sqlite3* old, Stmt& insert, bool backwards, int64_t after, ScanState& st) {
  // The columns in the order of records' schema, copied as they are into the fresh log.
  std::string sql =
      std::string("SELECT ") + kRowHeaderColumns + ", raw_bytes, crc, blob FROM records";
  sql += backwards ? " WHERE first_seq > ?1 ORDER BY first_seq DESC" : " ORDER BY first_seq";
  auto s = Stmt::Prepare(old, sql);
  if (!s.ok()) {
    st.error = true;
    return;
  }
  if (backwards) s->BindInt(1, after);
  uint64_t prev_first = 0;  // backwards: the row read before, i.e. the next one in sequence
  for (;;) {
    auto row = s->Step("salvaging rows");
    if (!row.ok()) st.error = true;
    if (!row.ok() || !*row) break;
    const RowHeader h = ReadRowHeader(*s);
    if (!backwards && !st.bad.empty() && st.bad.back().next_first == 0) {
      st.bad.back().next_first = h.first_seq;
    }
    st.lowest_first = s->Int(0);
    const bool ok = RowChecksum(h, s->Blob(9)) == static_cast<uint32_t>(s->Int(8)) &&
                    h.last_seq < kMaxSeq && h.last_seq >= h.first_seq;
    if (!ok) {
      st.bad.push_back({h, backwards ? prev_first : 0});
    } else {
      st.max_seq = std::max(st.max_seq, h.last_seq);
      for (int i = 0; i < 10; ++i) {
        sqlite3_bind_value(insert.get(), i + 1, sqlite3_column_value(s->get(), i));
      }
      if (insert.Run("copying a salvaged row").ok()) ++st.salvaged;
    }
    st.lowest_last = ok ? h.last_seq : h.first_seq;
    prev_first = h.first_seq;
  }
}

// Inside Salvage's transaction: a damaged gap per row that failed its checksum, and one for the
// stretch neither scan could read (between the forward scan's last row and the backward scan's
// first, or up to the highest sequence known to be issued). Which lane that stretch held cannot
// be known; it is announced in the readings lane, where nearly all sequences go, and a defects
// consumer sees the jump in prev_seq.
Status WriteSalvageGaps(sqlite3* db, const ScanState& fwd, const ScanState& bwd, uint64_t next_seq,
                        RecoveryReport& report) {
  for (const ScanState* st : {&fwd, &bwd}) {
    for (const BadRow& b : st->bad) {
      WEIR_RETURN_IF_ERROR(WriteDamagedGap(db, DamagedGapFor(b), report));
    }
  }
  if (!fwd.error) return Status::Ok();
  const uint64_t lo = fwd.lowest_first >= 0 ? fwd.lowest_last + 1 : 1;
  const uint64_t hi = bwd.lowest_first >= 0 ? static_cast<uint64_t>(bwd.lowest_first) - 1
                      : next_seq > 0        ? next_seq - 1
                                            : 0;
  if (hi < lo) {
    if (hi == 0) report.notes.push_back("the unreadable part's sequences are unknown: no gap");
    return Status::Ok();
  }
  RowHeader g{lo, hi, Lane::kReadings, RecordKind::kGap, hi - lo + 1, 0, 0};
  return WriteDamagedGap(db, g, report);
}

}  // namespace

Salvaged Salvage(const fs::path& old_db, sqlite3* db, uint64_t known_next_seq,
                 RecoveryReport& report) {
  Salvaged out;
  sqlite3* old = nullptr;
  if (sqlite3_open_v2(old_db.c_str(), &old, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(old);
    old = nullptr;
  }
  if (old != nullptr) {
    if (auto next = ReadMeta(old, "next_seq", 0); next.ok() && *next > 0) {
      out.next_seq = static_cast<uint64_t>(*next);
    }
    if (auto c = Stmt::Prepare(old, "SELECT name, lane, acked_seq FROM cursors"); c.ok()) {
      for (;;) {
        auto row = c->Step("salvaging cursors");
        if (!row.ok() || !*row) break;
        out.cursors.emplace_back(std::string(c->Text(0)), static_cast<Lane>(c->Int(1)),
                                 static_cast<uint64_t>(c->Int(2)));
      }
    }
  }
  auto insert = Stmt::Prepare(db,
                              "INSERT OR IGNORE INTO records(first_seq, last_seq, lane, kind, "
                              "count, min_time_us, max_time_us, raw_bytes, crc, blob) VALUES "
                              "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!insert.ok() || !Exec(db, "BEGIN IMMEDIATE").ok()) {
    if (old != nullptr) sqlite3_close_v2(old);
    return out;
  }
  ScanState fwd, bwd;
  if (old != nullptr) {
    ScanOld(old, *insert, /*backwards=*/false, 0, fwd);
    if (fwd.error) ScanOld(old, *insert, /*backwards=*/true, fwd.lowest_first, bwd);
    sqlite3_close_v2(old);
  } else {
    fwd.error = true;
  }
  out.next_seq = std::max({out.next_seq, fwd.max_seq + 1, bwd.max_seq + 1});
  Status gaps = WriteSalvageGaps(db, fwd, bwd, std::max(out.next_seq, known_next_seq), report);
  uint64_t salvaged = fwd.salvaged + bwd.salvaged;
  if (!gaps.ok() || !Exec(db, "COMMIT").ok()) {
    Exec(db, "ROLLBACK").IgnoreError();
    salvaged = 0;
  }
  const uint64_t damaged = fwd.bad.size() + bwd.bad.size();
  report.rows_salvaged = salvaged;
  report.rows_quarantined += damaged;
  report.notes.push_back("salvaged " + std::to_string(salvaged) +
                         " row(s) from the quarantined file; " + std::to_string(damaged) +
                         " row(s) failed their checksum; " + std::to_string(report.damaged_gaps) +
                         " damaged gap(s) announce " + std::to_string(report.damaged_sequences) +
                         " lost sequence(s)");
  return out;
}

}  // namespace weir::store::internal
