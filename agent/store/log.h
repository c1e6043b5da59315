// The on-device log: readings and defects in SQLite (WAL), with group commit, 64-bit sequences
// that are never reused, named cursors per lane, a byte quota with eviction to gap records, and
// quarantine of damaged data on open, and a dead-letter table for payloads weir refused. The
// file format is in agent/store/FORMAT.md.
//
// Two objects share one file:
//  - Log: the only writer. Owned and used by one thread (the store thread); not thread-safe.
//    Every method may block on disk I/O (an fsync per commit with synchronous=full).
//  - LogReader: a read-only connection for another thread (the forwarder, the CLI). One
//    LogReader per thread; not thread-safe itself, but safe to use concurrently with the Log.
//    Its cursor acks go back to the Log (the Log is the only SQLite writer).
// Fallible functions return Status/Result; nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/codec/batch_codec.h"
#include "agent/core/clock.h"
#include "agent/core/log_id.h"
#include "agent/core/record.h"
#include "agent/core/status.h"
#include "platform/files.h"

struct sqlite3;

namespace weir::store {
namespace internal {
struct LogState;
}  // namespace internal

// SQLite's `synchronous` pragma. kFull: a commit that returned survives a power cut (one fsync
// of the WAL per commit). kNormal: survives kill -9 and crashes of the agent, but the last
// commits before a power cut may be lost (the WAL is fsynced only at checkpoints).
enum class Synchronous : uint8_t { kFull = 0, kNormal = 1 };

// What happens when the log reaches its byte quota (see FORMAT.md "Quota and eviction").
enum class QuotaPolicy : uint8_t {
  kEvictOldest = 0,  // delete acked rows, then replace the oldest unsent rows by gap records
  kPauseIngest = 1,  // delete acked rows; otherwise Append returns ResourceExhausted
};

// Why the log holds writes back (FORMAT.md "Quota and eviction", "Disk space").
enum class StoreLimit : uint8_t {
  kNone = 0,
  kQuota = 1,        // pages in use reached quota_bytes (less the WAL allowance)
  kDiskReserve = 2,  // the filesystem's free space fell to min_free_bytes
  kDiskFull = 3,     // a write failed with ENOSPC / SQLITE_FULL; retried, never sticky
};
std::string_view StoreLimitName(StoreLimit limit);  // "none", "quota", "disk_reserve", "disk_full"

// Status::reason() of the store's errors, for callers that act on the kind of a failure:
// a kResourceExhausted Append/Commit names the limit that holds writes back (StoreLimitName:
// "quota", "disk_reserve" or "disk_full"); a statement that does not fit the file's schema (no
// such table or column) is kInternal with reason "schema_mismatch".
inline constexpr std::string_view kReasonSchemaMismatch = "schema_mismatch";

// LogOptions::min_free_bytes: this value means "choose from the filesystem's size"
// (ResolveMinFreeBytes). A one-byte reserve would be meaningless, so nothing is lost.
inline constexpr uint64_t kMinFreeAuto = 1;
// The automatic disk reserve: the larger of 64 MiB and 5 % of the filesystem, capped at 256 MiB
// (what an 8 GB SD card can spare) and at 10 % of the filesystem (a tiny filesystem would
// otherwise be all reserve). `setting` other than kMinFreeAuto is returned as is. Pure.
uint64_t ResolveMinFreeBytes(uint64_t setting, uint64_t filesystem_bytes);

// Reports the space on the filesystem holding a path; platform::GetFilesystemSpace in
// production, a fake in tests.
using FreeSpaceProbe = Result<platform::FilesystemSpace> (*)(const std::filesystem::path&);

struct LogOptions {
  // The SQLite file, e.g. /var/lib/weir/log.db. Its directory must exist. Quarantined files go
  // to <dir>/quarantine/<timestamp>/; the sequence high-water mark to <path>.seq.
  std::filesystem::path path;
  // Group commit: commit when this many records (readings + defects) are buffered. Also the
  // most readings stored in one chunk row.
  size_t commit_records = 1000;
  // Group commit: commit when this long has passed since the first buffered record.
  std::chrono::milliseconds commit_interval{50};  // = store.group_commit_interval_ms default
  Synchronous synchronous = Synchronous::kFull;
  // Byte quota on the file plus its WAL plus quarantined files; 0 means no quota.
  uint64_t quota_bytes = 0;
  QuotaPolicy quota_policy = QuotaPolicy::kEvictOldest;
  // The disk is a second quota: when the filesystem's available bytes (plus the file's free
  // pages) fall below this, the quota policy applies as if the quota were reached. 0 disables;
  // kMinFreeAuto picks it from the filesystem's size (ResolveMinFreeBytes).
  uint64_t min_free_bytes = 0;
  // Shares of quota_bytes that quarantined data (rows and files) and dead letters may use; each
  // is trimmed oldest first beyond its share. 0 keeps none (trimmed at once). No effect without
  // a quota.
  uint32_t quarantine_quota_percent = 10;
  uint32_t dead_letters_quota_percent = 5;
  // How the free space is read; null means platform::GetFilesystemSpace.
  FreeSpaceProbe free_space = nullptr;
  // Opening retries errors that can pass (I/O errors, no memory, busy, full) this many times,
  // waiting open_retry_initial, doubled each time (FORMAT.md "Recovery"); only damage quarantines.
  int open_retries = 5;
  std::chrono::milliseconds open_retry_initial{100};
  // The SQLite VFS to open the file with; empty for SQLite's default. A seam for fault tests
  // (agent/store/fault_vfs.h); production leaves it empty.
  std::string vfs;
  // Sequences are reserved in blocks of this size in the side file <path>.seq, so that a fresh
  // log after a whole-file quarantine continues above anything ever issued.
  uint64_t seq_reserve_block = uint64_t{1} << 24;
  // SQLite page size, used only when the file is created. Small pages pack chunk blobs tightly
  // (overflow pages are filled exactly); see FORMAT.md "Pragmas" for the measurements.
  uint32_t page_size = 512;
  // SQLite's page cache for this connection (its default is 2 MB, a tenth of the agent's memory
  // budget). Appends touch the b-tree's right edge and trims its left, so little is re-read
  // (FORMAT.md "Pragmas"); LogReader connections use kReaderCacheKib.
  uint32_t cache_kib = 512;
  // Verify every row's checksum on open (reads the whole file once).
  bool verify_rows_on_open = true;
  // Most dead letters kept; each commit deletes the oldest beyond this (the per-reason counters
  // keep counting). 0 keeps none, only the counters.
  uint64_t max_dead_letters = 10000;
};

enum class RecordKind : uint8_t {
  kReadings = 0,  // a chunk: readings first_seq..last_seq, one sequence each, in a codec blob
  kDefect = 1,    // one defect; first_seq == last_seq
  kGap = 2,       // records first_seq..last_seq of this lane are missing: see gap_reason
};

// One row of the log, as returned by reads.
struct StoredRecord {
  RecordKind kind = RecordKind::kReadings;
  Lane lane = Lane::kReadings;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  // Readings in a chunk; 1 for a defect; records evicted (readings or defects) for a gap.
  uint64_t count = 0;
  // Event-time range covered (for a gap: of what was evicted).
  TimeMicros min_time_us = 0;
  TimeMicros max_time_us = 0;
  // kReadings: the BatchEncoder blob as stored, for a forwarder that ships it unchanged.
  // kDefect: the serialized weir.v1.Defect. kGap: empty. Filled when ReadQuery::with_blob.
  std::string blob;
  // kReadings with ReadQuery::decode: reading i has sequence first_seq + i.
  std::vector<Reading> readings;
  // kDefect with ReadQuery::decode.
  std::optional<Defect> defect;
  // True when the row failed its checksum or could not be decoded; `readings`/`defect` are then
  // empty and the forwarder should send it upstream as a gap.
  bool damaged = false;
  // kGap: why the records are missing: kGapEvicted (the quota) or kGapDamaged (lost to damage
  // found on open). Empty for other kinds.
  std::string gap_reason;
};
inline constexpr std::string_view kGapEvicted = "evicted";
inline constexpr std::string_view kGapDamaged = "damaged";

// Selects rows in sequence order: lane (or both), sequence range, optional event-time overlap.
struct ReadQuery {
  std::optional<Lane> lane;
  // Rows holding any sequence above after_seq. A chunk that straddles it (after a partial ack)
  // is returned whole; the caller skips its readings at or below after_seq.
  uint64_t after_seq = 0;
  uint64_t to_seq = std::numeric_limits<uint64_t>::max();  // inclusive, on first_seq
  std::optional<TimeMicros> from_us;  // rows whose time range overlaps [from_us, to_us]
  std::optional<TimeMicros> to_us;
  size_t max_records = 1000;
  bool decode = true;     // fill readings / defect
  bool with_blob = true;  // fill blob
};

// What one group commit made durable. Sequences of one commit are contiguous.
struct CommitResult {
  uint64_t first_seq = 0;  // 0 when no sequenced record (reading, defect) was committed
  uint64_t last_seq = 0;
  uint64_t readings = 0;
  uint64_t defects = 0;
  uint64_t dead_letters = 0;  // dead letters this commit wrote (they take no sequence)
  // True when no sequence was committed: nothing new for the forwarder. A commit of dead letters
  // only is empty() with dead_letters > 0.
  bool empty() const { return first_seq == 0; }
};

// A payload weir refused, kept with its reason (FORMAT.md "Dead letters").
struct DeadLetter {
  TimeMicros time_us = 0;  // when it was refused (wall clock)
  // "ingest" (a local payload) or "upstream" (a message the upstream refused).
  std::string source;
  std::string topic;
  std::string reason_code;  // short, stable, counted: "malformed", "too_large", "rejected", ...
  std::string reason;       // the full human-readable message
  // The first bytes of the payload; AppendDeadLetter truncates to kDeadLetterHeadBytes unless
  // keep_whole_payload. Holds the whole payload when its size equals payload_bytes.
  std::string payload_head;
  uint64_t payload_bytes = 0;  // the payload's full size
  // Keep the whole payload, not only its head: set for messages the upstream refused for good,
  // which are records weir had promised to deliver (FORMAT.md "Dead letters"). Not stored as
  // such; reads tell by payload_head.size() == payload_bytes.
  bool keep_whole_payload = false;
};
inline constexpr size_t kDeadLetterHeadBytes = 256;

struct StoredDeadLetter {
  uint64_t id = 0;  // increasing, never reused (also after trimming)
  DeadLetter letter;
};

struct DeadLetterStats {
  uint64_t rows = 0;                          // kept in the table now
  uint64_t total = 0;                         // ever appended (survives trimming)
  std::map<std::string, uint64_t> by_reason;  // ever appended, per reason_code
};

// What Open found and did. Opening never fails because the file is damaged; this says what was
// set aside.
struct RecoveryReport {
  bool created = false;                  // no log existed; a fresh one was made
  bool integrity_ok = true;              // quick_check and row verification found nothing
  bool file_quarantined = false;         // the whole file was unusable and moved aside
  std::filesystem::path quarantine_dir;  // where the file went (when file_quarantined)
  uint64_t rows_salvaged = 0;            // rows copied from a quarantined file into the fresh log
  uint64_t rows_quarantined = 0;         // damaged rows moved to the quarantine table this open
  uint64_t readings_quarantined = 0;
  // Gap records with reason kGapDamaged written this open (rows that failed verification or
  // salvage, ranges a quarantined file held that could not be read), and the sequences they span.
  uint64_t damaged_gaps = 0;
  uint64_t damaged_sequences = 0;
  // Errors that can pass (I/O, no memory, busy, full) met while opening and retried.
  uint64_t transient_retries = 0;
  std::string last_transient_error;
  // The open could not write (a full disk): the log is open for reading and forwarding, and
  // writes wait for space (limit kDiskFull).
  bool opened_without_space = false;
  std::vector<std::string> notes;  // human-readable, one line each
};

// Eviction counters (persisted; cumulative over the log's life).
struct EvictionStats {
  uint64_t acked_rows_deleted = 0;
  uint64_t rows_evicted = 0;  // unsent rows replaced by gaps
  uint64_t readings_evicted = 0;
  uint64_t defects_evicted = 0;
  uint64_t bytes_evicted = 0;  // blob bytes
  // Trimmed beyond their share of the quota (quarantine_quota_percent, dead_letters_...):
  uint64_t quarantine_rows_trimmed = 0;
  uint64_t quarantine_files_trimmed = 0;  // whole quarantined logs (directories) removed
  uint64_t quarantine_bytes_trimmed = 0;
  uint64_t dead_letters_trimmed = 0;  // beyond the byte share (the count cap is not counted)
  uint64_t dead_letter_bytes_trimmed = 0;
  bool operator==(const EvictionStats&) const = default;
};
// Every EvictionStats counter with its one name: its meta key in the log (FORMAT.md "Schema") and
// its key in status and stats JSON. A new counter is added to the struct and here.
struct EvictionCounter {
  std::string_view name;
  uint64_t EvictionStats::*field;
};
inline constexpr EvictionCounter kEvictionCounters[] = {
    {"acked_rows_deleted", &EvictionStats::acked_rows_deleted},
    {"rows_evicted", &EvictionStats::rows_evicted},
    {"readings_evicted", &EvictionStats::readings_evicted},
    {"defects_evicted", &EvictionStats::defects_evicted},
    {"bytes_evicted", &EvictionStats::bytes_evicted},
    {"quarantine_rows_trimmed", &EvictionStats::quarantine_rows_trimmed},
    {"quarantine_files_trimmed", &EvictionStats::quarantine_files_trimmed},
    {"quarantine_bytes_trimmed", &EvictionStats::quarantine_bytes_trimmed},
    {"dead_letters_trimmed", &EvictionStats::dead_letters_trimmed},
    {"dead_letter_bytes_trimmed", &EvictionStats::dead_letter_bytes_trimmed},
};

// Bytes per kind of data the quota counts (FORMAT.md "Quota and eviction").
struct UsageBytes {
  uint64_t readings = 0;          // readings chunk blobs
  uint64_t defects = 0;           // defect blobs
  uint64_t dead_letters = 0;      // dead-letter rows (payload head, topic, reason + ~48)
  uint64_t quarantine_rows = 0;   // rows in the quarantine table
  uint64_t quarantine_files = 0;  // whole quarantined logs under <dir>/quarantine/
  uint64_t pages_in_use = 0;      // what the database's pages hold (all of the above but files)
  uint64_t quota_counted = 0;     // pages in use + WAL allowance + quarantine files
  uint64_t filesystem_available = 0;
  uint64_t min_free_bytes = 0;  // the resolved reserve (0: none)
};

struct LaneStats {
  uint64_t rows = 0;
  uint64_t chunks = 0;
  uint64_t defects = 0;
  uint64_t gaps = 0;
  uint64_t readings = 0;     // readings held in chunks
  uint64_t gap_records = 0;  // records announced missing by gaps
  uint64_t first_seq = 0;    // 0 when the lane is empty
  uint64_t last_seq = 0;
  TimeMicros oldest_us = 0;
  TimeMicros newest_us = 0;
};

struct CursorStats {
  std::string name;
  Lane lane = Lane::kReadings;
  uint64_t acked_seq = 0;
  uint64_t unsent_rows = 0;
  uint64_t oldest_unsent_seq = 0;  // 0 when nothing is unsent
  TimeMicros oldest_unsent_us = 0;
};

struct LogStats {
  // The log's identity (FORMAT.md "Log id"); empty for a log written before log ids that no
  // writer has opened since.
  LogId log_id;
  LaneStats readings;
  LaneStats defects;
  uint64_t stored_bytes = 0;     // file + WAL size on disk
  uint64_t live_bytes = 0;       // used pages + WAL (what the quota counts)
  uint64_t raw_bytes = 0;        // readings at 20 bytes + sensor id length each (FORMAT.md)
  uint64_t encoded_bytes = 0;    // chunk blob bytes
  double compression_ratio = 0;  // raw_bytes / encoded_bytes
  uint64_t quarantined_rows = 0;
  uint64_t next_seq = 0;  // the next sequence the writer will assign
  std::vector<CursorStats> cursors;
  EvictionStats evictions;
  // Best effort: zeros for a log from before dead letters, or when their tables cannot be read.
  DeadLetterStats dead_letters;
  // Gap rows by reason, and the records they announce (both lanes).
  uint64_t evicted_gaps = 0;
  uint64_t evicted_gap_records = 0;
  uint64_t damaged_gaps = 0;
  uint64_t damaged_gap_records = 0;
  UsageBytes usage;  // per kind; the writer's figures (a LogReader fills what it can read)
};

// The writer. See the file comment for thread-safety.
class Log {
 public:
  // Opens or creates the log at options.path, recovering from damage (see RecoveryReport).
  // Fails only for reasons other than damage: bad options, the directory missing or not
  // writable, an error that can pass (I/O, no memory, busy, full) that outlasted the retries
  // (open_retries; this blocks up to ~3 s), or AlreadyExists while another Log (any process)
  // has the file open: a Log holds an exclusive lock on <path>.lock for its lifetime. An
  // existing log opens on a full disk (limit() kDiskFull). `clock` must outlive the Log. Blocks on
  // disk I/O (reads the whole file once when verify_rows_on_open).
  static Result<std::unique_ptr<Log>> Open(const LogOptions& options, const Clock& clock);

  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  const RecoveryReport& recovery() const;
  const LogOptions& options() const;

