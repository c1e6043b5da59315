// SignalGenerator: synthetic sensor readings with injected faults; see signal_generator.h.
#include "agent/app/signal_generator.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <numbers>

namespace weir::app {
namespace {

// Typical scales of a few sensor types; each sensor draws its base inside [base_lo, base_hi].
struct SensorType {
  const char* name;
  double base_lo, base_hi, daily, wave, noise;
};
constexpr std::array<SensorType, 5> kTypes{{
    {"temperature_c", 15, 30, 3, 0.5, 0.1},
    {"pressure_kpa", 95, 105, 0.5, 0.2, 0.05},
    {"vibration_mm_s", 1, 5, 0.2, 0.3, 0.2},
    {"rpm", 1000, 3000, 50, 20, 5},
    {"humidity_pct", 30, 70, 10, 1, 0.5},
}};

constexpr std::array<FaultKind, 5> kAllKinds{
    FaultKind::kSpike, FaultKind::kDrift, FaultKind::kStuck, FaultKind::kDropout, FaultKind::kStep};

// Readings after a fault ends before another may start on the same sensor, so each fault has
// clean readings around it (a test can compare against the local level).
constexpr uint64_t kQuietReadings = 30;

// Seeds one engine per sensor from the fleet seed (SplitMix64), so sensors are independent and
// adding a sensor does not change the others.
uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

}  // namespace

std::string_view FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kSpike:
      return "spike";
    case FaultKind::kDrift:
      return "drift";
    case FaultKind::kStuck:
      return "stuck";
    case FaultKind::kDropout:
      return "dropout";
    case FaultKind::kStep:
      return "step";
  }
  return "unknown";
}

Result<std::vector<FaultKind>> ParseFaultKinds(std::string_view list) {
  std::vector<FaultKind> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view word = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (word.empty()) continue;
    bool found = false;
    for (FaultKind k : kAllKinds) {
      if (FaultKindName(k) == word) {
        out.push_back(k);
        found = true;
      }
    }
    if (!found) {
      return InvalidArgument("unknown fault kind '" + std::string(word) +
                             "' (spike, drift, stuck, dropout, step)");
    }
  }
  return out;
}

Result<SignalGenerator> SignalGenerator::Create(const SignalOptions& options) {
  if (options.sensors <= 0) return InvalidArgument("sensors: must be > 0");
  if (options.step_us <= 0) return InvalidArgument("time step: must be > 0");
  if (!(options.fault_rate >= 0 && options.fault_rate <= 1)) {
    return InvalidArgument("fault rate: must be in [0, 1]");
  }
  return SignalGenerator(options);
}

SignalGenerator::SignalGenerator(const SignalOptions& options) : options_(options) {
  sensors_.resize(static_cast<size_t>(options.sensors));
  for (size_t i = 0; i < sensors_.size(); ++i) {
    Sensor& s = sensors_[i];
    s.rng.seed(SplitMix(options.seed * 0x100000001b3ULL + i));
    const SensorType& type = kTypes[i % kTypes.size()];
    char id[64];
    std::snprintf(id, sizeof(id), "s%04zu.%s", i, type.name);
    s.id = id;
    s.base = Uniform(s.rng, type.base_lo, type.base_hi);
    s.daily_amplitude = type.daily * Uniform(s.rng, 0.5, 1.5);
    s.wave_amplitude = type.wave * Uniform(s.rng, 0.5, 1.5);
    s.wave_period_s = Uniform(s.rng, 600, 3600);
    s.phase = Uniform(s.rng, 0, 2 * std::numbers::pi);
    s.noise = type.noise * Uniform(s.rng, 0.5, 1.5);
  }
}

SimReading SignalGenerator::Next() {
  SimReading r;
  // Terminates: a dropout lasts a bounded number of readings.
  for (;;) {
    Sensor& s = sensors_[slot_ % sensors_.size()];
    r.sensor_index = static_cast<int>(slot_ % sensors_.size());
    ++slot_;
    if (Step(s, &r)) return r;
  }
}

std::vector<FaultRecord> SignalGenerator::TakeFaults() {
  std::vector<FaultRecord> out;
  out.swap(faults_);
  return out;
}

double SignalGenerator::CleanValue(Sensor& s, TimeMicros t) {
  const double t_s = static_cast<double>(t) / 1e6;
  constexpr double kTwoPi = 2 * std::numbers::pi;
  // Mean-reverting random walk: slow wander that never runs away over long runs.
  s.wander = 0.995 * s.wander + std::normal_distribution<double>(0, s.noise * 0.1)(s.rng);
  return s.base + s.daily_amplitude * std::sin(kTwoPi * t_s / 86400 + s.phase) +
         s.wave_amplitude * std::sin(kTwoPi * t_s / s.wave_period_s + 2 * s.phase) + s.wander +
         std::normal_distribution<double>(0, s.noise)(s.rng);
}

void SignalGenerator::MaybeStartFault(Sensor& s, TimeMicros t) {
  if (options_.faults.empty() || options_.fault_rate <= 0 || s.in_fault) return;
  if (s.n < s.fault_end + kQuietReadings) return;
  if (Uniform(s.rng, 0, 1) >= options_.fault_rate) return;
  const FaultKind kind =
      options_.faults[std::uniform_int_distribution<size_t>(0, options_.faults.size() - 1)(s.rng)];
  const uint64_t length =
      kind == FaultKind::kSpike ? 1 : std::uniform_int_distribution<uint64_t>(20, 120)(s.rng);
  const double sign = Uniform(s.rng, 0, 1) < 0.5 ? -1.0 : 1.0;
  // Large against the noise and the periodic swing, so the fault is plain to a detector.
  const double scale = s.noise + 0.2 * s.wave_amplitude;
  switch (kind) {
    case FaultKind::kSpike:
      s.magnitude = sign * scale * Uniform(s.rng, 15, 25);
      break;
    case FaultKind::kStep:
    case FaultKind::kDrift:
      s.magnitude = sign * scale * Uniform(s.rng, 8, 12);
      break;
    case FaultKind::kStuck:
    case FaultKind::kDropout:
      s.magnitude = 0;
      break;
  }
  s.in_fault = true;
  s.fault = kind;
  s.fault_begin = s.n;
  s.fault_end = s.n + length;
  s.stuck_value = s.last_value;
  faults_.push_back({s.id, kind, t, t + static_cast<TimeMicros>(length - 1) * options_.step_us});
}

bool SignalGenerator::Step(Sensor& s, SimReading* out) {
  const TimeMicros t = options_.start_us + static_cast<TimeMicros>(s.n) * options_.step_us;
  // No fault on a sensor's first readings: there is no level yet to depart from.
  if (s.n >= kQuietReadings) MaybeStartFault(s, t);
  if (s.in_fault && s.n >= s.fault_end) s.in_fault = false;
  double v = CleanValue(s, t);
  if (s.in_fault) {
    const double progress = static_cast<double>(s.n - s.fault_begin + 1) /
                            static_cast<double>(s.fault_end - s.fault_begin);
    switch (s.fault) {
      case FaultKind::kSpike:
      case FaultKind::kStep:
        v += s.magnitude;
        break;
      case FaultKind::kDrift:
        v += s.magnitude * progress;
        break;
      case FaultKind::kStuck:
        v = s.stuck_value;
        break;
      case FaultKind::kDropout:
        ++s.n;
        return false;
    }
  }
  s.last_value = v;
  out->sensor = s.id;
  out->n = s.n;
  out->time_us = t;
  out->value = v;
  ++s.n;
  return true;
}

}  // namespace weir::app
