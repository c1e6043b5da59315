// OpenLogForInspection / OpenLogForWriting: see log_open.h.
#include "agent/app/log_open.h"

#include <system_error>

#include "agent/core/clock.h"

namespace weir::app {

namespace {

std::filesystem::path DirectoryOf(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

Result<OpenedLog> OpenWriter(const std::filesystem::path& path, platform::InstanceLock lock,
                             size_t commit_records) {
  store::LogOptions options;
  options.path = path;
  options.commit_records = commit_records;
  auto log = store::Log::Open(options, SystemClock::Instance());
  if (!log.ok()) return log.status().WithContext("opening log '" + path.string() + "'");
  OpenedLog opened;
  opened.lock.emplace(std::move(lock));
  opened.writer = std::move(log).value();
  return opened;
}

}  // namespace

Result<store::LogStats> OpenedLog::Stats() { return writer ? writer->Stats() : reader->Stats(); }

Result<std::vector<store::StoredRecord>> OpenedLog::Read(const store::ReadQuery& query) {
  return writer ? writer->Read(query) : reader->Read(query);
}

Result<OpenedLog> OpenLogForInspection(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound("no log file at '" + path.string() + "'");
  }
  auto lock = platform::InstanceLock::Acquire(DirectoryOf(path));
  if (lock.ok()) return OpenWriter(path, std::move(lock).value(), 1000);
  // An agent holds the log, or no lock can be taken (a read-only directory): inspect read-only,
  // without repair.
  auto reader = store::LogReader::Open(path);
  if (!reader.ok()) {
    return reader.status().WithContext("opening log '" + path.string() + "' read-only (" +
                                       lock.status().message() + ")");
  }
  OpenedLog opened;
  opened.reader = std::move(reader).value();
  opened.read_only_reason = lock.status().message();
  return opened;
}

Result<OpenedLog> OpenLogForWriting(const std::filesystem::path& path, size_t commit_records) {
  std::error_code ec;
  std::filesystem::create_directories(DirectoryOf(path), ec);
  if (ec) {
    return IoError("cannot create directory '" + DirectoryOf(path).string() + "': " + ec.message());
  }
  auto lock = platform::InstanceLock::Acquire(DirectoryOf(path));
  if (!lock.ok()) return lock.status().WithContext("locking the log's directory");
  return OpenWriter(path, std::move(lock).value(), commit_records);
}

}  // namespace weir::app