  // Buffers readings (copied). Commits when commit_records records are buffered; the result
  // says what that commit made durable (empty when nothing was committed, also when the commit
  // found the disk full: the records stay buffered). Returns ResourceExhausted, without
  // buffering, while limit() holds writes back (the quota or the disk reserve under
  // kPauseIngest, or under kEvictOldest with nothing left to evict; a full disk while a group
  // waits to be committed), FailedPrecondition after a write error (sticky until reopened), or
  // the commit's error.
  Result<CommitResult> Append(std::span<const Reading> readings);
  // Buffers one defect; same rules as Append.
  Result<CommitResult> AppendDefect(const Defect& defect);
  // Buffers a dead letter (copied, payload_head truncated to kDeadLetterHeadBytes unless
  // letter.keep_whole_payload). It is written by the next commit (Commit, CommitIfDue, or one an
  // Append triggers), in the same transaction as the readings; it counts toward
  // buffered_records() and NextCommitDeadline(). Never commits by itself (so no CommitResult is
  // lost) and never refused for the quota: only the sticky write error refuses it
  // (FailedPrecondition).
  Status AppendDeadLetter(const DeadLetter& letter);

  // The intake journal's mark (intake_journal.h): the messages numbered up to `mark` are in the
  // log once what is buffered now is committed. The next commit writes it (meta `intake_mark`)
  // in the same transaction as the records, so after a crash the log holds exactly the messages
  // up to committed_intake_mark(). Not monotonic: the store thread sets it just before an Append
  // that may commit, and sets it back if the Append is refused. Never refused itself.
  void SetIntakeMark(uint64_t mark);
  uint64_t intake_mark() const;
  // The mark as of the last commit (or as read at Open; 0 for a new log).
  uint64_t committed_intake_mark() const;

