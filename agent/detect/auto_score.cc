// The `auto` score: how far each of a few signals of the stream (value, smoothed level, step,
// volatility) falls outside the range that signal has shown so far, in units of that range.
#include "agent/detect/auto_score.h"

#include <algorithm>
#include <cmath>

namespace weir::detect {

double DecayingRange::ExcessThenAdd(double x, double decay, double floor) {
  if (!seeded) {
    lo = hi = x;
    seeded = true;
    return 0;
  }
  const double width = hi - lo;
  const double excess = std::max({0.0, x - hi, lo - x}) / (width + floor);
  if (decay > 0) {
    lo += decay * width;
    hi -= decay * width;
  }
  lo = std::min(lo, x);
  hi = std::max(hi, x);
  return excess;
}

double AutoScorer::Observe(double value, int64_t time_us) {
  ++count_;
  alarmed_ = false;
  if (count_ == 1) prev_ = level_ = value;
  const double step = value - prev_;
  level_ += config_.level_alpha * (value - level_);
  vol_ += config_.vol_alpha * (std::fabs(step) - vol_);
  prev_ = value;

  // Daily signal: the value against what this hour of the day usually shows.
  double daily = 0;
  if (time_us != kNoTime) {
    constexpr int64_t kHour = 3'600'000'000;
    const int hour = static_cast<int>(((time_us / kHour) % 24 + 24) % 24);
    const uint32_t bit = 1u << hour;
    if ((season_seeded_ & bit) == 0) {
      season_[hour] = level_;  // first visit: assume the current level
      season_seeded_ |= bit;
    }
    daily = value - season_[hour];
    season_[hour] += config_.season_alpha * (value - season_[hour]);
  }
  const std::array<double, kSignals> signals = {value, level_, step, vol_, daily};
  // A floor on the width so a stream that was constant does not divide by zero; relative to the
  // value's magnitude so units do not matter.
  const double floor = 1e-9 * (std::fabs(value) + 1.0);
  double best = 0;
  for (int k = 0; k < kSignals; ++k) {
    const double excess = ranges_[k].ExcessThenAdd(signals[k], config_.range_decay, floor);
    const double weighted = config_.weights[k] * excess;
    if (weighted > best) {
      best = weighted;
      last_signal_ = k;
    }
  }
  if (count_ <= static_cast<uint64_t>(config_.warmup)) return 0;
  // After an alarm, the same incident keeps breaking records for a while (a ramp, a burst); scale
  // it down so only a clearly stronger event alarms again, and one incident is one alarm.
  const bool holding = holdoff_left_ > 0;
  if (holding) {
    --holdoff_left_;
    best *= config_.holdoff_factor;
  }
  // x / (x + half) maps [0, inf) onto [0, 1) with 0.5 at half_excess.
  const double score = best / (best + config_.half_excess);
  if (!holding && score >= config_.alarm_score) {
    alarmed_ = true;
    holdoff_left_ = config_.holdoff;
  }
  return score;
}

}  // namespace weir::detect
