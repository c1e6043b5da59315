#include "agent/store/log_quota.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/store/log_rows.h"
#include "platform/files.h"

namespace weir::store::internal {

namespace fs = std::filesystem;

namespace {

// Deletes rows acked by every cursor of their lane, oldest first, until `used` <= target.
Status DeleteAcked(sqlite3* db, const CursorPositions& cursors, uint64_t target, uint64_t& used,
                   EvictionStats& evictions, UsageBytes& usage) {
  for (Lane lane : {Lane::kReadings, Lane::kDefects}) {
    std::optional<uint64_t> min_ack;
    for (const auto& [key, pos] : cursors) {
      if (key.second == lane) min_ack = std::min(min_ack.value_or(pos), pos);
    }
    if (!min_ack || *min_ack == 0) continue;
    WEIR_ASSIGN_OR_RETURN(Stmt sel,
                          Stmt::Prepare(db,
                                        "SELECT first_seq, length(blob) FROM records WHERE "
                                        "lane = ?1 "
                                        "AND last_seq <= ?2 ORDER BY first_seq LIMIT 16"));
    WEIR_ASSIGN_OR_RETURN(Stmt del, Stmt::Prepare(db, "DELETE FROM records WHERE first_seq = ?1"));
    while (used > target) {
      sel.BindInt(1, static_cast<int64_t>(lane));
      sel.BindInt(2, static_cast<int64_t>(*min_ack));
      std::vector<int64_t> seqs;
      uint64_t& lane_bytes = lane == Lane::kDefects ? usage.defects : usage.readings;
      for (;;) {
        WEIR_ASSIGN_OR_RETURN(bool row, sel.Step("selecting acked rows"));
        if (!row) break;
        seqs.push_back(sel.Int(0));
        lane_bytes -= std::min(lane_bytes, static_cast<uint64_t>(sel.Int(1)));
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

// The statements eviction to gaps runs once per row.
struct GapStatements {
  Stmt oldest;  // the oldest row of a lane and kind: header, length(blob)
  Stmt prev;    // the row before a sequence in a lane: header, length(blob)
  Stmt update;  // rewrites a row as a gap (blob emptied)
  Stmt del;

  static Result<GapStatements> Prepare(sqlite3* db) {
    const std::string cols = std::string("SELECT ") + kRowHeaderColumns + ", length(blob) ";
    GapStatements g;
    WEIR_ASSIGN_OR_RETURN(g.oldest,
                          Stmt::Prepare(db, cols + "FROM records WHERE lane = ?1 AND "
                                                   "kind = ?2 ORDER BY first_seq LIMIT 1"));
    WEIR_ASSIGN_OR_RETURN(g.prev, Stmt::Prepare(db, cols + "FROM records WHERE lane = ?1 AND "
                                                           "first_seq < ?2 ORDER BY first_seq DESC "
                                                           "LIMIT 1"));
    WEIR_ASSIGN_OR_RETURN(
        g.update, Stmt::Prepare(db,
                                "UPDATE records SET last_seq = ?2, lane = ?3, kind = ?4, "
                                "count = ?5, min_time_us = ?6, max_time_us = ?7, raw_bytes = 0, "
                                "crc = ?8, blob = x'' WHERE first_seq = ?1"));
    WEIR_ASSIGN_OR_RETURN(g.del, Stmt::Prepare(db, "DELETE FROM records WHERE first_seq = ?1"));
    return g;
  }
};

// An eviction gap (empty blob) just before `gap` in its lane absorbs it: the evicted row is
// deleted and `gap` grows to start where that gap starts. A damaged gap keeps its own reason.
Status MergeWithPreviousGap(GapStatements& g, RowHeader& gap) {
  g.prev.BindInt(1, static_cast<int64_t>(gap.lane));
  g.prev.BindInt(2, static_cast<int64_t>(gap.first_seq));
  WEIR_ASSIGN_OR_RETURN(bool has_prev, g.prev.Step("reading the previous row"));
  const RowHeader prev = has_prev ? ReadRowHeader(g.prev) : RowHeader{};
  const bool absorbs = has_prev && prev.kind == RecordKind::kGap && g.prev.Int(7) == 0;
  g.prev.Reset();
  if (!absorbs) return Status::Ok();
  g.del.BindInt(1, static_cast<int64_t>(gap.first_seq));
  WEIR_RETURN_IF_ERROR(g.del.Run("merging into a gap"));
  gap.first_seq = prev.first_seq;
  gap.count += prev.count;
  gap.min_time_us = std::min(gap.min_time_us, prev.min_time_us);
  gap.max_time_us = std::max(gap.max_time_us, prev.max_time_us);
  return Status::Ok();
}

// Replaces the oldest rows of `kind` in `lane` by gap records (merged with a gap just before
// them in the lane) until `used` <= target.
Status EvictToGaps(sqlite3* db, Lane lane, RecordKind kind, uint64_t target, uint64_t& used,
                   EvictionStats& evictions, UsageBytes& usage) {
  WEIR_ASSIGN_OR_RETURN(GapStatements g, GapStatements::Prepare(db));
  uint64_t& lane_bytes = lane == Lane::kDefects ? usage.defects : usage.readings;
  while (used > target) {
    g.oldest.BindInt(1, static_cast<int64_t>(lane));
    g.oldest.BindInt(2, static_cast<int64_t>(kind));
    WEIR_ASSIGN_OR_RETURN(bool row, g.oldest.Step("selecting rows to evict"));
    if (!row) {
      g.oldest.Reset();
      break;
    }
    RowHeader gap = ReadRowHeader(g.oldest);
    const auto blob_bytes = static_cast<uint64_t>(g.oldest.Int(7));
    g.oldest.Reset();
    const uint64_t evicted_count = gap.count;
    gap.kind = RecordKind::kGap;
    WEIR_RETURN_IF_ERROR(MergeWithPreviousGap(g, gap));
    BindRowHeader(g.update, 1, gap);
    g.update.BindInt(8, RowChecksum(gap, {}));
    WEIR_RETURN_IF_ERROR(g.update.Run("writing a gap record"));

    evictions.rows_evicted++;
    evictions.bytes_evicted += blob_bytes;
    lane_bytes -= std::min(lane_bytes, blob_bytes);
    (kind == RecordKind::kDefect ? evictions.defects_evicted : evictions.readings_evicted) +=
        evicted_count;
    WEIR_ASSIGN_OR_RETURN(used, UsedBytes(db));
  }
  return Status::Ok();
}

fs::path QuarantineRoot(const fs::path& log_path) {
  const fs::path dir = log_path.parent_path().empty() ? fs::path(".") : log_path.parent_path();
  return dir / "quarantine";
}

// Bytes a dead-letter row takes, roughly: its variable columns plus ~48 for the rest.
constexpr const char* kDeadLetterSize =
    "(length(payload_head) + length(topic) + length(reason) + length(source) + "
    "length(reason_code) + 48)";
constexpr const char* kQuarantineRowSize = "(ifnull(length(blob), 0) + length(reason) + 64)";

uint64_t Share(const LogOptions& o, uint32_t percent) {
  return o.quota_bytes / 100 * std::min<uint32_t>(percent, 100);
}

bool CapsExceeded(const LogOptions& o, const UsageBytes& u) {
  if (o.quota_bytes == 0) return false;
  return u.dead_letters > Share(o, o.dead_letters_quota_percent) ||
         u.quarantine_rows + u.quarantine_files > Share(o, o.quarantine_quota_percent);
}

struct Budget {
  uint64_t budget = UINT64_MAX;       // the pages in use may not exceed this
  uint64_t disk_budget = UINT64_MAX;  // the part of it the disk reserve sets
  uint64_t target = 0;                // evict down to this
};

Budget ComputeBudget(sqlite3* db, const LogOptions& o, UsageBytes& usage, uint64_t used) {
  Budget b;
  uint64_t quota_target = UINT64_MAX;
  if (o.quota_bytes > 0) {
    const uint64_t reserved = WalAllowance(o.quota_bytes) + usage.quarantine_files;
    b.budget = o.quota_bytes > reserved ? o.quota_bytes - reserved : 0;
    quota_target = b.budget / 10 * 9;  // hysteresis: evict to 90 %
  }
  usage.quota_counted = used + WalAllowance(o.quota_bytes) + usage.quarantine_files;
  uint64_t disk_target = UINT64_MAX;
  if (o.min_free_bytes > 0) {
    auto space = (o.free_space ? o.free_space : &platform::GetFilesystemSpace)(o.path);
    if (space.ok()) {
      const uint64_t reserve = ResolveMinFreeBytes(o.min_free_bytes, space->total_bytes);
      usage.filesystem_available = space->available_bytes;
      usage.min_free_bytes = reserve;
      auto pages = ReadPageBytes(db);
      const uint64_t free_bytes = pages.ok() ? pages->free : 0;
      // The WAL may still grow to its allowance before it is reset: that space is spoken for.
      const uint64_t wal = WalBytes(o.path);
      const uint64_t wal_growth =
          WalAllowance(o.quota_bytes) > wal ? WalAllowance(o.quota_bytes) - wal : 0;
      const uint64_t room = space->available_bytes + free_bytes;
      const uint64_t need = reserve + wal_growth;
      b.disk_budget = used + room > need ? used + room - need : 0;
      disk_target = b.disk_budget > reserve / 10 ? b.disk_budget - reserve / 10 : 0;
    }
  }
  b.budget = std::min(b.budget, b.disk_budget);
  b.target = std::min(quota_target, disk_target);
  return b;
}

// Deletes the oldest rows of `table` (by id) until the byte total `bytes` is within `cap`.
// `size_sql` is the per-row size expression. Returns the rows and bytes deleted.
Result<std::pair<uint64_t, uint64_t>> TrimOldest(sqlite3* db, const char* table,
                                                 const char* size_sql, uint64_t& bytes,
                                                 uint64_t cap) {
  std::pair<uint64_t, uint64_t> trimmed{0, 0};
  if (bytes <= cap) return trimmed;
  WEIR_ASSIGN_OR_RETURN(Stmt sel, Stmt::Prepare(db, std::string("SELECT id, ") + size_sql +
                                                        " FROM " + table + " ORDER BY id"));
  int64_t last_id = -1;
  while (bytes - trimmed.second > cap) {
    WEIR_ASSIGN_OR_RETURN(bool row, sel.Step("selecting rows to trim"));
    if (!row) break;
    last_id = sel.Int(0);
    trimmed.first++;
    trimmed.second += static_cast<uint64_t>(sel.Int(1));
  }
  sel = Stmt();
  if (last_id < 0) return trimmed;
  WEIR_ASSIGN_OR_RETURN(Stmt del,
                        Stmt::Prepare(db, std::string("DELETE FROM ") + table + " WHERE id <= ?1"));
  del.BindInt(1, last_id);
  WEIR_RETURN_IF_ERROR(del.Run("trimming"));
  bytes -= std::min(bytes, trimmed.second);
  return trimmed;
}

// Removes whole quarantined logs, oldest first (their directory names are UTC stamps), while the
// quarantine is over `cap`. Best effort: a directory that cannot be removed stops the trim.
void TrimQuarantineFiles(const fs::path& log_path, uint64_t cap, UsageBytes& u, EvictionStats& e) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (fs::directory_iterator it(QuarantineRoot(log_path), ec), end; !ec && it != end;
       it.increment(ec)) {
    dirs.push_back(it->path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& d : dirs) {
    if (u.quarantine_rows + u.quarantine_files <= cap) break;
    uint64_t bytes = 0;
    for (fs::recursive_directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) bytes += it->file_size(ec);
    }
    fs::remove_all(d, ec);
    if (ec) break;
    u.quarantine_files -= std::min(u.quarantine_files, bytes);
    e.quarantine_files_trimmed++;
    e.quarantine_bytes_trimmed += bytes;
  }
}

// Quarantined data and dead letters beyond their shares of the quota, oldest first: whole
// quarantined logs before quarantined rows (they are older: a file is set aside before the
// fresh log's rows can be), dead letters by id. Inside the caller's transaction.
Status TrimCaps(sqlite3* db, const LogOptions& o, EvictionStats& e, UsageBytes& u) {
  if (o.quota_bytes == 0) return Status::Ok();
  const uint64_t q_cap = Share(o, o.quarantine_quota_percent);
  if (u.quarantine_rows + u.quarantine_files > q_cap) {
    TrimQuarantineFiles(o.path, q_cap, u, e);
    const uint64_t row_cap = q_cap > u.quarantine_files ? q_cap - u.quarantine_files : 0;
    WEIR_ASSIGN_OR_RETURN(
        auto t, TrimOldest(db, "quarantine", kQuarantineRowSize, u.quarantine_rows, row_cap));
    e.quarantine_rows_trimmed += t.first;
    e.quarantine_bytes_trimmed += t.second;
  }
  WEIR_ASSIGN_OR_RETURN(auto d, TrimOldest(db, "dead_letters", kDeadLetterSize, u.dead_letters,
                                           Share(o, o.dead_letters_quota_percent)));
  e.dead_letters_trimmed += d.first;
  e.dead_letter_bytes_trimmed += d.second;
  return Status::Ok();
}

}  // namespace

uint64_t WalAllowance(uint64_t quota) {
  if (quota == 0) return uint64_t{4} << 20;
  return std::clamp<uint64_t>(quota / 8, uint64_t{64} << 10, uint64_t{4} << 20);
}

uint64_t QuarantineFileBytes(const fs::path& log_path) {
  std::error_code ec;
  uint64_t total = 0;
  for (fs::recursive_directory_iterator it(QuarantineRoot(log_path), ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

Status RecountSideTables(sqlite3* db, UsageBytes& usage) {
  WEIR_ASSIGN_OR_RETURN(int64_t dl, QueryInt(db, (std::string("SELECT ifnull(sum(") +
                                                  kDeadLetterSize + "), 0) FROM dead_letters")
                                                     .c_str()));
  WEIR_ASSIGN_OR_RETURN(int64_t qr, QueryInt(db, (std::string("SELECT ifnull(sum(") +
                                                  kQuarantineRowSize + "), 0) FROM quarantine")
                                                     .c_str()));
  usage.dead_letters = static_cast<uint64_t>(dl);
  usage.quarantine_rows = static_cast<uint64_t>(qr);
  return Status::Ok();
}

Result<StoreLimit> EnforceQuota(sqlite3* db, QuotaState& q, Stmt& set_meta) {
  const LogOptions& o = q.options;
  WEIR_ASSIGN_OR_RETURN(uint64_t used, UsedBytes(db));
  if (q.recount) WEIR_RETURN_IF_ERROR(RecountSideTables(db, q.usage));
  q.recount = false;
  q.usage.pages_in_use = used;
  const Budget b = ComputeBudget(db, o, q.usage, used);
  const bool over = used > b.budget;
  const bool caps_exceeded = CapsExceeded(o, q.usage);
  if (!over && !caps_exceeded) return StoreLimit::kNone;

  const EvictionStats before = q.evictions;
  const UsageBytes usage_before = q.usage;
  auto run = [&]() -> Status {
    WEIR_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
    WEIR_RETURN_IF_ERROR(TrimCaps(db, o, q.evictions, q.usage));
    if (over) {
      WEIR_ASSIGN_OR_RETURN(used, UsedBytes(db));
      WEIR_RETURN_IF_ERROR(DeleteAcked(db, q.cursors, b.target, used, q.evictions, q.usage));
      if (o.quota_policy == QuotaPolicy::kEvictOldest) {
        WEIR_RETURN_IF_ERROR(EvictToGaps(db, Lane::kReadings, RecordKind::kReadings, b.target, used,
                                         q.evictions, q.usage));
        WEIR_RETURN_IF_ERROR(EvictToGaps(db, Lane::kDefects, RecordKind::kDefect, b.target, used,
                                         q.evictions, q.usage));
      }
    }
    if (before == q.evictions) {
      return Exec(db, "ROLLBACK");  // nothing changed: write nothing (a full disk may be why)
    }
    WEIR_RETURN_IF_ERROR(WriteEvictionStats(set_meta, q.evictions));
    return Exec(db, "COMMIT");
  };
  Status st = run();
  if (!st.ok()) {
    q.evictions = before;
    q.usage = usage_before;
    return st.WithContext("enforcing the quota");
  }
  q.usage.pages_in_use = used;
  if (used <= b.budget) return StoreLimit::kNone;
  return used > b.disk_budget ? StoreLimit::kDiskReserve : StoreLimit::kQuota;
}

}  // namespace weir::store::internal

namespace weir::store {

uint64_t ResolveMinFreeBytes(uint64_t setting, uint64_t filesystem_bytes) {
  if (setting != kMinFreeAuto) return setting;
  constexpr uint64_t kFloor = uint64_t{64} << 20;
  constexpr uint64_t kCap = uint64_t{256} << 20;
  return std::min({std::max(kFloor, filesystem_bytes / 20), kCap, filesystem_bytes / 10});
}

std::string_view StoreLimitName(StoreLimit limit) {
  switch (limit) {
    case StoreLimit::kNone:
      return "none";
    case StoreLimit::kQuota:
      return "quota";
    case StoreLimit::kDiskReserve:
      return "disk_reserve";
    case StoreLimit::kDiskFull:
      return "disk_full";
  }
  return "unknown";
}

}  // namespace weir::store