  // Commits when the commit interval has passed since the first buffered record (or pending
  // acks are due); otherwise returns an empty result.
  Result<CommitResult> CommitIfDue();
  // Commits everything buffered (and pending acks) now, in one transaction. ResourceExhausted
  // (not sticky) when the disk is full: everything stays buffered for the next try.
  Result<CommitResult> Commit();
  // How long after a commit found the disk full CommitIfDue tries again.
  static constexpr std::chrono::milliseconds kDiskFullRetry{250};
  // When CommitIfDue will next commit; nullopt when nothing is buffered.
  std::optional<Clock::TimePoint> NextCommitDeadline() const;
  size_t buffered_records() const;

  // Moves cursor (name, lane) forward to `seq`, creating it if needed. `seq` must be a
  // committed sequence (OutOfRange otherwise); an ack at or behind the cursor is a no-op.
  // Persisted with the next commit (acks alone are committed by CommitIfDue after the commit
  // interval); a lost ack only causes duplicates upstream.
  Status Ack(std::string_view cursor, Lane lane, uint64_t seq);
  // The cursor's acked sequence (including pending acks); 0 for a new cursor.
  uint64_t CursorPosition(std::string_view cursor, Lane lane) const;
  // Removes a cursor so it no longer holds data back from eviction of acked rows.
  Status DeleteCursor(std::string_view cursor, Lane lane);

