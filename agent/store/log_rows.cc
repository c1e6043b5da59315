#include "agent/store/log_rows.h"

#include <algorithm>
#include <array>
#include <string>

#include "agent/codec/defect_codec.h"
#include "agent/store/crc32c.h"
#include "agent/store/log_quota.h"
#include "agent/store/sqlite_util.h"
#include "platform/files.h"

namespace weir::store::internal {
namespace {

uint64_t SizeOf(const std::filesystem::path& p) {
  auto size = platform::FileSize(p);
  return size.ok() ? *size : 0;
}

// Fills the decoded part of a record; marks it damaged when decoding fails.
void DecodeRecord(StoredRecord& rec, std::string_view blob, codec::BatchDecoder& decoder) {
  if (rec.kind == RecordKind::kReadings) {
    auto readings = decoder.Decode(blob);
    if (!readings.ok() || readings->size() != rec.count) {
      rec.damaged = true;
      return;
    }
    rec.readings = std::move(readings).value();
  } else if (rec.kind == RecordKind::kDefect) {
    auto defect = DecodeDefect(blob);
    if (!defect.ok()) {
      rec.damaged = true;
      return;
    }
    rec.defect = std::move(defect).value();
  }
}

}  // namespace

RowHeader ReadRowHeader(const Stmt& s, int c) {
  return RowHeader{static_cast<uint64_t>(s.Int(c)),
                   static_cast<uint64_t>(s.Int(c + 1)),
                   static_cast<Lane>(s.Int(c + 2)),
                   static_cast<RecordKind>(s.Int(c + 3)),
                   static_cast<uint64_t>(s.Int(c + 4)),
                   s.Int(c + 5),
                   s.Int(c + 6)};
}

void BindRowHeader(Stmt& s, int p, const RowHeader& h) {
  s.BindInt(p, static_cast<int64_t>(h.first_seq));
  s.BindInt(p + 1, static_cast<int64_t>(h.last_seq));
  s.BindInt(p + 2, static_cast<int64_t>(h.lane));
  s.BindInt(p + 3, static_cast<int64_t>(h.kind));
  s.BindInt(p + 4, static_cast<int64_t>(h.count));
  s.BindInt(p + 5, h.min_time_us);
  s.BindInt(p + 6, h.max_time_us);
}

Status SetMeta(Stmt& set_meta, std::string_view key, int64_t value) {
  set_meta.BindText(1, key);
  set_meta.BindInt(2, value);
  return set_meta.Run("updating meta");
}

Result<EvictionStats> ReadEvictionStats(sqlite3* db) {
  EvictionStats e;
  for (const EvictionCounter& c : kEvictionCounters) {
    WEIR_ASSIGN_OR_RETURN(int64_t v, ReadMeta(db, c.name, 0));
    e.*c.field = static_cast<uint64_t>(v);
  }
  return e;
}

Status WriteEvictionStats(Stmt& set_meta, const EvictionStats& e) {
  for (const EvictionCounter& c : kEvictionCounters) {
    WEIR_RETURN_IF_ERROR(SetMeta(set_meta, c.name, static_cast<int64_t>(e.*c.field)));
  }
  return Status::Ok();
}

Result<PageBytes> ReadPageBytes(sqlite3* db) {
  WEIR_ASSIGN_OR_RETURN(int64_t page_size, QueryInt(db, "PRAGMA page_size"));
  WEIR_ASSIGN_OR_RETURN(int64_t pages, QueryInt(db, "PRAGMA page_count"));
  WEIR_ASSIGN_OR_RETURN(int64_t free_pages, QueryInt(db, "PRAGMA freelist_count"));
  return PageBytes{static_cast<uint64_t>((pages - free_pages) * page_size),
                   static_cast<uint64_t>(free_pages * page_size)};
}

Result<uint64_t> UsedBytes(sqlite3* db) {
  WEIR_ASSIGN_OR_RETURN(PageBytes pages, ReadPageBytes(db));
  return pages.in_use;
}

uint32_t RowChecksum(const RowHeader& h, std::string_view blob) {
  uint32_t crc = kCrc32cInit;
  crc = Crc32cUpdateU64(crc, h.first_seq);
  crc = Crc32cUpdateU64(crc, h.last_seq);
  crc = Crc32cUpdateU64(crc, static_cast<uint64_t>(h.lane));
  crc = Crc32cUpdateU64(crc, static_cast<uint64_t>(h.kind));
  crc = Crc32cUpdateU64(crc, h.count);
  crc = Crc32cUpdateU64(crc, static_cast<uint64_t>(h.min_time_us));
  crc = Crc32cUpdateU64(crc, static_cast<uint64_t>(h.max_time_us));
  crc = Crc32cUpdate(crc, blob.data(), blob.size());
  return Crc32cFinish(crc);
}

Result<std::string> EncodeDefect(const Defect& d) { return codec::EncodeDefect(d); }

Result<Defect> DecodeDefect(std::string_view bytes) { return codec::DecodeDefect(bytes); }

Result<std::vector<StoredRecord>> ReadRows(sqlite3* db, const ReadQuery& q,
                                           codec::BatchDecoder& decoder) {
  // Rows never overlap, so the row holding after_seq + 1 is the last one starting at or below
  // after_seq (or after it): a chunk that straddles after_seq (a partial ack) is returned whole.
  std::string sql =
      std::string("SELECT ") + kRowHeaderColumns +
      ", crc, blob FROM records WHERE first_seq >= (SELECT IFNULL(MAX(first_seq), 0) FROM records "
      "WHERE first_seq <= ?1) AND last_seq > ?1 AND first_seq <= ?2";
  if (q.lane) sql += " AND lane = ?3";
  if (q.from_us) sql += " AND max_time_us >= ?4";
  if (q.to_us) sql += " AND min_time_us <= ?5";
  sql += " ORDER BY first_seq LIMIT ?6";
  WEIR_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, sql));
  // Sequences are below 2^63 (FORMAT.md), so they fit SQLite's signed integers.
  s.BindInt(1, static_cast<int64_t>(q.after_seq));
  s.BindInt(2, static_cast<int64_t>(std::min<uint64_t>(q.to_seq, INT64_MAX)));
  if (q.lane) s.BindInt(3, static_cast<int64_t>(*q.lane));
  if (q.from_us) s.BindInt(4, *q.from_us);
  if (q.to_us) s.BindInt(5, *q.to_us);
  s.BindInt(6, static_cast<int64_t>(std::min<uint64_t>(q.max_records, INT64_MAX)));

  std::vector<StoredRecord> out;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("reading records"));
    if (!row) break;
    const RowHeader h = ReadRowHeader(s);
    StoredRecord rec;
    rec.first_seq = h.first_seq;
    rec.last_seq = h.last_seq;
    rec.lane = h.lane;
    rec.kind = h.kind;
    rec.count = h.count;
    rec.min_time_us = h.min_time_us;
    rec.max_time_us = h.max_time_us;
    const auto crc = static_cast<uint32_t>(s.Int(7));
    std::string_view blob = s.Blob(8);
    if (RowChecksum(h, blob) != crc) {
      rec.damaged = true;
    } else if (q.decode) {
      DecodeRecord(rec, blob, decoder);
    }
    if (rec.kind == RecordKind::kGap && !rec.damaged) {
      rec.gap_reason = blob.empty() ? kGapEvicted : blob.substr(0, 32);
    }
    if (q.with_blob && !rec.damaged) rec.blob.assign(blob);
    out.push_back(std::move(rec));
  }
  return out;
}

