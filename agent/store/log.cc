// Log, the writer (see log.h): the public entry points — buffering appends, acks, reads and
// stats — over the writer's state (log_state.h). Opening and recovery are in log_open.cc, group
// commit in log_commit.cc, quota enforcement in log_quota.cc, the recovery steps in
// log_recovery.cc, and the read-only LogReader in log_reader.cc.
#include "agent/store/log.h"

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <system_error>
#include <utility>

#include "agent/store/log_commit.h"
#include "agent/store/log_open.h"
#include "agent/store/log_recovery.h"
#include "agent/store/log_rows.h"
#include "agent/store/log_state.h"
#include "agent/store/sqlite_util.h"

namespace weir::store {

using internal::CursorKey;
using internal::SeqFilePath;
using internal::Stmt;
using internal::WriteSeqFile;
namespace fs = std::filesystem;

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

Log::Log(const LogOptions& options, const Clock& clock)
    : s_(std::make_unique<internal::LogState>(options, clock)) {}

Log::~Log() {
  s_->pending.reset();  // finalizes the statements before the connection closes
  if (s_->db == nullptr) return;
  // Closing checkpoints the WAL; after a clean close the reservation can shrink back to the
  // next sequence, so a clean restart continues without a jump.
  const bool clean = sqlite3_close_v2(s_->db) == SQLITE_OK && s_->sticky.ok();
  if (clean && s_->next_seq < s_->seq_reserved) {
    WriteSeqFile(SeqFilePath(s_->options.path), s_->next_seq).IgnoreError();
  }
}  // the writer lock (s_->lock) is released last, after the file is closed

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
  WEIR_ASSIGN_OR_RETURN(log->s_->lock,
                        platform::InstanceLock::AcquireFile(
                            options.path.string() + ".lock",
                            "log " + options.path.string() + " is open by another writer"));
  Status st = internal::OpenWithRetries(*log->s_);
  if (!st.ok()) return st.WithContext("opening log " + options.path.string());
  if (!log->s_->sticky.ok()) return log->s_->sticky.WithContext("opening log");
  return log;
}

Result<CommitResult> Log::Append(std::span<const Reading> readings) {
  WEIR_RETURN_IF_ERROR(s_->RefuseIfFailed());
  if (internal::HeldBack(*s_)) return HeldBackError();
  if (readings.empty()) return CommitResult{};
  s_->pending->readings.insert(s_->pending->readings.end(), readings.begin(), readings.end());
  s_->buffered_records += readings.size();
  if (!s_->first_buffered_at) s_->first_buffered_at = s_->clock.Now();
  return CommitIfFull();
}

Result<CommitResult> Log::AppendDefect(const Defect& defect) {
  WEIR_RETURN_IF_ERROR(s_->RefuseIfFailed());
  if (internal::HeldBack(*s_)) return HeldBackError();
  WEIR_ASSIGN_OR_RETURN(std::string bytes, internal::EncodeDefect(defect));
  s_->pending->defects.push_back(std::move(bytes));
  s_->pending->defect_times.emplace_back(std::min(defect.window_start_us, defect.window_end_us),
                                         std::max(defect.window_end_us, defect.window_start_us));
  ++s_->buffered_records;
  if (!s_->first_buffered_at) s_->first_buffered_at = s_->clock.Now();
  return CommitIfFull();
}

// The group is full: commit. When the disk is full the records stay buffered (they were
// accepted) and the caller sees an empty result; limit() says why the next Append is refused.
Result<CommitResult> Log::CommitIfFull() {
  if (s_->buffered_records < s_->options.commit_records) return CommitResult{};
  auto r = Commit();
  if (!r.ok() && r.status().code() == StatusCode::kResourceExhausted && s_->sticky.ok()) {
    return CommitResult{};
  }
  return r;
}

Status Log::HeldBackError() const {
  return ResourceExhausted(std::string("log holds writes back (") +
                           std::string(StoreLimitName(s_->limit)) + "); ingest paused")
      .WithReason(StoreLimitName(s_->limit));
}

Status Log::AppendDeadLetter(const DeadLetter& letter) {
  WEIR_RETURN_IF_ERROR(s_->RefuseIfFailed());
  DeadLetter& d = s_->pending->dead_letters.emplace_back(letter);
  if (!d.keep_whole_payload && d.payload_head.size() > kDeadLetterHeadBytes) {
    d.payload_head.resize(kDeadLetterHeadBytes);
  }
  ++s_->buffered_records;
  if (!s_->first_buffered_at) s_->first_buffered_at = s_->clock.Now();
  return Status::Ok();
}

