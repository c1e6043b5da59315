#include "agent/store/log_quota.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include "agent/store/log_rows.h"

namespace weir::store::internal {

namespace {

Status SetMeta(Stmt& set_meta, std::string_view key, int64_t value) {
  set_meta.BindText(1, key);
  set_meta.BindInt(2, value);
  return set_meta.Run("updating meta");
}

// Deletes rows acked by every cursor of their lane, oldest first, until `used` <= target.
Status DeleteAcked(sqlite3* db, const CursorPositions& cursors, uint64_t target, uint64_t& used,
                   EvictionStats& evictions) {
  for (Lane lane : {Lane::kReadings, Lane::kDefects}) {
    std::optional<uint64_t> min_ack;
    for (const auto& [key, pos] : cursors) {
      if (key.second == lane) min_ack = std::min(min_ack.value_or(pos), pos);
    }
    if (!min_ack || *min_ack == 0) continue;
    WEIR_ASSIGN_OR_RETURN(Stmt sel,
                          Stmt::Prepare(db,
                                        "SELECT first_seq FROM records WHERE lane = ?1 "
                                        "AND last_seq <= ?2 ORDER BY first_seq LIMIT 16"));
    WEIR_ASSIGN_OR_RETURN(Stmt del, Stmt::Prepare(db, "DELETE FROM records WHERE first_seq = ?1"));
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
        evictions.acked_rows_deleted++;
      }
      WEIR_ASSIGN_OR_RETURN(used, UsedBytes(db));
    }
  }
  return Status::Ok();
}

// Replaces the oldest rows of `kind` in `lane` by gap records (merged with a gap just before
// them in the lane) until `used` <= target.
Status EvictToGaps(sqlite3* db, Lane lane, RecordKind kind, uint64_t target, uint64_t& used,
                   EvictionStats& evictions) {
  WEIR_ASSIGN_OR_RETURN(Stmt sel, Stmt::Prepare(db,
                                                "SELECT first_seq, last_seq, count, min_time_us, "
                                                "max_time_us, length(blob) FROM records WHERE "
                                                "lane = ?1 AND kind = ?2 "
                                                "ORDER BY first_seq LIMIT 1"));
  WEIR_ASSIGN_OR_RETURN(Stmt prev,
                        Stmt::Prepare(db,
                                      "SELECT first_seq, last_seq, kind, count, min_time_us, "
                                      "max_time_us FROM records WHERE lane = ?1 AND first_seq < ?2 "
                                      "ORDER BY first_seq DESC LIMIT 1"));
  WEIR_ASSIGN_OR_RETURN(
      Stmt update, Stmt::Prepare(db,
                                 "UPDATE records SET last_seq = ?2, kind = ?3, count = ?4, "
                                 "min_time_us = ?5, max_time_us = ?6, raw_bytes = 0, crc = ?7, "
                                 "blob = x'' WHERE first_seq = ?1"));
  WEIR_ASSIGN_OR_RETURN(Stmt del, Stmt::Prepare(db, "DELETE FROM records WHERE first_seq = ?1"));
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

    evictions.rows_evicted++;
    evictions.bytes_evicted += blob_bytes;
    (kind == RecordKind::kDefect ? evictions.defects_evicted : evictions.readings_evicted) +=
        evicted_count;
    WEIR_ASSIGN_OR_RETURN(used, UsedBytes(db));
  }
  return Status::Ok();
}

}  // namespace

uint64_t WalAllowance(uint64_t quota) {
  if (quota == 0) return uint64_t{4} << 20;
  return std::clamp<uint64_t>(quota / 8, uint64_t{64} << 10, uint64_t{4} << 20);
}

Result<uint64_t> UsedBytes(sqlite3* db) {
  WEIR_ASSIGN_OR_RETURN(int64_t page_size, QueryInt(db, "PRAGMA page_size"));
  WEIR_ASSIGN_OR_RETURN(int64_t pages, QueryInt(db, "PRAGMA page_count"));
  WEIR_ASSIGN_OR_RETURN(int64_t free_pages, QueryInt(db, "PRAGMA freelist_count"));
  return static_cast<uint64_t>((pages - free_pages) * page_size);
}

Result<bool> EnforceQuota(sqlite3* db, const LogOptions& options, const CursorPositions& cursors,
                          Stmt& set_meta, EvictionStats& evictions) {
  const uint64_t quota = options.quota_bytes;
  if (quota == 0) return false;
  const uint64_t allowance = WalAllowance(quota);
  const uint64_t budget = quota > allowance ? quota - allowance : 0;
  WEIR_ASSIGN_OR_RETURN(uint64_t used, UsedBytes(db));
  if (used <= budget) return false;
  // Evict to 90% of the budget so that eviction does not run on every commit.
  const uint64_t target = budget / 10 * 9;
  const EvictionStats before = evictions;
  auto run = [&]() -> Status {
    WEIR_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
    WEIR_RETURN_IF_ERROR(DeleteAcked(db, cursors, target, used, evictions));
    if (options.quota_policy == QuotaPolicy::kEvictOldest) {
      WEIR_RETURN_IF_ERROR(
          EvictToGaps(db, Lane::kReadings, RecordKind::kReadings, target, used, evictions));
      WEIR_RETURN_IF_ERROR(
          EvictToGaps(db, Lane::kDefects, RecordKind::kDefect, target, used, evictions));
    }
    const EvictionStats& e = evictions;
    WEIR_RETURN_IF_ERROR(
        SetMeta(set_meta, "acked_rows_deleted", static_cast<int64_t>(e.acked_rows_deleted)));
    WEIR_RETURN_IF_ERROR(SetMeta(set_meta, "rows_evicted", static_cast<int64_t>(e.rows_evicted)));
    WEIR_RETURN_IF_ERROR(
        SetMeta(set_meta, "readings_evicted", static_cast<int64_t>(e.readings_evicted)));
    WEIR_RETURN_IF_ERROR(
        SetMeta(set_meta, "defects_evicted", static_cast<int64_t>(e.defects_evicted)));
    WEIR_RETURN_IF_ERROR(SetMeta(set_meta, "bytes_evicted", static_cast<int64_t>(e.bytes_evicted)));
    return Exec(db, "COMMIT");
  };
  Status st = run();
  if (!st.ok()) {
    evictions = before;
    return st.WithContext("enforcing the quota");
  }
  return used > budget;
}

}  // namespace weir::store::internal
