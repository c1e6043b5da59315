// InstanceLock: see instance_lock.h.
#include "platform/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "platform/files.h"

namespace weir::platform {
namespace {

// The pid recorded in the lock file, or "unknown" (the holder may not have written it yet).
std::string HolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "unknown";
  std::string pid(buf, static_cast<size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return "unknown";
  return pid;
}

}  // namespace

Result<InstanceLock> InstanceLock::Acquire(const std::filesystem::path& state_dir) {
  return AcquireFile(state_dir / "lock",
                     "state directory " + state_dir.string() + " is in use by another weir");
}

Result<InstanceLock> InstanceLock::AcquireFile(const std::filesystem::path& lock_path,
                                               std::string_view busy_message) {
  const std::filesystem::path& path = lock_path;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("opening lock file", path, errno);
  InstanceLock lock(fd, path);  // closes fd on every return below
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      return AlreadyExists(std::string(busy_message) + " (pid " + HolderPid(fd) + ", lock file " +
                           path.string() + ")");
    }
    return ErrnoStatus("locking", path, errno);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0) return ErrnoStatus("truncating", path, errno);
  if (::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return ErrnoStatus("writing pid to", path, errno);
  }
  return lock;
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

InstanceLock::~InstanceLock() {
  // Closing the only descriptor releases the flock.
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace weir::platform
