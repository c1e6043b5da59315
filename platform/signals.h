// Signals: the main thread's way to learn of SIGTERM, SIGINT and SIGHUP. The signals are blocked
// in every thread and read synchronously with a timeout, so no handler runs at an arbitrary
// point and the main loop can interleave signals with its watchdog and status work.
//
// Call BlockShutdownSignals() in main before starting any thread: threads inherit the mask, so
// the signals stay pending until the main loop collects them with SignalWaiter::Wait.
#pragma once

#include <chrono>
#include <optional>

#include "agent/core/status.h"

namespace weir::platform {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in threads it starts later).
// Returns kInternal if the mask cannot be changed. Does not block.
Status BlockShutdownSignals();

// Waits for SIGTERM, SIGINT or SIGHUP; they must be blocked (BlockShutdownSignals), or a signal
// may be delivered to its default action instead. Stateless; thread-safe, though one thread
// (main) should be the only reader.
class SignalWaiter {
 public:
  // Blocks up to `timeout`. Returns the signal number taken, nullopt when the timeout passed, or
  // kInternal on an unexpected error. A wait cut short by another signal returns nullopt early.
  Result<std::optional<int>> Wait(std::chrono::milliseconds timeout) const;
};

}  // namespace weir::platform
