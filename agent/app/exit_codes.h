// Exit codes of the `weir` command. Stable: scripts and systemd units depend on them.
#pragma once

namespace weir::app {

enum ExitCode : int {
  kExitOk = 0,            // success
  kExitFailure = 1,       // a runtime failure: I/O error, store refused writes, broker gone
  kExitUsage = 2,         // bad command line, invalid config, or unreadable input
  kExitLocked = 3,        // another weir holds the state directory's lock
  kExitInterrupted = 130  // stopped by SIGINT/SIGTERM before finishing (128 + SIGINT)
};

}  // namespace weir::app
