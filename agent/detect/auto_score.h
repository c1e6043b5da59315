// AutoScorer: the configuration-free `auto` anomaly score in [0, 1] for one sensor's stream.
//
// Single pass, constant memory (sizeof(AutoScorer), no heap), never looks ahead. Not thread-safe;
// one instance per sensor, owned by its caller. See agent/detect/README.md for how it works.
#pragma once

#include <array>
#include <cstdint>

namespace weir::detect {

// The defaults are the shared parameters NAB is scored with (no per-file tuning); every field has
// a default, so `auto` needs no configuration.
struct AutoConfig {
  int warmup = 150;            // readings that only teach the scorer (score 0)
  double level_alpha = 0.03;   // EWMA of the value: the level signal
  double vol_alpha = 0.02;     // EWMA of |step|: the volatility signal
  double season_alpha = 0.07;  // per hour of day, EWMA of the value: the daily signal's baseline
  double range_decay = 5e-5;   // per-reading shrink of each remembered range (slow forgetting)
  // Weights of the signals' excess: value, level, step, volatility, daily.
  std::array<double, 5> weights = {1.0, 0.7, 0.0, 0.3, 0.4};
  double half_excess = 0.02;     // weighted excess (in range widths) that scores 0.5
  double alarm_score = 0.5;      // a score at or above this is an alarm and starts a hold-off
  int holdoff = 1000;            // readings after an alarm during which the excess is scaled down
  double holdoff_factor = 0.35;  // that scale: a new alarm needs 1/0.35 = 2.9 times the excess
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
  static constexpr int kSignals = 5;
  static constexpr int64_t kNoTime = INT64_MIN;

  explicit AutoScorer(const AutoConfig& config = {}) : config_(config) {}

  // Folds in the next value and returns its anomaly score in [0, 1]. `time_us` (event time,
  // microseconds since the epoch) enables the hour-of-day signal; kNoTime leaves it out.
  double Observe(double value, int64_t time_us = kNoTime);

  // True when the last Observe() scored at least alarm_score and started a hold-off.
  bool alarmed() const { return alarmed_; }
  uint64_t count() const { return count_; }
  // Which signal drove the last score (0 value, 1 level, 2 step, 3 volatility, 4 daily).
  int last_signal() const { return last_signal_; }

 private:
  AutoConfig config_;
  uint64_t count_ = 0;
  double prev_ = 0, level_ = 0, vol_ = 0;
  std::array<DecayingRange, kSignals> ranges_{};
  std::array<double, 24> season_{};  // typical value per hour of the day
  uint32_t season_seeded_ = 0;       // one bit per hour
  int holdoff_left_ = 0;
  int last_signal_ = 0;
  bool alarmed_ = false;
};

}  // namespace weir::detect
