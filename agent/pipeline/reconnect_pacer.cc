#include "agent/pipeline/reconnect_pacer.h"

#include <algorithm>

namespace weir::pipeline {

ReconnectPacer::ReconnectPacer(ReconnectPacing pacing, BackoffOptions backoff, uint64_t seed)
    : pacing_(pacing), backoff_(backoff, seed), rng_(seed ^ 0x5DEECE66Dull) {
  if (pacing_.probe_max < pacing_.probe_min) pacing_.probe_max = pacing_.probe_min;
}

std::chrono::nanoseconds ReconnectPacer::Uniform(std::chrono::nanoseconds lo,
                                                 std::chrono::nanoseconds hi) {
  if (hi <= lo) return lo;
  std::uniform_int_distribution<int64_t> d(lo.count(), hi.count());
  return std::chrono::nanoseconds(d(rng_));
}

void ReconnectPacer::Start(TimePoint now) {
  connect_at_ = now;
  connect_not_before_ = now;
}

void ReconnectPacer::OnConnected() {
  backoff_.Reset();
  connect_at_.reset();
  last_backoff_ = std::chrono::nanoseconds(0);
}

void ReconnectPacer::OnDisconnected(TimePoint now, bool was_connected) {
  connect_at_.reset();
  if (was_connected) {
    // The broker may be back in a moment (a restart, a blip): probe soon.
    last_backoff_ = std::chrono::nanoseconds(0);
    connect_not_before_ = now;
    next_probe_ = now + Uniform(std::chrono::nanoseconds(0), pacing_.probe_min);
    return;
  }
  // A connect attempt failed. If the broker answered probes, it refuses or cannot serve us:
  // back off before the next attempt. Probing goes on meanwhile (it tells nothing new, but a
  // reachable broker is what lets the connect happen when the backoff ends).
  last_backoff_ = backoff_.Next();
  connect_not_before_ = now + last_backoff_;
  next_probe_ = now + Uniform(pacing_.probe_min, pacing_.probe_max);
}

void ReconnectPacer::OnProbe(TimePoint now, bool reachable) {
  if (!reachable) {
    next_probe_ = now + Uniform(pacing_.probe_min, pacing_.probe_max);
    return;
  }
  connect_at_ =
      std::max(now + Uniform(std::chrono::nanoseconds(0), pacing_.spread), connect_not_before_);
}

bool ReconnectPacer::TakeConnect(TimePoint now) {
  if (!connect_at_ || now < *connect_at_) return false;
  connect_at_.reset();
  // Until the attempt's outcome arrives nothing else is due; OnDisconnected schedules again.
  next_probe_ = TimePoint::max();
  return true;
}

ReconnectPacer::TimePoint ReconnectPacer::NextWake() const {
  return connect_at_ ? *connect_at_ : next_probe_;
}

}  // namespace weir::pipeline
