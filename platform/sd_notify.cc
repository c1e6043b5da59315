// SystemdNotifier: see sd_notify.h.
#include "platform/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace weir::platform {
namespace {

std::optional<uint64_t> ParseUnsigned(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  uint64_t v = 0;
  const char* end = text + std::strlen(text);
  const auto [ptr, ec] = std::from_chars(text, end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

}  // namespace

SystemdNotifier SystemdNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::optional<std::chrono::microseconds> watchdog;
  const std::optional<uint64_t> usec = ParseUnsigned(std::getenv("WATCHDOG_USEC"));
  const char* pid_text = std::getenv("WATCHDOG_PID");
  const std::optional<uint64_t> pid = ParseUnsigned(pid_text);
  const bool for_us = pid_text == nullptr || (pid && *pid == static_cast<uint64_t>(::getpid()));
  if (usec && *usec > 0 && for_us) watchdog = std::chrono::microseconds(*usec);
  return SystemdNotifier(socket != nullptr ? socket : "", watchdog);
}

Status SystemdNotifier::SetStatus(std::string_view text) const {
  std::string line = "STATUS=";
  for (const char c : text) line += (c == '\n' || c == '\r') ? ' ' : c;
  return Notify(line);
}

Status SystemdNotifier::Notify(std::string_view state) const {
  if (!enabled()) return Status::Ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // Abstract names may use the whole sun_path (after the leading NUL); paths need room for a NUL.
  const bool abstract = socket_[0] == '@';
  if (socket_.size() < 2 || socket_.size() > sizeof(addr.sun_path) - (abstract ? 0 : 1) ||
      (!abstract && socket_[0] != '/')) {
    return InvalidArgument("NOTIFY_SOCKET '" + socket_ + "' is not an absolute path or @name");
  }
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  if (abstract) addr.sun_path[0] = '\0';
  // An abstract address is exactly its bytes; a trailing NUL would be part of the name.
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError(std::string("sd_notify socket: ") + std::strerror(errno));
  ssize_t n;
  do {
    n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (n < 0) {
    const std::string message = "sd_notify to " + socket_ + ": " + std::strerror(err);
    return err == EAGAIN ? Unavailable(message) : IoError(message);
  }
  return Status::Ok();
}

}  // namespace weir::platform
