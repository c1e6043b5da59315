// Internal to agent/store: the byte quota (FORMAT.md "Quota and eviction"): how much of it the
// WAL may use, how the log's size is measured, and eviction (deleting acked rows, then
// replacing the oldest unsent rows by gap records). Called by the writer only; not thread-safe.
// Every function blocks on disk I/O.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/store/log.h"
#include "agent/store/sqlite_util.h"

namespace weir::store::internal {

// The writer's acked position of each (cursor name, lane), pending acks included.
using CursorPositions = std::map<std::pair<std::string, Lane>, uint64_t>;

// WAL bytes allowed on top of the pages in use: the WAL is checkpointed and truncated at this
// size. `quota` 0 (no quota) gets the largest allowance.
uint64_t WalAllowance(uint64_t quota);

// Everything a quota check reads besides the connection. `usage` is in and out: its
// quarantine_files figure is kept by the caller (QuarantineFileBytes); the rest is refreshed.
struct QuotaState {
  const LogOptions& options;
  const CursorPositions& cursors;
  EvictionStats& evictions;
  UsageBytes& usage;
  bool recount = true;  // dead letters or quarantine rows changed since the last check
};

// The quota check, after every commit and on open (FORMAT.md "Quota and eviction", "Disk
// space"). Budget for the pages in use: quota_bytes less the WAL allowance and quarantined
// files, and, with a disk reserve, what the filesystem can still give before min_free_bytes
// (available + the file's free pages - the WAL's unused allowance - the reserve). Over it, one
// transaction evicts to 90 % of the quota budget or a tenth of the reserve below the disk
// budget: rows acked by every cursor of their lane, then, under kEvictOldest, the oldest unsent
// rows, which become gap records. Quarantined data and dead letters beyond their shares are
// trimmed oldest first. Counters go to meta through `set_meta` in the same transaction; a check
// that changes nothing writes nothing (so it works on a full disk). Returns the limit that still
// holds writes back (kNone without quota and reserve). On error `evictions` is unchanged and a
// transaction may be left open: the caller rolls back.
Result<StoreLimit> EnforceQuota(sqlite3* db, QuotaState& state, Stmt& set_meta);

// Dead-letter and quarantine-row bytes (UsageBytes::dead_letters, quarantine_rows).
Status RecountSideTables(sqlite3* db, UsageBytes& usage);

// Bytes of everything under <log dir>/quarantine/ (whole quarantined logs). Best effort: 0 when
// the directory is missing or unreadable.
uint64_t QuarantineFileBytes(const std::filesystem::path& log_path);

}  // namespace weir::store::internal
