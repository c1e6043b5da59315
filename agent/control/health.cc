#include "agent/control/health.h"

#include <algorithm>
#include <string>

namespace weir::control {
namespace {

Refusal Unhealthy(const char* code, std::string detail) {
  return {std::string("health.") + code, std::move(detail)};
}

double Ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

std::optional<Refusal> JudgeUpstream(const HealthSample& base, const HealthSample& start,
                                     const HealthSample& now, bool window_over) {
  if (!start.upstream_connected) return std::nullopt;  // cannot judge: upstream_unverified
  const uint64_t losses = now.upstream_losses - start.upstream_losses;
  if (losses >= 2) {
    return Unhealthy("H2", "upstream connection lost " + std::to_string(losses) + " times");
  }
  const bool refused_in_b = start.upstream_refused > base.upstream_refused;
  if (!refused_in_b && now.upstream_refused > start.upstream_refused) {
    return Unhealthy("H2", "the upstream broker refused " +
                               std::to_string(now.upstream_refused - start.upstream_refused) +
                               " publishes");
  }
  if (!window_over) return std::nullopt;
  if (!now.upstream_connected) return Unhealthy("H2", "upstream disconnected at the end");
  if (now.backlog_rows > 0 && now.upstream_acked == start.upstream_acked) {
    return Unhealthy(
        "H2", "a backlog of " + std::to_string(now.backlog_rows) + " rows and no acknowledgement");
  }
  return std::nullopt;
}

std::optional<Refusal> JudgeIngest(const HealthSample& base, const HealthSample& start,
                                   const HealthSample& now) {
  const uint64_t w_msgs = now.ingest_messages - start.ingest_messages;
  if (w_msgs < kMinMessagesForRatio) return std::nullopt;
  const double w = Ratio(now.ingest_rejected - start.ingest_rejected, w_msgs);
  const double b = Ratio(start.ingest_rejected - base.ingest_rejected,
                         start.ingest_messages - base.ingest_messages);
  if (w > std::max(2 * b, b + 0.2)) {
    return Unhealthy("H4", "rejected " + std::to_string(static_cast<int>(w * 100)) +
                               "% of ingest messages, " +
                               std::to_string(static_cast<int>(b * 100)) + "% before");
  }
  return std::nullopt;
}

}  // namespace

std::optional<Refusal> JudgeHealth(const HealthSample& base, const HealthSample& start,
                                   const HealthSample& now, bool window_over) {
  if (now.stalled && !start.stalled) return Unhealthy("H1", "a pipeline stage stalled");
  if (auto r = JudgeUpstream(base, start, now, window_over)) return r;
  if (auto r = JudgeIngest(base, start, now)) return r;
  if (now.store_errors > start.store_errors) return Unhealthy("H5", "store error");
  if (now.store_held_back && !start.store_held_back) {
    return Unhealthy("H5", "ingest held back by the store quota or the disk");
  }
  return std::nullopt;
}

}  // namespace weir::control
