// ReconnectPacer: when to probe and when to connect again after the upstream is lost.
//
// Why: exponential backoff alone (doubling to a 60 s cap) left data waiting on the gateway 8–32 s
// after the upstream came back (24 s after a 30 s outage), while the mosquitto bridge took ~12 s
// and Fluent Bit under 1 s. But a fleet must not come back in one wave either. So:
//  - While the upstream is unreachable, probe it cheaply (a TCP connect, MqttClient::Probe) every
//    probe_min..probe_max (uniform random). A probe costs the broker side one SYN.
//  - When a probe answers, connect after a random delay in [0, spread]: a fleet that lost the same
//    broker spreads its MQTT connects (TLS handshakes, session resumption) over `spread`.
//  - When the broker is reachable but the MQTT connect fails (refused, overloaded, TLS), the
//    next connect waits out capped exponential backoff with full jitter (core/Backoff) as before;
//    probes go on, but a connect is not attempted before the backoff allows it.
//  - A connection lost while connected probes at once (first probe within probe_min).
// Fleet arithmetic (defaults: probes every 0.25–0.75 s, 3 s spread): after the broker returns,
// each gateway's first answered probe comes within 0.75 s (0.27 s on average) and its connect
// within the 3 s after that. A fleet of 10,000 gateways therefore arrives over ~3.75 s, at most
// about 3,400 connects in any one second instead of 10,000 at once; one gateway publishes again
// after 1.8 s at the median and 3.75 s at worst, plus the connect itself (measured by
// reconnect_pacer_test and tests/bench/e2e). During the outage the fleet costs the broker's
// address 20,000 SYNs a second, each refused or dropped.
// A larger fleet raises upstream.reconnect_spread_ms.
//
// Not thread-safe: the forwarder thread owns it. Time is passed in (tests use a fake clock); the
// random source is seeded.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "agent/core/backoff.h"
#include "agent/core/clock.h"

namespace weir::pipeline {

struct ReconnectPacing {
  std::chrono::milliseconds probe_min{250};
  std::chrono::milliseconds probe_max{750};
  std::chrono::milliseconds spread{3000};        // upstream.reconnect_spread_ms
  std::chrono::milliseconds probe_timeout{300};  // how long a probe may wait for the TCP connect
};

class ReconnectPacer {
 public:
  using TimePoint = Clock::TimePoint;

  ReconnectPacer(ReconnectPacing pacing, BackoffOptions backoff, uint64_t seed);

  // The first connect after start happens at once.
  void Start(TimePoint now);
  // The connection is up: backoff starts again from its base.
  void OnConnected();
  // The connection went down (`was_connected`) or a connect attempt failed.
  void OnDisconnected(TimePoint now, bool was_connected);
  // A probe's outcome.
  void OnProbe(TimePoint now, bool reachable);

  bool ProbeDue(TimePoint now) const { return !connect_at_ && now >= next_probe_; }
  // True once when a connect should be attempted now.
  bool TakeConnect(TimePoint now);
  // The next moment something is due.
  TimePoint NextWake() const;
  const ReconnectPacing& pacing() const { return pacing_; }
  // The delay the last failed connect imposed (for the log line).
  std::chrono::nanoseconds last_backoff() const { return last_backoff_; }

 private:
  std::chrono::nanoseconds Uniform(std::chrono::nanoseconds lo, std::chrono::nanoseconds hi);

  ReconnectPacing pacing_;
  Backoff backoff_;
  std::mt19937_64 rng_;
  TimePoint next_probe_{};
  std::optional<TimePoint> connect_at_;  // a connect is scheduled
  TimePoint connect_not_before_{};       // backoff after a failed connect
  std::chrono::nanoseconds last_backoff_{0};
};

}  // namespace weir::pipeline