Result<uint64_t> ReadCursor(sqlite3* db, std::string_view name, Lane lane) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db, "SELECT acked_seq FROM cursors WHERE name = ?1 AND lane = ?2"));
  s.BindText(1, name);
  s.BindInt(2, static_cast<int64_t>(lane));
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step("reading cursor"));
  return row ? static_cast<uint64_t>(s.Int(0)) : uint64_t{0};
}

Result<int64_t> ReadMeta(sqlite3* db, std::string_view key, int64_t fallback) {
  WEIR_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, "SELECT value FROM meta WHERE key = ?1"));
  s.BindText(1, key);
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step("reading meta"));
  return row ? s.Int(0) : fallback;
}

uint64_t FileBytes(const std::filesystem::path& path) { return SizeOf(path); }
uint64_t WalBytes(const std::filesystem::path& path) {
  return SizeOf(std::filesystem::path(path.string() + "-wal"));
}

namespace {

// Whether the dead-letter tables exist: a log written before them has neither until a writer
// opens it (the read-only connection cannot create them).
Result<bool> HasDeadLetterTables(sqlite3* db) {
  WEIR_ASSIGN_OR_RETURN(int64_t n, QueryInt(db,
                                            "SELECT count(*) FROM sqlite_master WHERE type = "
                                            "'table' AND name IN ('dead_letters', "
                                            "'dead_letter_counts')"));
  return n == 2;
}

// Damage in the dead-letter table is DataLoss; I/O trouble and a full disk keep their codes.
Status AsDataLoss(const Status& st) {
  if (st.code() == StatusCode::kIoError || st.code() == StatusCode::kResourceExhausted ||
      st.code() == StatusCode::kDataLoss) {
    return st;
  }
  return DataLoss("dead-letter table unreadable: " + st.ToString());
}

}  // namespace

