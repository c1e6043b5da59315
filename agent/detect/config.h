// The detection config as plain structs: windows, each detector's parameters, hold-off, and rules
// that map sensor-id glob patterns to a config. The config module maps JSON onto these later.
// Value types; no validation beyond Validate(), which returns InvalidArgument naming the field.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/detect/auto_score.h"

namespace weir::detect {

inline constexpr TimeMicros kSecond = 1'000'000;

enum class WindowKind : uint8_t {
  kTumbling,  // [k*size, (k+1)*size)
  kSliding,   // size long, a new one every hop (hopping windows)
  kCount,     // every `count` readings, in arrival order
};

struct WindowConfig {
  WindowKind kind = WindowKind::kTumbling;
  TimeMicros size_us = 60 * kSecond;
  TimeMicros hop_us = 0;  // sliding only; 0 means size_us (tumbling)
  uint32_t count = 100;   // count windows only
  // Readings older than (newest event time - allowed_lateness) are late: counted, not folded in.
  TimeMicros allowed_lateness_us = 5 * kSecond;
};

struct LimitsConfig {  // static limits
  bool enabled = false;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

struct RateConfig {  // rate of change, in value units per second
  bool enabled = false;
  double max_per_second = std::numeric_limits<double>::infinity();
};

struct SpikeConfig {  // robust z-score on the median and MAD of the last `window` readings
  bool enabled = false;
  uint32_t window = 64;  // at most SpikeDetector::kMaxWindow
  uint32_t min_count = 16;
  double z = 8.0;
};

struct ShiftConfig {  // level shift (two-sided CUSUM) and drift (EWMA against a frozen baseline)
  bool enabled = false;
  uint32_t baseline_count = 200;  // readings that set the baseline mean and sd
  double cusum_k = 0.5;           // slack, in baseline sds
  double cusum_h = 12.0;          // decision threshold, in baseline sds
  double ewma_alpha = 0.02;
  double drift_sds = 3.0;  // EWMA further than this from the baseline mean is drift
};

struct FlatlineConfig {  // stuck value
  bool enabled = false;
  uint32_t min_repeats = 30;  // this many readings within epsilon of each other
  double epsilon = 0.0;
};

struct DropoutConfig {  // no reading for longer than expected
  bool enabled = false;
  TimeMicros max_gap_us = 60 * kSecond;
};

struct AutoDetectorConfig {
  bool enabled = true;
  // A score at or above this raises a kAnomaly defect. Per-reading scores are NAB-calibrated (0.5
  // is about the corpus-optimal NAB threshold); alerts default higher so plain noise stays quiet.
  double threshold = 0.95;
  AutoConfig params;
};

// Everything one sensor runs. The default runs only `auto`.
struct DetectorConfig {
  std::string name = "default";  // prefixes Defect::detector, e.g. "default.spike"
  WindowConfig window;
  LimitsConfig limits;
  RateConfig rate;
  SpikeConfig spike;
  ShiftConfig shift;
  FlatlineConfig flatline;
  DropoutConfig dropout;
  AutoDetectorConfig auto_score;
  // After a defect, the same detector on the same sensor stays quiet this long (event time).
  TimeMicros holdoff_us = 300 * kSecond;
  uint32_t max_evidence = 8;  // triggering readings kept per defect (and per sensor)
};

struct SensorRule {
  std::string pattern;  // glob on the sensor id: '*' any run, '?' one character
  DetectorConfig config;
};

// A multivariate group: the sensors of one machine, watched together (group.h, mspc.h).
inline constexpr size_t kMaxGroupSensors = 32;
struct GroupConfig {
  std::string name;                  // the group defects' `sensor`, e.g. "pump1"
  std::vector<std::string> sensors;  // exact ids or globs ('*', '?'); at most kMaxGroupSensors
  TimeMicros interval_us = kSecond;  // the time grid's step
  // A sensor's last value stands for it on the grid this long; older, it is missing.
  TimeMicros staleness_us = 5 * kSecond;
  // The learning period, of normal operation: complete grid rows (the first half fits the model,
  // the second half sets the control limits), or, when learn_time_us > 0, that much event time.
  uint32_t learn_rows = 1800;
  TimeMicros learn_time_us = 0;
  double variance = 0.9;     // PCA keeps components explaining this share of the variance
  double alpha = 1e-5;       // per-row false alarm rate the control limits are set for
  uint32_t persistence = 3;  // consecutive grid rows beyond a limit before the group fires
  uint32_t top = 3;          // sensors named in a group defect
};

struct EngineConfig {
  std::vector<SensorRule> rules;  // first match wins
  DetectorConfig fallback;        // for sensors no rule matches
  uint32_t max_sensors = 10'000;  // readings of further sensors are counted and dropped
  // Incidents (incident.h): > 0 turns findings into open/close records per sensor, closing after
  // a sensor has had no finding for this long (event time); hold-off then does not apply. 0 (the
  // library's default, for callers that want every finding) raises one defect per finding past
  // the hold-off, as before incidents existed. The agent's default is 300 s (config schema).
  TimeMicros incident_close_after_us = 0;
  // Multivariate groups; a sensor joins the first group that matches it. Group incidents close
  // after incident_close_after_us, or kGroupCloseAfterDefault when that is 0.
  std::vector<GroupConfig> groups;
};

inline constexpr TimeMicros kGroupCloseAfterDefault = 300 * kSecond;

// Returns OK or InvalidArgument naming the bad field ("rules[2].spike.window: ...").
Status Validate(const EngineConfig& config);

// True when `text` matches the glob `pattern` ('*' and '?').
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace weir::detect
