// InstanceLock: one weir per state directory. Holds an exclusive flock on `<dir>/lock` for the
// lifetime of the object; the holder's pid is written into the file so that a second instance can
// say who holds it.
//
// flock is per open file description: the kernel drops it when the holder exits, however it
// exits (kill -9 included), so a stale lock file never blocks a restart; the file itself is left
// in place, deleting it would race with a new holder. A lock taken before fork() is shared with
// the child; weir does not fork. Move-only; not thread-safe to move concurrently.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "agent/core/status.h"

namespace weir::platform {

class InstanceLock {
 public:
  // Takes the lock on `<state_dir>/lock` without blocking. Returns kAlreadyExists naming the
  // holder's pid when another holder (another process, or another descriptor in this one) has
  // it, kNotFound if `state_dir` does not exist, kIoError otherwise.
  static Result<InstanceLock> Acquire(const std::filesystem::path& state_dir);
  // The same lock on the file `lock_path` itself (created 0644 if missing), for a lock that is
  // not a whole state directory's, e.g. the on-device log's one-writer lock <log>.lock. When
  // another holder has it, returns kAlreadyExists "<busy_message> (pid N, lock file P)".
  static Result<InstanceLock> AcquireFile(const std::filesystem::path& lock_path,
                                          std::string_view busy_message);

  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&& other) noexcept;
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;
  // Releases the lock.
  ~InstanceLock();

  const std::filesystem::path& path() const { return path_; }

 private:
  InstanceLock(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace weir::platform
