// Internal to agent/store: group commit — encode what is buffered, reserve sequences, write rows,
// dead letters, meta and cursor acks in one transaction — and the glue to the quota check
// (log_quota.h) that follows every commit (FORMAT.md "Group commit", "Quota and eviction", "Disk
// space", "Sticky error"). Store thread only; every function may block on disk I/O.
#pragma once

#include "agent/core/status.h"
#include "agent/store/log.h"
#include "agent/store/log_state.h"

namespace weir::store::internal {

// Commits everything buffered in `st` (Log::Commit's contract). On success the buffers are
// cleared; on a full disk nothing buffered is lost (limit kDiskFull, not sticky); any other write
// error is rolled back and becomes the sticky error.
Result<CommitResult> CommitBuffered(LogState& st);

// Runs the quota check on `st`'s connection and sets st.limit. A write error is sticky (Fail).
Status EnforceQuota(LogState& st);

// Whether writes are held back now; while they are, asks the quota again (space may have come
// back without a commit).
bool HeldBack(LogState& st);

// Writes the log id into meta when it is not there yet (inside the caller's transaction).
Status WriteLogIdIfUnsaved(LogState& st);

// One meta value, with the writer's prepared statement (inside the caller's transaction).
Status SetMeta(LogState& st, std::string_view key, int64_t value);

// Rolls the transaction back; a full disk sets limit kDiskFull, any other error becomes sticky.
// Returns `error`.
Status Fail(LogState& st, Status error);

}  // namespace weir::store::internal
