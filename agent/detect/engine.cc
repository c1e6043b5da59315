// The detection engine; see engine.h.
#include "agent/detect/engine.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "agent/detect/auto_score.h"
#include "agent/detect/detectors.h"
#include "agent/detect/group.h"
#include "agent/detect/incident.h"
#include "agent/detect/window.h"

namespace weir::detect {
namespace {

constexpr uint32_t kMaxEvidence = 32;
constexpr size_t kKinds = static_cast<size_t>(DefectKind::kAnomaly) + 1;
constexpr TimeMicros kNever = std::numeric_limits<TimeMicros>::min();

const char* KindName(DefectKind kind) {
  switch (kind) {
    case DefectKind::kThreshold:
      return "limits";
    case DefectKind::kRateOfChange:
      return "rate";
    case DefectKind::kSpike:
      return "spike";
    case DefectKind::kLevelShift:
      return "shift";
    case DefectKind::kDrift:
      return "drift";
    case DefectKind::kFlatline:
      return "flatline";
    case DefectKind::kDropout:
      return "dropout";
    case DefectKind::kChangePoint:
      return "changepoint";
    case DefectKind::kAnomaly:
      return "auto";
  }
  return "unknown";
}

}  // namespace

// Holds only what the sensor's config uses: the `auto` scorer when `auto` is on, the spike ring
// when spike is on (SpikeDetector allocates it), the evidence ring at max_evidence, window slots
// for what the window config keeps open. StateBytesPerSensor() adds these up.
struct Engine::SensorState {
  SensorState(const std::string& id, const DetectorConfig& c)
      : sensor(id),
        config(&c),
        windows(c.window),
        auto_score(c.auto_score.enabled ? std::make_unique<AutoScorer>(c.auto_score.params)
                                        : nullptr),
        recent(EvidenceCapacity(c)) {
    last_defect.fill(kNever);
  }
  static uint32_t EvidenceCapacity(const DetectorConfig& c) {
    return std::min(c.max_evidence, kMaxEvidence);
  }

