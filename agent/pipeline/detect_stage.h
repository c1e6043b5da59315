// DetectStage: runs the detection engine (agent/detect) on the store thread, as readings arrive,
// before they are committed, so a defect is known in microseconds even while the uplink is down.
//
// For each batch of readings it
//  - folds every reading into the engine; defects are returned to the store thread (which writes
//    them to the defects lane, forwarded ahead of readings) and, when publish_local is set,
//    published at once as JSON on the local broker (<prefix>/<device>/defects, QoS 1, not
//    retained) for local action — a PLC, a siren, Node-RED;
//  - turns closed windows of sensors with an aggregate mode into readings
//    "<sensor>.count|min|max|mean|stddev" stamped at the window's end, stored beside the raw
//    readings, or instead of them (the raw readings of those sensors are then not stored: an
//    explicit, configured trade of detail for uplink bandwidth).
// With incidents on (detect.incident_close_after_s > 0, the default), the defects are incident
// records: one `open` and one `close` per incident, for sensors and for multivariate groups
// (detect.groups: their records name the group and its top contributing sensors); counters()
// lists the open ones for status.json.
// Tick() advances event time to the wall clock about once a second (dropout defects, windows
// closing without new readings).
//
// Threads: used by the store thread only, except counters() and UpdateOptions(), which are
// thread-safe. The local
// client is used only for non-blocking publishes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/record.h"
#include "agent/detect/config.h"
#include "agent/detect/engine.h"
#include "agent/pipeline/store_stage.h"
#include "agent/transport/mqtt_client.h"

namespace weir::pipeline {

enum class AggregateMode { kOff, kBeside, kInstead };

struct DetectStageOptions {
  bool enabled = true;          // false: readings pass through untouched
  detect::EngineConfig engine;  // must be valid (detect::Validate)
  // Sensor glob -> aggregate mode; first match wins; sensors no pattern matches: kOff.
  std::vector<std::pair<std::string, AggregateMode>> aggregates;
  bool publish_local = true;
  std::string local_topic;  // <prefix>/<device>/defects
  std::chrono::milliseconds tick_interval{1000};
};

struct DetectCounters {
  uint64_t readings = 0;
  uint64_t defects = 0;
  uint64_t late = 0;  // readings older than the watermark (counted, not folded in)
  uint64_t published_local = 0;
  uint64_t local_publish_failed =
      0;                    // local broker down or window full: still logged and forwarded
  uint64_t aggregates = 0;  // aggregate readings made
  uint64_t sensors = 0;
  uint64_t incidents_opened = 0;
  uint64_t incidents_closed = 0;
  // The oldest open incidents (at most kMaxListedIncidents), refreshed every tick.
  std::vector<detect::OpenIncident> open_incidents;
  uint64_t incidents_open = 0;  // all of them, listed or not
  // Arrival of the triggering message to the local publish call, over the last 1,024 defects.
  double local_latency_p50_ms = 0;
  double local_latency_p99_ms = 0;
};

class DetectStage final : public DetectHook {
 public:
  static constexpr size_t kMaxListedIncidents = 32;
  // `local` may be null (no local publishing); it and `clock` must outlive the stage.
  DetectStage(DetectStageOptions options, transport::MqttClient* local, const Clock& clock);

  void OnReadings(std::vector<Reading>& readings, Clock::TimePoint arrived,
                  std::vector<Defect>* defects) override;
  void OnTick(std::vector<Reading>* readings, std::vector<Defect>* defects) override;

  DetectCounters counters() const;

  // Replaces the options (reload), from any thread. The store thread applies them before its
  // next batch; a changed engine config starts the detectors afresh (their windows and
  // baselines are rebuilt from the readings that follow).
  void UpdateOptions(DetectStageOptions options);

 private:
  AggregateMode ModeFor(const std::string& sensor);
  void ApplyPendingOptions();
  void Publish(const std::vector<Defect>& defects, size_t from, Clock::TimePoint arrived);
  void Aggregate(std::vector<detect::ClosedWindow>& windows, std::vector<Reading>* out);

  DetectStageOptions options_;
  transport::MqttClient* const local_;
  const Clock& clock_;
  std::unique_ptr<detect::Engine> engine_;
  std::atomic<bool> has_pending_{false};
  std::optional<DetectStageOptions> pending_;             // guarded by mu_
  std::unordered_map<std::string, AggregateMode> modes_;  // cache of ModeFor
  std::vector<detect::ClosedWindow> windows_;             // scratch
  Clock::TimePoint next_tick_{};
  mutable std::mutex mu_;  // guards counters_ and latencies_
  DetectCounters counters_;
  std::vector<double> latencies_ms_;  // ring
  size_t latency_next_ = 0;
};

}  // namespace weir::pipeline
