// Files: see files.h.
#include "platform/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace weir::platform {
namespace {

// Closes a descriptor at scope exit; close errors after a successful fsync lose nothing.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result, for paths where close can report a write-back error.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("writing", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

std::filesystem::path TempPathFor(const std::filesystem::path& path) {
  // Unique within the process (counter) and across processes (pid); O_EXCL guards the rest.
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  return tmp;
}

}  // namespace

Status ErrnoStatus(std::string_view what, const std::filesystem::path& path, int err) {
  std::string message(what);
  message += ' ';
  message += path.string();
  message += ": ";
  message += std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(message));
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(std::move(message));
  return IoError(std::move(message));
}

Status FsyncDirectory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("opening directory", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync of directory", dir, errno);
  return Status::Ok();
}

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode) {
  const std::filesystem::path tmp = TempPathFor(path);
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return ErrnoStatus("creating", tmp, errno);
  auto fail = [&tmp](Status s) {
    ::unlink(tmp.c_str());
    return s;
  };
  // open() applied the umask; the caller asked for this exact mode (e.g. 0600 for secrets).
  if (::fchmod(fd.get(), mode) != 0) return fail(ErrnoStatus("chmod of", tmp, errno));
  if (Status s = WriteAll(fd.get(), contents, tmp); !s.ok()) return fail(s);
  if (::fsync(fd.get()) != 0) return fail(ErrnoStatus("fsync of", tmp, errno));
  if (fd.Close() != 0) return fail(ErrnoStatus("closing", tmp, errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(ErrnoStatus("renaming " + tmp.string() + " to", path, errno));
  }
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  return FsyncDirectory(dir);
}

Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("opening", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat of", path, errno);
  if (!S_ISREG(st.st_mode)) return IoError("reading " + path.string() + ": not a regular file");
  auto too_large = [&] {
    return ResourceExhausted("reading " + path.string() + ": larger than the limit of " +
                             std::to_string(max_bytes) + " bytes");
  };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_large();
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("reading", path, errno);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) return too_large();
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<FilesystemSpace> GetFilesystemSpace(const std::filesystem::path& path) {
  struct statvfs vfs {};
  if (::statvfs(path.c_str(), &vfs) != 0) return ErrnoStatus("statvfs of", path, errno);
  const uint64_t unit = vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize;
  FilesystemSpace space;
  space.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * unit;
  space.available_bytes = static_cast<uint64_t>(vfs.f_bavail) * unit;
  space.free_bytes = static_cast<uint64_t>(vfs.f_bfree) * unit;
  return space;
}

Result<uint64_t> FileSize(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat of", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status EnsureDirectory(const std::filesystem::path& dir, mode_t mode) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return FailedPrecondition(dir.string() + " exists and is not a directory");
  }
  if (errno == ENOTDIR) {
    return FailedPrecondition(dir.string() + ": a parent exists and is not a directory");
  }
  if (errno != ENOENT) return ErrnoStatus("stat of", dir, errno);
  const std::filesystem::path parent = dir.parent_path();
  if (!parent.empty() && parent != dir) WEIR_RETURN_IF_ERROR(EnsureDirectory(parent, mode));
  if (::mkdir(dir.c_str(), mode) != 0) {
    // Another process may have created it between our stat and mkdir; that is success.
    if (errno == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return Status::Ok();
    }
    return ErrnoStatus("creating directory", dir, errno);
  }
  if (::chmod(dir.c_str(), mode) != 0) return ErrnoStatus("chmod of", dir, errno);
  return Status::Ok();
}

}  // namespace weir::platform
