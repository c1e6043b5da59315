// AutoScorer: the configuration-free `auto` anomaly score in [0, 1] for one sensor's stream.
//
// Single pass, constant memory (sizeof(AutoScorer), no heap), never looks ahead. Not thread-safe;
// one instance per sensor, owned by its caller. See agent/detect/README.md for how it works.
#pragma once

#include <array>
#include <cstdint>

namespace weir::detect {

// Shared defaults; NAB is scored with exactly these (no per-file tuning).
struct AutoConfig {
  int warmup = 150;           // readings that only teach the scorer (score 0)
  double fast_alpha = 0.3;    // smoothing of the level signal
  double vol_alpha = 0.3;     // smoothing of the volatility signal
  double range_decay = 5e-5;  // per-reading shrink of each remembered range (forgetting)
  double margin = 0.0;        // excess (in ranges) below which nothing is reported
  double full_excess = 1.0;   // excess (in ranges) that maps to score 1
  double alarm_score = 1.01;  // a score at or above this starts a hold-off (> 1: never)
  int holdoff = 0;            // readings after an alarm whose score is forced to 0
  std::array<double, 4> weights = {1.0, 0.0, 0.0, 0.0};  // value, level, step, volatility
};

// A remembered [lo, hi] range of one signal that slowly forgets.
struct DecayingRange {
  double lo = 0, hi = 0;
  bool seeded = false;
  // How far x lies outside the range, in units of its width; then widens the range to x.
  double ExcessThenAdd(double x, double decay, double floor);
};

class AutoScorer {
 public:
  static constexpr int kSignals = 4;

  explicit AutoScorer(const AutoConfig& config = {}) : config_(config) {}

  // Folds in the next value and returns its anomaly score in [0, 1].
  double Observe(double value);

  // True when the last Observe() crossed alarm_score and started a hold-off.
  bool alarmed() const { return alarmed_; }
  uint64_t count() const { return count_; }
  // Which signal drove the last score (0 value, 1 level, 2 step, 3 volatility).
  int last_signal() const { return last_signal_; }

 private:
  AutoConfig config_;
  uint64_t count_ = 0;
  double prev_ = 0, level_ = 0, vol_ = 0;
  std::array<DecayingRange, kSignals> ranges_{};
  int holdoff_left_ = 0;
  int last_signal_ = 0;
  bool alarmed_ = false;
};

}  // namespace weir::detect
