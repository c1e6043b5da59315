#include "agent/pipeline/detect_stage.h"

#include <algorithm>

#include "agent/codec/defect_codec.h"
#include "agent/core/logging.h"

namespace weir::pipeline {
namespace {

constexpr size_t kLatencySamples = 1024;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

DetectStage::DetectStage(DetectStageOptions options, transport::MqttClient* local,
                         const Clock& clock)
    : options_(std::move(options)),
      local_(local),
      clock_(clock),
      engine_(std::make_unique<detect::Engine>(options_.engine)) {
  latencies_ms_.reserve(kLatencySamples);
  next_tick_ = clock_.Now() + options_.tick_interval;
}

AggregateMode DetectStage::ModeFor(const std::string& sensor) {
  if (options_.aggregates.empty()) return AggregateMode::kOff;
  auto it = modes_.find(sensor);
  if (it != modes_.end()) return it->second;
  AggregateMode mode = AggregateMode::kOff;
  for (const auto& [pattern, m] : options_.aggregates) {
    if (detect::GlobMatch(pattern, sensor)) {
      mode = m;
      break;
    }
  }
  // Bounded like the engine's own per-sensor state: past max_sensors, look up every time.
  if (modes_.size() < options_.engine.max_sensors) modes_.emplace(sensor, mode);
  return mode;
}

void DetectStage::Publish(const std::vector<Defect>& defects, size_t from,
                          Clock::TimePoint arrived) {
  if (!options_.publish_local || local_ == nullptr) return;
  for (size_t i = from; i < defects.size(); ++i) {
    auto token =
        local_->Publish(options_.local_topic, codec::DefectToJsonText(defects[i]), 1, false);
    std::lock_guard lock(mu_);
    if (!token.ok()) {
      ++counters_.local_publish_failed;
      continue;
    }
    ++counters_.published_local;
    const double ms = std::chrono::duration<double, std::milli>(clock_.Now() - arrived).count();
    if (latencies_ms_.size() < kLatencySamples) {
      latencies_ms_.push_back(ms);
    } else {
      latencies_ms_[latency_next_] = ms;
      latency_next_ = (latency_next_ + 1) % kLatencySamples;
    }
  }
}

void DetectStage::Aggregate(std::vector<detect::ClosedWindow>& windows, std::vector<Reading>* out) {
  uint64_t made = 0;
  for (const detect::ClosedWindow& w : windows) {
    if (ModeFor(w.sensor) == AggregateMode::kOff || w.stats.count == 0) continue;
    const TimeMicros t = w.end_us;
    out->push_back({w.sensor + ".count", t, static_cast<double>(w.stats.count), 0});
    out->push_back({w.sensor + ".min", t, w.stats.min, 0});
    out->push_back({w.sensor + ".max", t, w.stats.max, 0});
    out->push_back({w.sensor + ".mean", t, w.stats.mean, 0});
    out->push_back({w.sensor + ".stddev", t, w.stats.stddev, 0});
    made += 5;
  }
  windows.clear();
  if (made != 0) {
    std::lock_guard lock(mu_);
    counters_.aggregates += made;
  }
}

void DetectStage::UpdateOptions(DetectStageOptions options) {
  std::lock_guard lock(mu_);
  pending_ = std::move(options);
  has_pending_.store(true, std::memory_order_release);
}

void DetectStage::ApplyPendingOptions() {
  if (!has_pending_.exchange(false, std::memory_order_acq_rel)) return;
  std::optional<DetectStageOptions> next;
  {
    std::lock_guard lock(mu_);
    next.swap(pending_);
  }
  if (!next) return;
  options_ = std::move(*next);
  engine_ = std::make_unique<detect::Engine>(options_.engine);
  modes_.clear();
  windows_.clear();
  LogInfo("detect", std::string("detection reconfigured") + (options_.enabled ? "" : ": off"));
}

void DetectStage::OnReadings(std::vector<Reading>& readings, Clock::TimePoint arrived,
                             std::vector<Defect>* defects) {
  ApplyPendingOptions();
  if (!options_.enabled) return;
  const size_t first_defect = defects->size();
  std::vector<Reading> aggregates;
  bool drop_some = false;
  for (const Reading& r : readings) {
    engine_->Observe(r, defects, &windows_);
    if (!windows_.empty()) Aggregate(windows_, &aggregates);
    drop_some = drop_some || ModeFor(r.sensor) == AggregateMode::kInstead;
  }
  // Local action first: the publish is the latency that matters.
  Publish(*defects, first_defect, arrived);
  if (drop_some) {
    std::erase_if(readings,
                  [&](const Reading& r) { return ModeFor(r.sensor) == AggregateMode::kInstead; });
  }
  readings.insert(readings.end(), std::make_move_iterator(aggregates.begin()),
                  std::make_move_iterator(aggregates.end()));
}

void DetectStage::OnTick(std::vector<Reading>* readings, std::vector<Defect>* defects) {
  ApplyPendingOptions();
  if (!options_.enabled) return;
  const Clock::TimePoint now = clock_.Now();
  if (now < next_tick_) return;
  next_tick_ = now + options_.tick_interval;
  const size_t first_defect = defects->size();
  engine_->AdvanceTime(clock_.WallMicros(), defects, &windows_);
  Aggregate(windows_, readings);
  Publish(*defects, first_defect, now);
  const auto& c = engine_->counters();
  std::lock_guard lock(mu_);
  counters_.readings = c.readings;
  counters_.defects = c.defects;
  counters_.late = c.late;
  counters_.sensors = engine_->sensors();
  counters_.incidents_opened = c.incidents_opened;
  counters_.incidents_closed = c.incidents_closed;
  counters_.incidents_open = c.incidents_opened - c.incidents_closed;
  counters_.open_incidents = engine_->OpenIncidents(kMaxListedIncidents);
}

DetectCounters DetectStage::counters() const {
  std::lock_guard lock(mu_);
  DetectCounters c = counters_;
  c.local_latency_p50_ms = Percentile(latencies_ms_, 0.50);
  c.local_latency_p99_ms = Percentile(latencies_ms_, 0.99);
  return c;
}

}  // namespace weir::pipeline
