// Opening a log for the `weir log` commands: for writing (import), or for inspection, where a
// log no agent holds is opened through the recovering writer (so damage is quarantined and
// reported) and a log an agent holds is opened read-only beside it.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "agent/core/status.h"
#include "agent/store/log.h"
#include "platform/instance_lock.h"

namespace weir::app {

// A log opened by the CLI. Exactly one of `writer` / `reader` is set.
struct OpenedLog {
  std::optional<platform::InstanceLock> lock;  // held while `writer` is open
  std::unique_ptr<store::Log> writer;
  std::unique_ptr<store::LogReader> reader;
  // Set when an agent holds the log: what the read-only open could not do.
  std::string read_only_reason;

  Result<store::LogStats> Stats();
  Result<std::vector<store::StoredRecord>> Read(const store::ReadQuery& query);
};

// Opens an existing log for inspection (stats, export). NotFound when `path` does not exist.
Result<OpenedLog> OpenLogForInspection(const std::filesystem::path& path);

// Opens or creates a log (and its directory) for writing, holding the directory's instance lock:
// AlreadyExists when an agent (or another import) holds it. `commit_records` sets the group-commit
// size.
Result<OpenedLog> OpenLogForWriting(const std::filesystem::path& path, size_t commit_records);

}  // namespace weir::app
