// Internal to agent/store: the schema, the row checksum, and the queries shared by the writer
// (Log) and the read-only connection (LogReader): row reads, cursor lookups and statistics.
// Not thread-safe; each function works on the connection it is given and may block on I/O.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "agent/codec/batch_codec.h"
#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/store/log.h"
#include "agent/store/sqlite_util.h"

namespace weir::store::internal {

inline constexpr int64_t kSchemaVersion = 1;

// Sequences stay far below INT64_MAX (they are stored as SQLite integers).
inline constexpr uint64_t kMaxSeq = uint64_t{1} << 62;

// Creates the tables and indexes when missing (FORMAT.md "Schema").
inline constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records(
  first_seq INTEGER PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  lane INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  count INTEGER NOT NULL,
  min_time_us INTEGER NOT NULL,
  max_time_us INTEGER NOT NULL,
  raw_bytes INTEGER NOT NULL,
  crc INTEGER NOT NULL,
  blob BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS records_by_lane ON records(lane, first_seq);
CREATE TABLE IF NOT EXISTS cursors(
  name TEXT NOT NULL,
  lane INTEGER NOT NULL,
  acked_seq INTEGER NOT NULL,
  PRIMARY KEY(name, lane)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine(
  id INTEGER PRIMARY KEY,
  first_seq INTEGER,
  last_seq INTEGER,
  lane INTEGER,
  kind INTEGER,
  count INTEGER,
  reason TEXT NOT NULL,
  at_us INTEGER NOT NULL,
  blob BLOB);
CREATE TABLE IF NOT EXISTS dead_letters(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time_us INTEGER NOT NULL,
  source TEXT NOT NULL,
  topic TEXT NOT NULL,
  reason_code TEXT NOT NULL,
  reason TEXT NOT NULL,
  payload_head BLOB NOT NULL,
  payload_bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letter_counts(
  reason_code TEXT PRIMARY KEY,
  count INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// The fixed columns of a records row; the checksum covers them and the blob.
struct RowHeader {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  Lane lane = Lane::kReadings;
  RecordKind kind = RecordKind::kReadings;
  uint64_t count = 0;
  TimeMicros min_time_us = 0;
  TimeMicros max_time_us = 0;
};

// The header's columns in RowHeader order, for SELECTs that read it with ReadRowHeader.
inline constexpr const char* kRowHeaderColumns =
    "first_seq, last_seq, lane, kind, count, min_time_us, max_time_us";
// The one place a row header is read: columns first_col .. first_col + 6 of the current row of
// `s`, in kRowHeaderColumns order. Damaged columns read as whatever SQLite converts them to.
RowHeader ReadRowHeader(const Stmt& s, int first_col = 0);
// Binds `h` to parameters first_param .. first_param + 6, in kRowHeaderColumns order.
void BindRowHeader(Stmt& s, int first_param, const RowHeader& h);

// CRC-32C (Castagnoli) over the header fields (8 bytes little-endian each) then the blob.
uint32_t RowChecksum(const RowHeader& h, std::string_view blob);

// Bytes a reading counts for in raw_bytes: 8 (time) + 8 (value) + 4 (quality) + sensor id.
inline uint64_t RawReadingBytes(const Reading& r) { return 20 + r.sensor.size(); }

// Defect <-> serialized weir.v1.Defect (agent/codec/defect_codec.h).
Result<std::string> EncodeDefect(const Defect& defect);
Result<Defect> DecodeDefect(std::string_view bytes);

// Reads rows matching `query` in sequence order, verifying each row's checksum (a mismatch or a
// decode failure marks the record damaged rather than failing the read).
Result<std::vector<StoredRecord>> ReadRows(sqlite3* db, const ReadQuery& query,
                                           codec::BatchDecoder& decoder);

// The persisted acked sequence of a cursor; 0 when unknown.
Result<uint64_t> ReadCursor(sqlite3* db, std::string_view name, Lane lane);

// A meta value; `fallback` when absent.
Result<int64_t> ReadMeta(sqlite3* db, std::string_view key, int64_t fallback);

// Writes one meta value with the prepared upsert `set_meta` (?1 key, ?2 value).
Status SetMeta(Stmt& set_meta, std::string_view key, int64_t value);

// The eviction counters as persisted in meta (0 for a missing key), and writing them back with
// `set_meta`. The keys are kEvictionCounters' names.
Result<EvictionStats> ReadEvictionStats(sqlite3* db);
Status WriteEvictionStats(Stmt& set_meta, const EvictionStats& evictions);

// The one definition of the database's size in pages: bytes of the pages in use
// ((page_count - freelist_count) * page_size; what the quota counts) and of the free pages.
struct PageBytes {
  uint64_t in_use = 0;
  uint64_t free = 0;
};
Result<PageBytes> ReadPageBytes(sqlite3* db);
// ReadPageBytes(db)->in_use.
Result<uint64_t> UsedBytes(sqlite3* db);

// Bytes of the database file plus its WAL (0 for a missing file).
uint64_t FileBytes(const std::filesystem::path& path);
uint64_t WalBytes(const std::filesystem::path& path);

// Dead letters with id > after_id, oldest first. Empty when the table does not exist (a log
// written before dead letters); DataLoss when it cannot be read.
Result<std::vector<StoredDeadLetter>> ReadDeadLetters(sqlite3* db, uint64_t after_id, size_t max);

// Dead-letter rows and counters; zeros when the tables are missing or unreadable (best effort,
// so that Stats works on a damaged table).
DeadLetterStats ComputeDeadLetterStats(sqlite3* db);

// The log id in meta; empty when there is none (a log from before log ids, or a new one).
Result<LogId> ReadLogId(sqlite3* db);

// Blob bytes per lane (UsageBytes::readings, defects): one pass over the rows' lengths.
Status CountLaneBytes(sqlite3* db, UsageBytes& usage);

Result<LogStats> ComputeStats(sqlite3* db, const std::filesystem::path& path);

}  // namespace weir::store::internal
