// Group commit: see log_commit.h.
#include "agent/store/log_commit.h"

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/store/log_quota.h"
#include "agent/store/log_recovery.h"
#include "agent/store/log_rows.h"
#include "agent/store/sqlite_util.h"

namespace weir::store::internal {

Status LogState::RefuseIfFailed() const {
  if (sticky.ok()) return Status::Ok();
  return FailedPrecondition("log refuses writes after an earlier error: " + sticky.ToString());
}

Status WriteLogIdIfUnsaved(LogState& st) {
  if (!st.log_id_unsaved) return Status::Ok();
  WEIR_RETURN_IF_ERROR(SetMeta(st, "log_id_hi", static_cast<int64_t>(st.log_id.hi)));
  return SetMeta(st, "log_id_lo", static_cast<int64_t>(st.log_id.lo));
}

Status SetMeta(LogState& st, std::string_view key, int64_t value) {
  return SetMeta(st.pending->set_meta, key, value);
}

namespace {

Status NoSpace(LogState& st, Status error);

// Inside the commit's transaction: the buffered dead letters, their counters, then the trim.
Status WriteDeadLetters(LogState& st) {
  PendingWrites& p = *st.pending;
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
      1, static_cast<int64_t>(std::min<uint64_t>(st.options.max_dead_letters, INT64_MAX)));
  return p.trim_dead_letters.Run("trimming dead letters");
}

Status InsertRow(LogState& st, const RowHeader& h, uint64_t raw_bytes, std::string_view blob) {
  Stmt& s = st.pending->insert_row;
  internal::BindRowHeader(s, 1, h);
  s.BindInt(8, static_cast<int64_t>(raw_bytes));
  s.BindInt(9, RowChecksum(h, blob));
  s.BindBlobStatic(10, blob);
  return s.Run("inserting a record");
}

// A write found no space (SQLITE_FULL, ENOSPC). Unlike a failed fsync this leaves nothing in
// doubt: the transaction was rolled back and the file is as it was, so the error is not sticky.
// What was buffered stays buffered and the next commit tries again (FORMAT.md "Disk space").
Status NoSpace(LogState& st, Status error) {
  st.limit = StoreLimit::kDiskFull;
  st.disk_full_at = st.clock.Now();
  return error;
}

void ClearBuffered(LogState& st) {
  PendingWrites& p = *st.pending;
  p.readings.clear();
  p.readings_raw_bytes = 0;
  p.defects.clear();
  p.defect_times.clear();
  p.dead_letters.clear();
  p.dirty.clear();
  p.acks_since.reset();
  st.buffered_records = 0;
  st.first_buffered_at.reset();
}

// Before a commit issues sequences up to `last`: raises the reservation in the side file when
// `last` reaches it, so a fresh log after quarantine can continue above (FORMAT.md "Sequences").
Status ReserveSequences(LogState& st, uint64_t last) {
  if (last >= kMaxSeq) return OutOfRange("sequence space exhausted");
  if (last + 1 <= st.seq_reserved) return Status::Ok();
  const uint64_t reserve = last + 1 + st.options.seq_reserve_block;
  WEIR_RETURN_IF_ERROR(
      WriteSeqFile(SeqFilePath(st.options.path), reserve).WithContext("reserving sequences"));
  st.seq_reserved = reserve;
  return Status::Ok();
}

// Inside the commit's transaction: the buffered defects, then the readings chunks (`blobs`, one
// per commit_records readings), with sequences from `first` on.
Status InsertRows(LogState& st, uint64_t first, const std::vector<std::string>& blobs) {
  PendingWrites& p = *st.pending;
  uint64_t seq = first;
  for (size_t i = 0; i < p.defects.size(); ++i, ++seq) {
    const RowHeader h{seq,
                      seq,
                      Lane::kDefects,
                      RecordKind::kDefect,
                      1,
                      p.defect_times[i].first,
                      p.defect_times[i].second};
    WEIR_RETURN_IF_ERROR(InsertRow(st, h, 0, p.defects[i]));
  }
  const size_t n = p.readings.size();
  const size_t chunk = st.options.commit_records;
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
    WEIR_RETURN_IF_ERROR(InsertRow(st, h, raw, blobs[c]));
    seq = h.last_seq + 1;
  }
  return Status::Ok();
}

