// Health of a trial: whether the agent got worse after a config was applied. The host samples
// cumulative counters (HealthSample); the trial compares the window W after the apply with the
// baseline B, the minute before it. Criteria that were already failing in B are not held against
// the new config. Codes (stable, reported as the rollback reason):
//   health.H1  a pipeline stage stopped making progress (watchdog stall)
//   health.H2  upstream: >= 2 connection losses in W; down at the end of W; a backlog with no
//              acknowledgement through W; publishes refused by the broker where B had none
//   health.H4  ingest: the share of rejected messages rose above max(2 x B, B + 20 points)
//   health.H5  store: a new store error, or ingest newly held back by quota or disk
// (H3, the local broker refusing a subscription, and H6, memory/CPU, are not judged yet: see
// agent/control/README.md.) When upstream was down at the apply, H2 cannot be judged; the trial
// then commits with `upstream_unverified`.
//
// Pure; no I/O; thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "agent/control/document.h"
#include "agent/core/clock.h"

namespace weir::control {

struct HealthSample {
  Clock::TimePoint at{};
  bool upstream_connected = false;
  uint64_t upstream_losses = 0;   // connections lost, cumulative
  uint64_t upstream_acked = 0;    // messages acknowledged, cumulative
  uint64_t upstream_refused = 0;  // publishes refused by the broker or given up, cumulative
  uint64_t backlog_rows = 0;      // unsent now
  uint64_t ingest_messages = 0;   // cumulative, including rejected
  uint64_t ingest_rejected = 0;   // cumulative
  uint64_t store_errors = 0;      // cumulative (or 1 once the store has a fatal error)
  bool store_held_back = false;   // quota or disk holds ingest back now
  bool stalled = false;           // a stage missed its heartbeat (watchdog)
};

// Messages in W below this are too few to judge a rejection ratio.
inline constexpr uint64_t kMinMessagesForRatio = 5;

// `base` at the start of B, `start` at the apply, `now` the latest sample. `window_over`: W has
// ended (criteria about the end of W are judged only then). A refusal when unhealthy.
std::optional<Refusal> JudgeHealth(const HealthSample& base, const HealthSample& start,
                                   const HealthSample& now, bool window_over);

}  // namespace weir::control