Result<std::vector<StoredDeadLetter>> ReadDeadLetters(sqlite3* db, uint64_t after_id, size_t max) {
  auto has = HasDeadLetterTables(db);
  if (!has.ok()) return AsDataLoss(has.status());
  std::vector<StoredDeadLetter> out;
  if (!*has || max == 0) return out;
  auto s = Stmt::Prepare(db,
                         "SELECT id, time_us, source, topic, reason_code, reason, payload_head, "
                         "payload_bytes FROM dead_letters WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (!s.ok()) return AsDataLoss(s.status());
  s->BindInt(1, static_cast<int64_t>(std::min<uint64_t>(after_id, INT64_MAX)));
  s->BindInt(2, static_cast<int64_t>(std::min<uint64_t>(max, INT64_MAX)));
  for (;;) {
    auto row = s->Step("reading dead letters");
    if (!row.ok()) return AsDataLoss(row.status());
    if (!*row) break;
    // Columns of a damaged row may come back NULL or of another type; SQLite converts, and the
    // accessors turn NULL into empty, so nothing here can crash.
    StoredDeadLetter d;
    d.id = static_cast<uint64_t>(s->Int(0));
    d.letter.time_us = s->Int(1);
    d.letter.source = std::string(s->Text(2));
    d.letter.topic = std::string(s->Text(3));
    d.letter.reason_code = std::string(s->Text(4));
    d.letter.reason = std::string(s->Text(5));
    d.letter.payload_head = std::string(s->Blob(6));
    d.letter.payload_bytes = static_cast<uint64_t>(std::max<int64_t>(s->Int(7), 0));
    out.push_back(std::move(d));
  }
  return out;
}

DeadLetterStats ComputeDeadLetterStats(sqlite3* db) {
  DeadLetterStats st;
  auto has = HasDeadLetterTables(db);
  if (!has.ok() || !*has) return st;
  auto rows = QueryInt(db, "SELECT count(*) FROM dead_letters");
  if (rows.ok()) st.rows = static_cast<uint64_t>(*rows);
  auto s = Stmt::Prepare(db, "SELECT reason_code, count FROM dead_letter_counts");
  if (!s.ok()) return st;
  for (;;) {
    auto row = s->Step("reading dead-letter counts");
    if (!row.ok() || !*row) break;
    const auto n = static_cast<uint64_t>(std::max<int64_t>(s->Int(1), 0));
    st.by_reason[std::string(s->Text(0))] += n;
    st.total += n;
  }
  return st;
}

Result<LogId> ReadLogId(sqlite3* db) {
  WEIR_ASSIGN_OR_RETURN(int64_t hi, ReadMeta(db, "log_id_hi", 0));
  WEIR_ASSIGN_OR_RETURN(int64_t lo, ReadMeta(db, "log_id_lo", 0));
  return LogId{static_cast<uint64_t>(hi), static_cast<uint64_t>(lo)};
}

Status CountLaneBytes(sqlite3* db, UsageBytes& usage) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db, "SELECT lane, sum(length(blob)) FROM records GROUP BY lane"));
  usage.readings = usage.defects = 0;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("counting bytes"));
    if (!row) break;
    (static_cast<Lane>(s.Int(0)) == Lane::kDefects ? usage.defects : usage.readings) =
        static_cast<uint64_t>(s.Int(1));
  }
  return Status::Ok();
}

