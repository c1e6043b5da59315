// SystemdNotifier: the sd_notify protocol without libsystemd — one AF_UNIX datagram per message
// to $NOTIFY_SOCKET (a path, or an abstract-namespace name written with a leading '@') — and
// the watchdog interval systemd asked for via $WATCHDOG_USEC / $WATCHDOG_PID.
//
// When not started by systemd (no NOTIFY_SOCKET) every call is a successful no-op. Thread-safe:
// the object is immutable after construction and each Notify opens its own socket. Notify does
// not block (a datagram to a local socket; a full receive queue fails with kUnavailable).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/status.h"

namespace weir::platform {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. The watchdog applies only when
  // WATCHDOG_PID is unset or names this process (systemd's rule for forked helpers).
  static SystemdNotifier FromEnvironment();
  // Sends to `socket` (a path, or "@name" for the abstract namespace; empty disables) with the
  // given watchdog interval. For tests and for callers that read the environment themselves.
  SystemdNotifier(std::string socket, std::optional<std::chrono::microseconds> watchdog_interval)
      : socket_(std::move(socket)), watchdog_interval_(watchdog_interval) {}

  // Whether a notification socket is configured.
  bool enabled() const { return !socket_.empty(); }
  // The interval systemd expects WATCHDOG=1 within, if the watchdog is on. Ping at half of it.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_interval_; }

  Status Ready() const { return Notify("READY=1"); }
  Status Stopping() const { return Notify("STOPPING=1"); }
  Status Watchdog() const { return Notify("WATCHDOG=1"); }
  // A one-line status for `systemctl status`; newlines are replaced by spaces.
  Status SetStatus(std::string_view text) const;
  // Sends `state` verbatim ("KEY=value" lines). Returns OK (also when disabled), kInvalidArgument
  // for a malformed socket name, kUnavailable or kIoError when sending fails.
  Status Notify(std::string_view state) const;

 private:
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_interval_;
};

}  // namespace weir::platform