// Inside the commit's transaction: meta (next sequence, intake mark, log id), the dead letters
// and the cursors acked since the last commit.
Status WriteCommitMeta(LogState& st, uint64_t next_seq) {
  PendingWrites& p = *st.pending;
  // next_seq also when nothing was issued: an open on a full disk may have left it unwritten.
  WEIR_RETURN_IF_ERROR(SetMeta(st, "next_seq", static_cast<int64_t>(next_seq)));
  if (st.intake_mark != st.committed_intake_mark) {
    WEIR_RETURN_IF_ERROR(SetMeta(st, "intake_mark", static_cast<int64_t>(st.intake_mark)));
  }
  WEIR_RETURN_IF_ERROR(WriteLogIdIfUnsaved(st));
  WEIR_RETURN_IF_ERROR(WriteDeadLetters(st));
  for (const CursorKey& key : p.dirty) {
    p.upsert_cursor.BindText(1, key.first);
    p.upsert_cursor.BindInt(2, static_cast<int64_t>(key.second));
    p.upsert_cursor.BindInt(3, static_cast<int64_t>(p.cursors[key]));
    WEIR_RETURN_IF_ERROR(p.upsert_cursor.Run("persisting a cursor"));
  }
  return Status::Ok();
}

// Reserves sequences and writes the buffered rows, dead letters and acks in one transaction.
// On error the transaction is rolled back (Fail) and nothing buffered is cleared.
Result<CommitResult> WriteCommit(LogState& st, const std::vector<std::string>& blobs) {
  const PendingWrites& p = *st.pending;
  const uint64_t total = p.defects.size() + p.readings.size();
  const uint64_t first = st.next_seq;
  const uint64_t last = first + total - 1;
  CommitResult result;
  if (total > 0) {
    if (Status s = ReserveSequences(st, last); !s.ok()) return Fail(st, s);
    result = {first, last, p.readings.size(), p.defects.size()};
  }
  result.dead_letters = p.dead_letters.size();
  Status s = Exec(st.db, "BEGIN IMMEDIATE");
  if (s.ok()) s = InsertRows(st, first, blobs);
  if (s.ok()) s = WriteCommitMeta(st, total > 0 ? last + 1 : st.next_seq);
  if (s.ok()) s = Exec(st.db, "COMMIT");
  if (!s.ok()) return Fail(st, s);
  return result;
}

}  // namespace

Status Fail(LogState& st, Status error) {
  Exec(st.db, "ROLLBACK").IgnoreError();
  if (error.code() == StatusCode::kResourceExhausted) return NoSpace(st, std::move(error));
  st.sticky = error;
  return error;
}

Result<CommitResult> CommitBuffered(LogState& st) {
  WEIR_RETURN_IF_ERROR(st.RefuseIfFailed());
  PendingWrites& p = *st.pending;
  const bool mark_moved = st.intake_mark != st.committed_intake_mark;
  if (st.buffered_records == 0 && p.dirty.empty() && !mark_moved) return CommitResult{};

  // Encode before the transaction so the write lock is held only for the inserts.
  const size_t n = p.readings.size();
  const size_t chunk = st.options.commit_records;
  std::vector<std::string> blobs;
  for (size_t i = 0; i < n; i += chunk) {
    auto blob =
        p.encoder.Encode(std::span<const Reading>(p.readings).subspan(i, std::min(chunk, n - i)));
    if (!blob.ok()) {
      // Deterministic for this input, so retrying would fail forever: drop the batch.
      st.buffered_records -= n;
      p.readings.clear();
      p.readings_raw_bytes = 0;
      if (st.buffered_records == 0) st.first_buffered_at.reset();
      return blob.status().WithContext("encoding readings (batch dropped)");
    }
    blobs.push_back(std::move(blob).value());
  }
  WEIR_ASSIGN_OR_RETURN(CommitResult result, WriteCommit(st, blobs));
  if (!result.empty()) st.next_seq = result.last_seq + 1;
  st.committed_intake_mark = st.intake_mark;
  st.log_id_unsaved = false;
  for (const std::string& b : blobs) st.usage.readings += b.size();
  for (const std::string& d : p.defects) st.usage.defects += d.size();
  if (!p.dead_letters.empty()) st.usage_dirty = true;
  ClearBuffered(st);
  if (st.limit == StoreLimit::kDiskFull) st.limit = StoreLimit::kNone;  // space came back
  WEIR_RETURN_IF_ERROR(EnforceQuota(st));
  return result;
}

// --- Quota -------------------------------------------------------------------------------

Status EnforceQuota(LogState& st) {
  internal::QuotaState q{st.options, st.pending->cursors, st.evictions, st.usage, st.usage_dirty};
  auto limit = internal::EnforceQuota(st.db, q, st.pending->set_meta);
  st.usage_dirty = q.recount;
  if (!limit.ok()) return Fail(st, limit.status());
  st.limit = *limit;
  return Status::Ok();
}

// While writes are held back, every Append asks again (cheap: a statvfs and three header reads,
// no write unless something can be evicted): space may come back without a commit.
bool HeldBack(LogState& st) {
  if (st.limit == StoreLimit::kNone) return false;
  // A full disk: let one group be buffered, so that its commit (or CommitIfDue's retry) finds
  // out when space is back; refuse more until then.
  if (st.limit == StoreLimit::kDiskFull) return st.buffered_records > 0;
  return !EnforceQuota(st).ok() || st.limit != StoreLimit::kNone;
}

}  // namespace weir::store::internal
