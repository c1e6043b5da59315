// IntakeJournal: every message from the local broker, on disk before weir does anything else
// with it, so that a kill -9 loses nothing weir acknowledged (DESIGN.md guarantee 6).
//
// Why: Paho acknowledges an inbound QoS 1 message to the local broker before our callback runs,
// so the broker forgets it at once; the log makes it durable only at the next group commit. The
// journal closes that window: the callback appends the raw message (topic, payload, arrival
// time) with one write(2) and no fsync. A write that returned is in the kernel's page cache and
// survives the death of the process; a power cut may still lose the unsynced tail, which is the
// log's stated power-cut window (store.group_commit_interval_ms). The log records, in the same
// transaction as the readings, the highest intake number it holds (Log::SetIntakeMark); at start
// the entries above that mark are parsed again and committed, and segments wholly at or below it
// are deleted.
//
// The journal is also where messages wait when the ingest queue's memory budget is spent: the
// queue then holds only the numbers, and the store thread reads the entries back (ReadAfter).
//
// Format (FORMAT.md "Intake journal"): segment files <dir>/<first number, 20 digits>.journal,
// each a run of entries with consecutive numbers:
//   u32 body_len | u32 crc32c(body) | body = u64 number | i64 wall_us | u32 topic_len | topic |
//   payload                                       (all integers little-endian)
// A short or mismatching entry ends its segment (a torn tail after a crash); entries after it in
// that segment are not read, which is counted in damaged_segments().
//
// Threads: Append is called by one writer thread (the MQTT callback); ReadAfter by one reader
// thread (the store thread); Release and the accessors from any thread. They may run
// concurrently. Blocks on file I/O (Append: one write; rotation: an open and a close).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::store {

// One message as it arrived from the local broker.
struct IntakeEntry {
  uint64_t number = 0;     // increasing by one per message, never reused within a journal
  TimeMicros wall_us = 0;  // arrival (wall clock): the "now" its payload is judged against
  std::string topic;
  std::string payload;
};

struct IntakeJournalOptions {
  std::filesystem::path dir;  // e.g. /var/lib/weir/intake; created if missing
  // A segment is closed and a new one started past this size. Release deletes whole segments,
  // so this is also roughly how much committed data the journal keeps on disk.
  uint64_t segment_bytes = uint64_t{4} << 20;
};

struct IntakeJournalStats {
  uint64_t segments = 0;
  uint64_t bytes = 0;             // all segment files
  uint64_t appended = 0;          // entries appended since Open
  uint64_t append_errors = 0;     // Append calls that failed (the caller kept the message)
  uint64_t damaged_segments = 0;  // segments whose tail was unreadable when read
  uint64_t first_number = 0;      // oldest entry still on disk (0: none)
  uint64_t last_number = 0;       // newest entry (0: none ever)
};

class IntakeJournal {
 public:
  // Opens or creates the journal in options.dir and finds its last intact entry. New numbers
  // continue above both that entry and `committed_mark` (the log's intake mark): after a power
  // cut the journal's tail may be shorter than what the log already holds, and a number at or
  // below the mark would never be replayed. Fails with IoError when the directory cannot be
  // created or read; a segment that cannot be created yet (a full disk) is not a failure: the
  // journal's content can still be read, and Append retries.
  static Result<std::unique_ptr<IntakeJournal>> Open(const IntakeJournalOptions& options,
                                                     uint64_t committed_mark);
  ~IntakeJournal();
  IntakeJournal(const IntakeJournal&) = delete;
  IntakeJournal& operator=(const IntakeJournal&) = delete;

  // Appends one message with one write(2); returns its number. On failure (disk full, I/O
  // error) nothing is appended, no number is used, and the caller keeps the message some other
  // way. Writer thread only.
  Result<uint64_t> Append(std::string_view topic, std::string_view payload, TimeMicros wall_us);

  // Up to `max_entries` entries (and about `max_bytes` of payload) with numbers in
  // (after, upto], in order. Stops early at a damaged entry: the numbers it skips are reported
  // by the next call's first entry being above after + 1 (the caller counts the hole). Reader
  // thread only.
  Result<std::vector<IntakeEntry>> ReadAfter(uint64_t after, uint64_t upto, size_t max_entries,
                                             size_t max_bytes);

  // Deletes the segments whose entries all have numbers <= `mark` (the log has committed them).
  // Never deletes the segment being written. Errors are logged, not returned: a segment left
  // behind costs only disk space (its numbers are at or below the mark, so it is never replayed)
  // and is retried at the next call.
  void Release(uint64_t mark);

  // The newest number appended (or found at open); entries up to it can be read.
  uint64_t last_number() const { return last_number_.load(std::memory_order_acquire); }
  // The number the next Append will use.
  uint64_t next_number() const { return last_number() + 1; }
  IntakeJournalStats Stats() const;
  const std::filesystem::path& dir() const { return options_.dir; }

 private:
  explicit IntakeJournal(const IntakeJournalOptions& options) : options_(options) {}
  Status Scan(uint64_t committed_mark);
  Status StartSegment(uint64_t first_number);
  std::filesystem::path SegmentPath(uint64_t first_number) const;
  // ReadAfter's steps (reader thread): read entries numbered `want`.. of the open segment into
  // `out` within the limits (true when the segment ended or is damaged there, false when a limit
  // was reached); the first number of the segment after `first` (0 for none).
  bool ReadSegment(uint64_t& want, uint64_t upto, size_t max_entries, size_t max_bytes,
                   size_t& bytes, std::vector<IntakeEntry>& out, bool& damaged);
  uint64_t SegmentAfter(uint64_t first) const;

  const IntakeJournalOptions options_;
  mutable std::mutex mu_;  // guards segments_, and the writer's fd_ while rotating
  // first number -> size in bytes, of every segment on disk (the last one is being written).
  std::map<uint64_t, uint64_t> segments_;
  int fd_ = -1;                            // the segment being written (writer thread)
  uint64_t segment_first_ = 0;             // its first number
  std::atomic<uint64_t> segment_size_{0};  // its size (written by the writer thread)
  std::atomic<uint64_t> last_number_{0};
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> append_errors_{0};
  std::atomic<uint64_t> damaged_segments_{0};
  std::string scratch_;  // the writer's entry header buffer

  // Reader state (reader thread only): an open segment and where the next entry starts.
  int read_fd_ = -1;
  uint64_t read_segment_ = 0;  // first number of the open segment
  uint64_t read_next_ = 0;     // number of the entry at read_offset_
  uint64_t read_offset_ = 0;
};

}  // namespace weir::store