namespace {

// Rows, records, sequence and time ranges per lane and kind; encoded and raw bytes.
Status AddLaneStats(sqlite3* db, LogStats& st) {
  WEIR_ASSIGN_OR_RETURN(
      Stmt s, Stmt::Prepare(db,
                            "SELECT lane, kind, count(*), sum(count), min(first_seq), "
                            "max(last_seq), min(min_time_us), max(max_time_us), "
                            "sum(length(blob)), sum(raw_bytes) FROM records GROUP BY lane, kind"));
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, s.Step("computing stats"));
    if (!row) break;
    LaneStats& ls = static_cast<Lane>(s.Int(0)) == Lane::kDefects ? st.defects : st.readings;
    const auto kind = static_cast<RecordKind>(s.Int(1));
    const auto rows = static_cast<uint64_t>(s.Int(2));
    const auto count = static_cast<uint64_t>(s.Int(3));
    ls.rows += rows;
    if (kind == RecordKind::kReadings) {
      ls.chunks += rows;
      ls.readings += count;
      st.encoded_bytes += static_cast<uint64_t>(s.Int(8));
      st.raw_bytes += static_cast<uint64_t>(s.Int(9));
    } else if (kind == RecordKind::kDefect) {
      ls.defects += rows;
    } else {
      ls.gaps += rows;
      ls.gap_records += count;
    }
    const auto first = static_cast<uint64_t>(s.Int(4));
    const auto last = static_cast<uint64_t>(s.Int(5));
    const bool was_empty = ls.rows == rows;
    if (was_empty || first < ls.first_seq) ls.first_seq = first;
    if (last > ls.last_seq) ls.last_seq = last;
    if (was_empty || s.Int(6) < ls.oldest_us) ls.oldest_us = s.Int(6);
    if (was_empty || s.Int(7) > ls.newest_us) ls.newest_us = s.Int(7);
  }
  if (st.encoded_bytes > 0) {
    st.compression_ratio =
        static_cast<double>(st.raw_bytes) / static_cast<double>(st.encoded_bytes);
  }
  return Status::Ok();
}

// Gap rows by reason (an empty blob is an eviction gap) and the records they announce.
Status AddGapStats(sqlite3* db, LogStats& st) {
  WEIR_ASSIGN_OR_RETURN(Stmt g, Stmt::Prepare(db,
                                              "SELECT length(blob) > 0, count(*), sum(count) "
                                              "FROM records WHERE kind = 2 GROUP BY 1"));
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, g.Step("counting gaps"));
    if (!row) break;
    const bool damaged = g.Int(0) != 0;
    (damaged ? st.damaged_gaps : st.evicted_gaps) = static_cast<uint64_t>(g.Int(1));
    (damaged ? st.damaged_gap_records : st.evicted_gap_records) = static_cast<uint64_t>(g.Int(2));
  }
  return Status::Ok();
}