std::optional<Clock::TimePoint> Log::NextCommitDeadline() const {
  std::optional<Clock::TimePoint> due;
  if (s_->first_buffered_at) due = *s_->first_buffered_at + s_->options.commit_interval;
  if (s_->pending->acks_since) {
    auto ack_due = *s_->pending->acks_since + s_->options.commit_interval;
    due = due ? std::min(*due, ack_due) : ack_due;
  }
  // After a commit found the disk full, the next try waits a little (not a busy loop).
  if (due && s_->limit == StoreLimit::kDiskFull) {
    due = std::max(*due, s_->disk_full_at + kDiskFullRetry);
  }
  return due;
}

Result<CommitResult> Log::CommitIfDue() {
  auto due = NextCommitDeadline();
  if (!due || s_->clock.Now() < *due) return CommitResult{};
  return Commit();
}

Result<CommitResult> Log::Commit() { return internal::CommitBuffered(*s_); }

Status Log::Ack(std::string_view cursor, Lane lane, uint64_t seq) {
  WEIR_RETURN_IF_ERROR(s_->RefuseIfFailed());
  if (cursor.empty()) return InvalidArgument("cursor name is empty");
  if (seq > last_committed_seq()) {
    return OutOfRange("ack of sequence " + std::to_string(seq) + " beyond the last committed " +
                      std::to_string(last_committed_seq()));
  }
  CursorKey key{std::string(cursor), lane};
  auto [it, inserted] = s_->pending->cursors.try_emplace(key, 0);
  if (!inserted && seq <= it->second) return Status::Ok();  // behind or at: a repeat, no-op
  it->second = std::max(it->second, seq);
  s_->pending->dirty.insert(std::move(key));
  if (!s_->pending->acks_since) s_->pending->acks_since = s_->clock.Now();
  return Status::Ok();
}

uint64_t Log::CursorPosition(std::string_view cursor, Lane lane) const {
  auto it = s_->pending->cursors.find({std::string(cursor), lane});
  return it == s_->pending->cursors.end() ? 0 : it->second;
}

Status Log::DeleteCursor(std::string_view cursor, Lane lane) {
  WEIR_RETURN_IF_ERROR(s_->RefuseIfFailed());
  CursorKey key{std::string(cursor), lane};
  s_->pending->cursors.erase(key);
  s_->pending->dirty.erase(key);
  WEIR_ASSIGN_OR_RETURN(Stmt s,
                        Stmt::Prepare(s_->db, "DELETE FROM cursors WHERE name = ?1 AND lane = ?2"));
  s.BindText(1, cursor);
  s.BindInt(2, static_cast<int64_t>(lane));
  Status st = s.Run("deleting a cursor");
  if (!st.ok()) s_->sticky = st;
  return st;
}

Result<std::vector<StoredRecord>> Log::Read(const ReadQuery& query) {
  return internal::ReadRows(s_->db, query, s_->pending->decoder);
}

Result<std::vector<StoredRecord>> Log::Read(Lane lane, uint64_t after_seq, size_t max_records) {
  ReadQuery q;
  q.lane = lane;
  q.after_seq = after_seq;
  q.max_records = max_records;
  return Read(q);
}

Result<std::vector<StoredDeadLetter>> Log::ReadDeadLetters(uint64_t after_id, size_t max) {
  return internal::ReadDeadLetters(s_->db, after_id, max);
}

Result<LogStats> Log::Stats() {
  WEIR_ASSIGN_OR_RETURN(LogStats st, internal::ComputeStats(s_->db, s_->options.path));
  st.next_seq = s_->next_seq;
  st.usage.quota_counted = s_->usage.quota_counted;
  st.usage.filesystem_available = s_->usage.filesystem_available;
  st.usage.min_free_bytes = s_->usage.min_free_bytes;
  for (CursorStats& c : st.cursors) c.acked_seq = CursorPosition(c.name, c.lane);
  return st;
}

const RecoveryReport& Log::recovery() const { return s_->recovery; }
const LogOptions& Log::options() const { return s_->options; }
void Log::SetIntakeMark(uint64_t mark) { s_->intake_mark = mark; }
uint64_t Log::intake_mark() const { return s_->intake_mark; }
uint64_t Log::committed_intake_mark() const { return s_->committed_intake_mark; }
size_t Log::buffered_records() const { return s_->buffered_records; }
uint64_t Log::last_committed_seq() const { return s_->next_seq - 1; }
const LogId& Log::log_id() const { return s_->log_id; }
const Status& Log::sticky_error() const { return s_->sticky; }
const EvictionStats& Log::evictions() const { return s_->evictions; }
StoreLimit Log::limit() const { return s_->limit; }
const UsageBytes& Log::usage() const { return s_->usage; }

}  // namespace weir::store