// The single-signal detectors; see detectors.h.
#include "agent/detect/detectors.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace weir::detect {
namespace {

std::string Format(const char* fmt, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), fmt, a, b);
  return buf;
}

double Median(double* first, uint32_t n) {
  std::nth_element(first, first + n / 2, first + n);
  const double upper = first[n / 2];
  if (n % 2 == 1) return upper;
  return 0.5 * (upper + *std::max_element(first, first + n / 2));
}

}  // namespace

std::optional<Finding> CheckLimits(const LimitsConfig& c, double v) {
  if (!c.enabled || (v >= c.min && v <= c.max)) return std::nullopt;
  const bool above = v > c.max;
  const double limit = above ? c.max : c.min;
  return Finding{DefectKind::kThreshold, Severity::kCritical, 1.0,
                 Format(above ? "value %g above limit %g" : "value %g below limit %g", v, limit)};
}

std::optional<Finding> RateDetector::Observe(const RateConfig& c, TimeMicros t, double v) {
  const bool seeded = seeded_;
  const double prev = prev_;
  const TimeMicros dt = t - prev_t_;
  seeded_ = true;
  prev_t_ = t;
  prev_ = v;
  if (!c.enabled || !seeded || dt <= 0) return std::nullopt;
  const double rate = std::fabs(v - prev) / (static_cast<double>(dt) / kSecond);
  if (rate <= c.max_per_second) return std::nullopt;
  return Finding{DefectKind::kRateOfChange, Severity::kWarning,
                 std::min(1.0, 0.5 * rate / c.max_per_second),
                 Format("changes %g/s, limit %g/s", rate, c.max_per_second)};
}

std::optional<Finding> SpikeDetector::Observe(const SpikeConfig& c, double v) {
  if (!c.enabled) return std::nullopt;
  const uint32_t window = RingSize(c);
  if (ring_.size() != window) {  // first use (the engine's config never changes under a sensor)
    ring_.assign(window, 0.0);
    size_ = next_ = 0;
  }
  std::optional<Finding> out;
  if (size_ >= std::min(c.min_count, window)) {
    // Judge v by the readings before it: median and MAD of the window.
    std::array<double, kMaxWindow> scratch;
    std::copy_n(ring_.begin(), size_, scratch.begin());
    const double median = Median(scratch.data(), size_);
    for (uint32_t i = 0; i < size_; ++i) scratch[i] = std::fabs(ring_[i] - median);
    // 1.4826 makes the MAD estimate a normal sd; the floor keeps a constant window finite.
    const double mad = 1.4826 * Median(scratch.data(), size_);
    const double scale = std::max(mad, 1e-9 * (std::fabs(median) + 1.0));
    const double z = std::fabs(v - median) / scale;
    if (z > c.z) {
      out = Finding{DefectKind::kSpike, Severity::kWarning, std::min(1.0, 0.5 * z / c.z),
                    Format("robust z-score %.1f against median %g", z, median)};
    }
  }
  if (size_ < window) ++size_;
  ring_[next_] = v;
  next_ = (next_ + 1) % window;
  return out;
}

std::optional<Finding> ShiftDetector::Observe(const ShiftConfig& c, double v) {
  ++n_;
  const uint64_t base = std::max<uint32_t>(2, c.baseline_count);
  if (n_ <= base) {
    const double d = v - mean_;
    mean_ += d / static_cast<double>(n_);
    m2_ += d * (v - mean_);
    ewma_ = mean_;
    return std::nullopt;
  }
  if (!c.enabled) return std::nullopt;
  const double sd =
      std::max(std::sqrt(m2_ / static_cast<double>(base - 1)), 1e-9 * (std::fabs(mean_) + 1.0));
  const double z = (v - mean_) / sd;
  pos_ = std::max(0.0, pos_ + z - c.cusum_k);
  neg_ = std::max(0.0, neg_ - z - c.cusum_k);
  ewma_ += c.ewma_alpha * (v - ewma_);
  if (pos_ > c.cusum_h || neg_ > c.cusum_h) {
    const double sum = std::max(pos_, neg_);
    const bool up = pos_ > neg_;
    pos_ = neg_ = 0;  // restart so a persisting shift is not re-reported on every reading
    return Finding{DefectKind::kLevelShift, Severity::kWarning,
                   std::min(1.0, 0.5 * sum / c.cusum_h),
                   Format(up ? "level shifted up from baseline %g (CUSUM %.1f sd)"
                             : "level shifted down from baseline %g (CUSUM %.1f sd)",
                          mean_, sum)};
  }
  const double drift = std::fabs(ewma_ - mean_) / sd;
  if (drift > c.drift_sds) {
    return Finding{DefectKind::kDrift, Severity::kWarning, std::min(1.0, 0.5 * drift / c.drift_sds),
                   Format("EWMA drifted %.2f baseline sds from %g", drift, mean_)};
  }
  return std::nullopt;
}

std::optional<Finding> FlatlineDetector::Observe(const FlatlineConfig& c, double v) {
  if (run_ > 0 && std::max(hi_, v) - std::min(lo_, v) <= c.epsilon) {
    ++run_;
    lo_ = std::min(lo_, v);
    hi_ = std::max(hi_, v);
  } else {
    run_ = 1;
    lo_ = hi_ = v;
    reported_ = false;
  }
  if (!c.enabled || reported_ || run_ < std::max<uint32_t>(2, c.min_repeats)) return std::nullopt;
  reported_ = true;  // one defect per stuck run
  return Finding{DefectKind::kFlatline, Severity::kWarning, 1.0,
                 Format("stuck at %g for %.0f readings", v, static_cast<double>(run_))};
}

}  // namespace weir::detect
