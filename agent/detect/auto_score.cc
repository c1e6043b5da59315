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

double AutoScorer::Observe(double value) {
  ++count_;
  alarmed_ = false;
  if (count_ == 1) prev_ = level_ = value;
  const double step = value - prev_;
  level_ += config_.fast_alpha * (value - level_);
  vol_ += config_.vol_alpha * (std::fabs(step) - vol_);
  prev_ = value;

  const std::array<double, kSignals> signals = {value, level_, step, vol_};
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
  if (holdoff_left_ > 0) {
    --holdoff_left_;
    return 0;
  }
  const double score = std::clamp((best - config_.margin) / config_.full_excess, 0.0, 1.0);
  if (score >= config_.alarm_score) {
    alarmed_ = true;
    holdoff_left_ = config_.holdoff;
  }
  return score;
}

}  // namespace weir::detect
