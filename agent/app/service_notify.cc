#include "agent/app/service_notify.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "agent/core/logging.h"

namespace weir::app {

ServiceNotifier::ServiceNotifier(platform::SystemdNotifier notifier, const Clock& clock)
    : notifier_(std::move(notifier)), clock_(clock) {}

Clock::Duration ServiceNotifier::stall_limit() const {
  const auto interval = notifier_.watchdog_interval();
  return interval ? Clock::Duration(*interval) / 2 : Clock::Duration::max();
}

std::chrono::milliseconds ServiceNotifier::NextUpdateIn(std::chrono::milliseconds fallback) const {
  if (!notifier_.enabled()) return fallback;
  if (!ready_sent_) return std::min(fallback, std::chrono::milliseconds(100));
  const auto interval = notifier_.watchdog_interval();
  if (!interval) return fallback;
  const auto quarter = std::chrono::duration_cast<std::chrono::milliseconds>(*interval / 4);
  return std::clamp(quarter, std::chrono::milliseconds(1), fallback);
}

std::string ServiceNotifier::StatusLine(const ServiceHealth& h) {
  std::string line = "local ";
  line += pipeline::LinkStateName(h.local);
  line += ", upstream ";
  line += pipeline::LinkStateName(h.upstream);
  if (h.upstream != pipeline::LinkState::kConnected && !h.last_error.empty()) {
    line += " (" + h.last_error + ")";
  }
  line += "; backlog " + std::to_string(h.backlog_rows) + " records";
  if (h.backlog_rows > 0) {
    char age[48];
    std::snprintf(age, sizeof age, ", oldest %.0f s", h.oldest_unsent_age_s);
    line += age;
  }
  if (h.stalled) line += "; " + *h.stalled + " thread stuck";
  std::replace(line.begin(), line.end(), '\n', ' ');  // one line: a newline would end STATUS=
  return line;
}

void ServiceNotifier::Update(const ServiceHealth& health) {
  if (!notifier_.enabled()) return;
  if (!ready_sent_ && health.local_attempted && health.upstream_attempted) {
    Send("READY=1");
    ready_sent_ = true;
  }
  const std::string status = StatusLine(health);
  if (status != last_status_) {
    Send("STATUS=" + status);
    last_status_ = status;
  }
  const auto interval = notifier_.watchdog_interval();
  if (!interval || !ready_sent_) return;
  if (health.stalled) {
    if (!stall_logged_) {
      LogError("agent", "the " + *health.stalled +
                            " thread has made no progress; withholding the watchdog ping so "
                            "systemd restarts weir");
      stall_logged_ = true;
    }
    return;
  }
  stall_logged_ = false;
  const Clock::TimePoint now = clock_.Now();
  if (!last_ping_ || now - *last_ping_ >= Clock::Duration(*interval) / 4) {
    Send("WATCHDOG=1");
    last_ping_ = now;
  }
}

void ServiceNotifier::Stopping(const std::string& why) {
  if (!notifier_.enabled()) return;
  Send("STOPPING=1\nSTATUS=" + why);
}

void ServiceNotifier::Send(const std::string& state) {
  const Status s = notifier_.Notify(state);
  if (!s.ok() && !send_failure_logged_) {
    LogWarn("agent", "systemd notification not sent: " + s.ToString());
    send_failure_logged_ = true;
  }
}

}  // namespace weir::app