  // Reads committed rows in sequence order.
  Result<std::vector<StoredRecord>> Read(const ReadQuery& query);
  Result<std::vector<StoredRecord>> Read(Lane lane, uint64_t after_seq, size_t max_records);
  // Committed dead letters with id > after_id, oldest first, at most `max`. DataLoss when the
  // table is damaged.
  Result<std::vector<StoredDeadLetter>> ReadDeadLetters(uint64_t after_id, size_t max);

  Result<LogStats> Stats();

  uint64_t last_committed_seq() const;
  // The log's random 128-bit identity, made when the log was created (or at the first open of a
  // log written before log ids); never empty once Open returned. FORMAT.md "Log id".
  const LogId& log_id() const;
  // OK, or the write error that made the log refuse writes until reopened. A full disk is not
  // sticky: the commit is rolled back, what was buffered stays buffered, limit() says kDiskFull
  // and the next commit tries again.
  const Status& sticky_error() const;
  const EvictionStats& evictions() const;
  // Why writes are held back now (kNone when they are not).
  StoreLimit limit() const;
  // Bytes per kind, as of the last quota check (every commit). Cheap.
  const UsageBytes& usage() const;

 private:
  Log(const LogOptions& options, const Clock& clock);
  Result<CommitResult> CommitIfFull();
  Status HeldBackError() const;