// Each persisted cursor with what is unsent behind it.
Result<std::vector<CursorStats>> ReadCursorStats(sqlite3* db) {
  WEIR_ASSIGN_OR_RETURN(Stmt c, Stmt::Prepare(db,
                                              "SELECT name, lane, acked_seq FROM cursors "
                                              "ORDER BY name, lane"));
  WEIR_ASSIGN_OR_RETURN(Stmt u, Stmt::Prepare(db,
                                              "SELECT count(*), min(first_seq) FROM records "
                                              "WHERE lane = ?1 AND first_seq > ?2"));
  WEIR_ASSIGN_OR_RETURN(Stmt t,
                        Stmt::Prepare(db, "SELECT min_time_us FROM records WHERE first_seq = ?1"));
  std::vector<CursorStats> out;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(bool row, c.Step("reading cursors"));
    if (!row) break;
    CursorStats cs;
    cs.name = std::string(c.Text(0));
    cs.lane = static_cast<Lane>(c.Int(1));
    cs.acked_seq = static_cast<uint64_t>(c.Int(2));
    u.BindInt(1, c.Int(1));
    u.BindInt(2, c.Int(2));
    WEIR_ASSIGN_OR_RETURN(bool urow, u.Step("counting unsent"));
    if (urow) {
      cs.unsent_rows = static_cast<uint64_t>(u.Int(0));
      cs.oldest_unsent_seq = static_cast<uint64_t>(u.Int(1));
    }
    u.Reset();
    if (cs.oldest_unsent_seq != 0) {
      t.BindInt(1, static_cast<int64_t>(cs.oldest_unsent_seq));
      WEIR_ASSIGN_OR_RETURN(bool trow, t.Step("reading oldest unsent"));
      if (trow) cs.oldest_unsent_us = t.Int(0);
      t.Reset();
    }
    out.push_back(std::move(cs));
  }
  return out;
}

// Sizes on disk and bytes per kind, counted here (the writer also keeps running figures:
// Log::usage()).
Status AddSizes(sqlite3* db, const std::filesystem::path& path, LogStats& st) {
  WEIR_ASSIGN_OR_RETURN(const uint64_t used, UsedBytes(db));
  st.stored_bytes = FileBytes(path) + WalBytes(path);
  st.live_bytes = used + WalBytes(path);
  WEIR_RETURN_IF_ERROR(CountLaneBytes(db, st.usage));
  RecountSideTables(db, st.usage).IgnoreError();  // a log from before dead letters has no table
  st.usage.quarantine_files = QuarantineFileBytes(path);
  st.usage.pages_in_use = used;
  return Status::Ok();
}

}  // namespace

Result<LogStats> ComputeStats(sqlite3* db, const std::filesystem::path& path) {
  LogStats st;
  WEIR_RETURN_IF_ERROR(AddLaneStats(db, st));
  WEIR_RETURN_IF_ERROR(AddGapStats(db, st));
  WEIR_ASSIGN_OR_RETURN(int64_t quarantined, QueryInt(db, "SELECT count(*) FROM quarantine"));
  st.quarantined_rows = static_cast<uint64_t>(quarantined);
  WEIR_ASSIGN_OR_RETURN(int64_t next_seq, ReadMeta(db, "next_seq", 1));
  st.next_seq = static_cast<uint64_t>(next_seq);
  WEIR_ASSIGN_OR_RETURN(st.log_id, ReadLogId(db));
  WEIR_ASSIGN_OR_RETURN(st.evictions, ReadEvictionStats(db));
  WEIR_ASSIGN_OR_RETURN(st.cursors, ReadCursorStats(db));
  st.dead_letters = ComputeDeadLetterStats(db);
  WEIR_RETURN_IF_ERROR(AddSizes(db, path, st));
  return st;
}

}  // namespace weir::store::internal
