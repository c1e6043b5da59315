// Signals: see signals.h.
#include "platform/signals.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace weir::platform {
namespace {

sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

Status BlockShutdownSignals() {
  const sigset_t set = ShutdownSet();
  const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) return Internal(std::string("pthread_sigmask: ") + std::strerror(rc));
  return Status::Ok();
}

Result<std::optional<int>> SignalWaiter::Wait(std::chrono::milliseconds timeout) const {
  const sigset_t set = ShutdownSet();
  const auto ms = timeout.count() < 0 ? 0 : timeout.count();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ms / 1000);
  ts.tv_nsec = static_cast<long>((ms % 1000) * 1'000'000);
  const int sig = sigtimedwait(&set, nullptr, &ts);
  if (sig >= 0) return std::optional<int>(sig);
  // EAGAIN: the timeout passed; EINTR: another (handled) signal interrupted the wait.
  if (errno == EAGAIN || errno == EINTR) return std::optional<int>();
  return Internal(std::string("sigtimedwait: ") + std::strerror(errno));
}

}  // namespace weir::platform