  // Everything the writer knows; its pieces (log_open.h, log_commit.h) work on it.
  std::unique_ptr<internal::LogState> s_;
};

// A read-only connection for the forwarder or the CLI. See the file comment.
class LogReader {
 public:
  // Its SQLite page cache: reads walk forward over chunk rows once, so little is re-read.
  static constexpr uint32_t kReaderCacheKib = 256;

  // Opens an existing log read-only. Does not recover: NotFound when absent, DataLoss when the
  // file is not a readable log (open it with Log::Open to recover). Blocks briefly.
  static Result<std::unique_ptr<LogReader>> Open(const std::filesystem::path& path);

  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  Result<std::vector<StoredRecord>> Read(const ReadQuery& query);
  Result<std::vector<StoredRecord>> Read(Lane lane, uint64_t after_seq, size_t max_records);
  // The cursor's persisted acked sequence; 0 for an unknown cursor.
  Result<uint64_t> CursorPosition(std::string_view cursor, Lane lane);
  // As Log::ReadDeadLetters; empty for a log written before dead letters existed.
  Result<std::vector<StoredDeadLetter>> ReadDeadLetters(uint64_t after_id, size_t max);
  Result<LogStats> Stats();

 private:
  explicit LogReader(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  codec::BatchDecoder decoder_;  // one zstd context for every Read, not one per call
};

std::string_view RecordKindName(RecordKind kind);
std::string_view LaneName(Lane lane);

}  // namespace weir::store
