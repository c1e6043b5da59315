// The single-signal detectors, one small class each, run per sensor by the Engine: static limits,
// rate of change, spike (robust z-score on median and MAD), level shift (CUSUM) and drift (EWMA),
// and flatline. Dropout needs no state of its own and lives in the engine.
//
// Each sees readings of one sensor in event-time order, once, and returns a Finding when it fires.
// Fixed-size state (the spike ring is sized once, on first use). Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/record.h"
#include "agent/detect/config.h"

namespace weir::detect {

struct Finding {
  DefectKind kind = DefectKind::kAnomaly;
  Severity severity = Severity::kWarning;
  double score = 0;  // in [0, 1]
  std::string message;
};

std::optional<Finding> CheckLimits(const LimitsConfig& config, double value);

class RateDetector {
 public:
  std::optional<Finding> Observe(const RateConfig& config, TimeMicros t, double value);

 private:
  bool seeded_ = false;
  TimeMicros prev_t_ = 0;
  double prev_ = 0;
};

// The one detector with a buffer: its ring of the last `window` readings is allocated on the first
// reading it sees enabled (window doubles), so a sensor without spike detection pays 32 bytes.
class SpikeDetector {
 public:
  static constexpr uint32_t kMaxWindow = 128;
  // Readings the ring holds for this config: its window, clamped to [3, kMaxWindow].
  static uint32_t RingSize(const SpikeConfig& config) {
    return config.window < 3 ? 3 : (config.window > kMaxWindow ? kMaxWindow : config.window);
  }
  std::optional<Finding> Observe(const SpikeConfig& config, double value);

 private:
  std::vector<double> ring_;  // sized to the configured window on first use
  uint32_t size_ = 0, next_ = 0;
};

class ShiftDetector {
 public:
  std::optional<Finding> Observe(const ShiftConfig& config, double value);

 private:
  uint64_t n_ = 0;
  double mean_ = 0, m2_ = 0;  // baseline (Welford), frozen after baseline_count
  double pos_ = 0, neg_ = 0;  // CUSUM sums in baseline sds
  double ewma_ = 0;
};

class FlatlineDetector {
 public:
  std::optional<Finding> Observe(const FlatlineConfig& config, double value);

 private:
  uint32_t run_ = 0;
  double lo_ = 0, hi_ = 0;
  bool reported_ = false;
};

}  // namespace weir::detect
