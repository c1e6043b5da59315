// ServiceNotifier: `weir run` under systemd (Type=notify, WatchdogSec=). It tells systemd
//   - READY=1 once, when the log is open (the caller constructs this after opening it) and the
//     first connect attempt of both MQTT connections has ended, connected or failed: a gateway
//     whose upstream is down at boot is still "started", and `systemctl start` returns;
//   - STATUS=<one line> with the state of both connections and the backlog, when it changes;
//   - WATCHDOG=1 every quarter of the watchdog interval, but only while no pipeline stage is
//     stuck (Pipeline::StalledStage with half the interval as the limit). A stuck store thread or
//     forwarder therefore stops the pings and systemd kills and restarts weir within the interval,
//     while an idle agent (nothing to store, upstream down) keeps pinging: idle is not stuck.
//   - STOPPING=1 when the drain begins.
// The watchdog is armed by systemd only after READY=1 (systemd.service(5)), so a long log
// recovery at start is bounded by TimeoutStartSec instead.
//
// Without NOTIFY_SOCKET every call does nothing. Not thread-safe: the main loop owns it. Never
// blocks (datagrams with MSG_DONTWAIT); a failed send is logged once and otherwise ignored, since
// systemd's own timeouts are the fallback.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/core/clock.h"
#include "agent/pipeline/link_state.h"
#include "platform/sd_notify.h"

namespace weir::app {

// What the notifier needs to know about the running pipeline, read once per main-loop turn.
struct ServiceHealth {
  pipeline::LinkState local = pipeline::LinkState::kDisconnected;
  bool local_attempted = false;  // a connect attempt to the local broker has ended
  pipeline::LinkState upstream = pipeline::LinkState::kDisconnected;
  bool upstream_attempted = false;
  uint64_t backlog_rows = 0;
  double oldest_unsent_age_s = 0;
  std::string last_error;              // upstream's last connection error, "" when none
  std::optional<std::string> stalled;  // a stage stuck past stall_limit(), by name
};

class ServiceNotifier {
 public:
  ServiceNotifier(platform::SystemdNotifier notifier, const Clock& clock);

  // Sends what is due for `health` at the clock's now: READY=1 (once), STATUS= (when changed),
  // WATCHDOG=1 (when due and nothing is stalled; a stall is logged once per episode).
  void Update(const ServiceHealth& health);
  // STOPPING=1 and a last status line.
  void Stopping(const std::string& why);

  // Whether systemd listens (NOTIFY_SOCKET is set): without it, Update need not be called.
  bool enabled() const { return notifier_.enabled(); }
  bool ready_sent() const { return ready_sent_; }
  // How long a stage may work without waiting before it counts as stuck: half the watchdog
  // interval (a turn of any loop takes milliseconds; a commit on a slow SD card, seconds).
  Clock::Duration stall_limit() const;
  // How long the main loop may sleep before the next Update: a quarter of the watchdog
  // interval, 100 ms until ready (to say READY soon after the connects), or `fallback`.
  std::chrono::milliseconds NextUpdateIn(std::chrono::milliseconds fallback) const;

  // The STATUS= text for `health`, e.g. "local connected, upstream disconnected (connect
  // refused); backlog 1200 records, oldest 35 s". Pure.
  static std::string StatusLine(const ServiceHealth& health);

 private:
  void Send(const std::string& state);

  const platform::SystemdNotifier notifier_;
  const Clock& clock_;
  bool ready_sent_ = false;
  std::string last_status_;
  std::optional<Clock::TimePoint> last_ping_;
  bool stall_logged_ = false;
  bool send_failure_logged_ = false;
};

}  // namespace weir::app
