// Internal to agent/store: the byte quota (FORMAT.md "Quota and eviction"): how much of it the
// WAL may use, how the log's size is measured, and eviction (deleting acked rows, then
// replacing the oldest unsent rows by gap records). Called by the writer only; not thread-safe.
// Every function blocks on disk I/O.
#pragma once

#include <sqlite3.h>

#include <cstdint>
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

// Bytes of the pages in use (page_count - freelist_count) * page_size; the SQLite error.
Result<uint64_t> UsedBytes(sqlite3* db);

// When the pages in use exceed the quota less the WAL allowance, evicts (in one transaction) to
// 90% of that budget: rows acked by every cursor of their lane, then, under kEvictOldest, the
// oldest unsent rows, which become gap records. Updates `evictions` and persists it to meta
// through `set_meta` (the prepared "INSERT INTO meta ... ON CONFLICT" statement). Returns
// whether the log is still over its budget (always false without a quota). On error
// `evictions` is unchanged and a transaction may be left open: the caller rolls back.
Result<bool> EnforceQuota(sqlite3* db, const LogOptions& options, const CursorPositions& cursors,
                          Stmt& set_meta, EvictionStats& evictions);

}  // namespace weir::store::internal
