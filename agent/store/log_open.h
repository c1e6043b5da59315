// Internal to agent/store: Log::Open's work once the options are checked and the writer lock is
// held — open the connection with the pragmas, check the file, recover from damage (the steps
// themselves are in log_recovery.h), load the sequence, cursors, counters and log id, prepare the
// writer's statements, and run the first quota check (FORMAT.md "Recovery and quarantine").
// Store thread only; blocks on disk I/O and, between retries, sleeps.
#pragma once

#include "agent/core/status.h"
#include "agent/store/log_state.h"

namespace weir::store::internal {

// Opens and recovers into `st` (which must be fresh: no connection). Errors that can pass (I/O,
// no memory, busy, full) are retried open_retries times with a doubling wait, each attempt from
// a clean state; st.recovery keeps the count and the last error. Damage never fails the open.
Status OpenWithRetries(LogState& st);

}  // namespace weir::store::internal