  std::string sensor;
  const DetectorConfig* config;  // points into Engine::config_, which never changes
  WindowAggregator windows;
  std::unique_ptr<AutoScorer> auto_score;  // null when `auto` is off
  RateDetector rate;
  SpikeDetector spike;
  ShiftDetector shift;
  FlatlineDetector flatline;
  std::array<TimeMicros, kKinds> last_defect;
  // The newest readings (time, value), for a defect's evidence; a ring of max_evidence.
  std::vector<std::pair<TimeMicros, double>> recent;
  uint32_t recent_next = 0, recent_size = 0;
  TimeMicros last_t = kNever;
  bool dropout_reported = false;
  std::unique_ptr<Incident> incident;  // while one is open (incidents on)
  int32_t group = -1;                  // index in the GroupEngine, -1: in no group
  uint32_t member = 0;
};

Engine::Engine(EngineConfig config) : config_(std::move(config)) {
  if (!config_.groups.empty()) {
    groups_ = std::make_unique<GroupEngine>(config_.groups, config_.incident_close_after_us > 0
                                                                ? config_.incident_close_after_us
                                                                : kGroupCloseAfterDefault);
  }
}
Engine::~Engine() = default;

size_t Engine::StateBytesPerSensor(const DetectorConfig& c) {
  size_t bytes = sizeof(SensorState);
  if (c.auto_score.enabled) bytes += sizeof(AutoScorer);
  if (c.spike.enabled) bytes += sizeof(double) * SpikeDetector::RingSize(c.spike);
  bytes += sizeof(std::pair<TimeMicros, double>) * SensorState::EvidenceCapacity(c);
  bytes += WindowAggregator::kBytesPerOpenWindow *
           static_cast<size_t>(WindowAggregator::OpenWindowsFor(c.window));
  return bytes;
}

const DetectorConfig& Engine::ConfigFor(const std::string& sensor) const {
  for (const SensorRule& rule : config_.rules) {
    if (GlobMatch(rule.pattern, sensor)) return rule.config;
  }
  return config_.fallback;
}

Engine::SensorState* Engine::Lookup(const std::string& sensor) {
  auto it = sensors_.find(sensor);
  if (it != sensors_.end()) return it->second.get();
  if (sensors_.size() >= config_.max_sensors) return nullptr;
  auto state = std::make_unique<SensorState>(sensor, ConfigFor(sensor));
  if (groups_ != nullptr) {
    if (auto where = groups_->Join(sensor)) {
      state->group = static_cast<int32_t>(where->first);
      state->member = where->second;
    }
  }
  SensorState* raw = state.get();
  sensors_.emplace(sensor, std::move(state));
  return raw;
}

void Engine::Emit(SensorState& s, const Finding& f, TimeMicros at, TimeMicros window_start,
                  TimeMicros window_end, const WindowStats& stats, std::vector<Defect>* out) {
  const bool incidents = config_.incident_close_after_us > 0;
  if (incidents && s.incident != nullptr) {
    s.incident->Update(at, std::clamp(f.score, 0.0, 1.0), f.severity);
    ++counters_.incident_updates;
    return;
  }
  TimeMicros& last = s.last_defect[static_cast<size_t>(f.kind)];
  if (!incidents && last != kNever && at - last < s.config->holdoff_us) {
    ++counters_.suppressed;
    return;
  }
  last = at;
  ++counters_.defects;
  Defect d;
  d.sensor = s.sensor;
  d.kind = f.kind;
  d.severity = f.severity;
  d.detector = s.config->name + "." + KindName(f.kind);
  d.window_start_us = window_start;
  d.window_end_us = window_end;
  d.detected_at_us = at;
  d.score = std::clamp(f.score, 0.0, 1.0);
  d.message = f.message;
  d.stats = stats;
  const auto capacity = static_cast<uint32_t>(s.recent.size());
  const uint32_t n = s.recent_size;  // at most capacity
  d.evidence.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {  // oldest first, ending with the triggering reading
    const auto& [t, v] = s.recent[(s.recent_next + capacity - n + i) % capacity];
    d.evidence.push_back(Reading{s.sensor, t, v, 0});
  }
  if (incidents) {
    s.incident = std::make_unique<Incident>();
    s.incident->Fire(d);
    ++counters_.incidents_opened;
  }
  out->push_back(std::move(d));
}

void Engine::MaybeClose(SensorState& s, TimeMicros now, std::vector<Defect>* out) {
  if (s.incident == nullptr || !s.incident->Due(now, config_.incident_close_after_us)) return;
  out->push_back(s.incident->Close(now));
  s.incident.reset();
  ++counters_.incidents_closed;
  ++counters_.defects;
}

void Engine::CountGroupDefects(const std::vector<Defect>& out, size_t from) {
  for (size_t i = from; i < out.size(); ++i) {
    ++counters_.defects;
    if (out[i].phase == IncidentPhase::kOpen) ++counters_.incidents_opened;
    if (out[i].phase == IncidentPhase::kClose) ++counters_.incidents_closed;
  }
}

bool Engine::IncidentOpen(const std::string& sensor) const {
  auto it = sensors_.find(sensor);
  if (it != sensors_.end() && it->second->incident != nullptr) return true;
  if (groups_ == nullptr) return false;
  for (const GroupDetector& g : groups_->groups()) {
    if (g.config().name == sensor) return g.incident().open();
  }
  return false;
}

std::vector<OpenIncident> Engine::OpenIncidents(size_t max) const {
  std::vector<OpenIncident> open;
  for (const auto& [id, s] : sensors_) {
    if (s->incident == nullptr) continue;
    const Incident& i = *s->incident;
    open.push_back(
        {i.id(), id, i.detector(), i.opened_at(), i.last_firing(), i.peak(), i.firings()});
  }
  if (groups_ != nullptr) {
    for (const GroupDetector& g : groups_->groups()) {
      const Incident& i = g.incident();
      if (!i.open()) continue;
      open.push_back({i.id(), g.config().name, i.detector(), i.opened_at(), i.last_firing(),
                      i.peak(), i.firings()});
    }
  }
  std::sort(open.begin(), open.end(), [](const OpenIncident& a, const OpenIncident& b) {
    return a.opened_at_us < b.opened_at_us;
  });
  if (open.size() > max) open.resize(max);
  return open;
}

void Engine::RunDetectors(SensorState& s, const Reading& r, std::vector<Defect>* out) {
  const DetectorConfig& c = *s.config;
  const WindowResult w = s.windows.Current();
  auto emit = [&](const std::optional<Finding>& f) {
    if (f) Emit(s, *f, r.time_us, w.start_us, w.end_us, w.stats, out);
  };
  emit(CheckLimits(c.limits, r.value));
  emit(s.rate.Observe(c.rate, r.time_us, r.value));
  emit(s.spike.Observe(c.spike, r.value));
  emit(s.shift.Observe(c.shift, r.value));
  emit(s.flatline.Observe(c.flatline, r.value));
}

double Engine::Observe(const Reading& r, std::vector<Defect>* out,
                       std::vector<ClosedWindow>* windows) {
  ++counters_.readings;
  SensorState* s = Lookup(r.sensor);
  if (s == nullptr) {
    ++counters_.dropped_sensors;
    return 0;
  }
  const DetectorConfig& c = *s->config;
  std::vector<WindowResult> closed;
  const bool folded = s->windows.Add(r.time_us, r.value, &closed);
  if (windows != nullptr) {
    for (const WindowResult& w : closed) {
      windows->push_back({s->sensor, w.start_us, w.end_us, w.stats});
    }
  }
  if (!folded) {
    ++counters_.late;
    return 0;
  }
  if (s->last_t != kNever && r.time_us < s->last_t) {
    // Within the lateness allowance: it counts in its window, but the sequential detectors
    // only ever see time moving forward.
    ++counters_.out_of_order;
    return 0;
  }
  // A gap the watermark has not already reported through AdvanceTime().
  if (c.dropout.enabled && s->last_t != kNever && r.time_us - s->last_t > c.dropout.max_gap_us &&
      !s->dropout_reported) {
    char msg[96];
    std::snprintf(msg, sizeof(msg), "no reading for %.1f s (expected within %.1f s)",
                  static_cast<double>(r.time_us - s->last_t) / kSecond,
                  static_cast<double>(c.dropout.max_gap_us) / kSecond);
    Emit(*s, Finding{DefectKind::kDropout, Severity::kWarning, 1.0, msg}, r.time_us, s->last_t,
         r.time_us, {}, out);
  }
  s->dropout_reported = false;
  s->last_t = r.time_us;
  MaybeClose(*s, r.time_us, out);
  if (s->group >= 0) {
    const size_t before = out->size();
    groups_->ObserveReading({static_cast<uint32_t>(s->group), s->member}, r.time_us, r.value, out);
    CountGroupDefects(*out, before);
  }
  const auto capacity = static_cast<uint32_t>(s->recent.size());
  if (capacity > 0) {
    s->recent[s->recent_next] = {r.time_us, r.value};
    s->recent_next = (s->recent_next + 1) % capacity;
    s->recent_size = std::min(s->recent_size + 1, capacity);
  }

  RunDetectors(*s, r, out);
  if (s->auto_score == nullptr) return 0;
  const double score = s->auto_score->Observe(r.value, r.time_us);
  if (score >= c.auto_score.threshold) {
    char msg[96];
    std::snprintf(msg, sizeof(msg), "anomaly score %.3f at value %g", score, r.value);
    const WindowResult w = s->windows.Current();
    Emit(*s,
         Finding{DefectKind::kAnomaly, score >= 0.9 ? Severity::kCritical : Severity::kWarning,
                 score, msg},
         r.time_us, w.start_us, w.end_us, w.stats, out);
  }
  return score;
}

void Engine::AdvanceTime(TimeMicros now, std::vector<Defect>* out,
                         std::vector<ClosedWindow>* windows) {
  if (groups_ != nullptr) {
    const size_t before = out->size();
    groups_->AdvanceTime(now, out);
    CountGroupDefects(*out, before);
  }
  std::vector<WindowResult> closed;
  for (auto& [id, state] : sensors_) {
    SensorState& s = *state;
    const DetectorConfig& c = *s.config;
    closed.clear();
    s.windows.AdvanceWatermark(now - c.window.allowed_lateness_us, &closed);
    if (windows != nullptr) {
      for (const WindowResult& w : closed) windows->push_back({id, w.start_us, w.end_us, w.stats});
    }
    // A sensor still silent after its dropout is not normal: its incident stays open.
    if (s.dropout_reported && s.incident != nullptr) s.incident->KeepAlive(now);
    MaybeClose(s, now, out);
    if (!c.dropout.enabled || s.last_t == kNever || s.dropout_reported ||
        now - s.last_t <= c.dropout.max_gap_us) {
      continue;
    }
    s.dropout_reported = true;
    char msg[96];
    std::snprintf(msg, sizeof(msg), "no reading for %.1f s (expected within %.1f s)",
                  static_cast<double>(now - s.last_t) / kSecond,
                  static_cast<double>(c.dropout.max_gap_us) / kSecond);
    Emit(s, Finding{DefectKind::kDropout, Severity::kWarning, 1.0, msg}, now, s.last_t, now, {},
         out);
  }
}

bool GlobMatch(std::string_view p, std::string_view t) {
  // Iterative matcher with one backtrack point for the last '*': linear in practice.
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

namespace {

Status CheckOne(const DetectorConfig& c, const std::string& where) {
  auto bad = [&](const std::string& field, const std::string& why) {
    return InvalidArgument(where + "." + field + ": " + why);
  };
  const WindowConfig& w = c.window;
  if (w.kind != WindowKind::kCount && w.size_us <= 0) return bad("window.size", "must be > 0");
  if (w.kind == WindowKind::kSliding) {
    if (w.hop_us <= 0 || w.hop_us > w.size_us) return bad("window.hop", "must be in (0, size]");
    if ((w.size_us + w.hop_us - 1) / w.hop_us > WindowAggregator::kMaxOverlap) {
      return bad("window.hop",
                 "size/hop must be at most " + std::to_string(WindowAggregator::kMaxOverlap));
    }
  }
  if (w.kind == WindowKind::kCount && w.count == 0) return bad("window.count", "must be > 0");
  if (w.allowed_lateness_us < 0) return bad("window.allowed_lateness", "must be >= 0");
  if (c.limits.enabled && !(c.limits.min <= c.limits.max)) return bad("limits", "min > max");
  if (c.rate.enabled && !(c.rate.max_per_second > 0))
    return bad("rate.max_per_second", "must be > 0");
  if (c.spike.enabled && (c.spike.window < 3 || c.spike.window > SpikeDetector::kMaxWindow)) {
    return bad("spike.window", "must be in [3, " + std::to_string(SpikeDetector::kMaxWindow) + "]");
  }
  if (c.spike.enabled && !(c.spike.z > 0)) return bad("spike.z", "must be > 0");
  if (c.shift.enabled && !(c.shift.ewma_alpha > 0 && c.shift.ewma_alpha <= 1)) {
    return bad("shift.ewma_alpha", "must be in (0, 1]");
  }
  if (c.shift.enabled && !(c.shift.cusum_h > 0)) return bad("shift.cusum_h", "must be > 0");
  if (c.flatline.enabled && c.flatline.epsilon < 0) return bad("flatline.epsilon", "must be >= 0");
  if (c.dropout.enabled && c.dropout.max_gap_us <= 0) return bad("dropout.max_gap", "must be > 0");
  if (c.auto_score.enabled && !(c.auto_score.threshold > 0 && c.auto_score.threshold <= 1)) {
    return bad("auto.threshold", "must be in (0, 1]");
  }
  if (c.holdoff_us < 0) return bad("holdoff", "must be >= 0");
  return Status::Ok();
}

}  // namespace

Status Validate(const EngineConfig& config) {
  for (size_t i = 0; i < config.rules.size(); ++i) {
    if (config.rules[i].pattern.empty()) {
      return InvalidArgument("rules[" + std::to_string(i) + "].pattern: must not be empty");
    }
    WEIR_RETURN_IF_ERROR(CheckOne(config.rules[i].config, "rules[" + std::to_string(i) + "]"));
  }
  WEIR_RETURN_IF_ERROR(CheckOne(config.fallback, "fallback"));
  if (config.max_sensors == 0) return InvalidArgument("max_sensors: must be > 0");
  if (config.incident_close_after_us < 0) {
    return InvalidArgument("incident_close_after: must be >= 0");
  }
  WEIR_RETURN_IF_ERROR(ValidateGroups(config.groups));
  return Status::Ok();
}

}  // namespace weir::detect
