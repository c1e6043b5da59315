// SignalGenerator: synthetic readings of a sensor fleet for `weir simulate`, with realistic
// signals (base level and unit per sensor, daily and shorter periodic components, Gaussian noise,
// slow drift) and injected faults (spikes, level steps, stuck values, dropouts, drift ramps),
// each fault reported as a FaultRecord so a test knows where it was put.
//
// Pure and deterministic: no I/O, no clock; the same options and seed give the same readings.
// Memory is constant per sensor (a few dozen bytes of state plus the id); fault records wait in
// a queue until TakeFaults() drains it. Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::app {

enum class FaultKind : uint8_t { kSpike, kDrift, kStuck, kDropout, kStep };

// "spike", "drift", "stuck", "dropout", "step".
std::string_view FaultKindName(FaultKind kind);
// Parses a comma-separated list of kind names ("" gives none). InvalidArgument naming the word.
Result<std::vector<FaultKind>> ParseFaultKinds(std::string_view list);

// Where a fault was injected: readings of `sensor` with times in [start_us, end_us] are affected
// (a spike is one reading, start == end; a dropout's readings are missing).
struct FaultRecord {
  std::string sensor;
  FaultKind kind = FaultKind::kSpike;
  TimeMicros start_us = 0;
  TimeMicros end_us = 0;
};

struct SignalOptions {
  int sensors = 100;  // > 0
  uint64_t seed = 7;
  TimeMicros start_us = 0;        // time of every sensor's first reading
  int64_t step_us = 1'000'000;    // > 0: time between two readings of one sensor
  std::vector<FaultKind> faults;  // kinds that may be injected; empty: none
  double fault_rate = 0.001;      // [0, 1]: chance per reading that a fault starts
};

// One generated reading. `n` counts the sensor's readings (0, 1, ...), dropouts included, so a
// consumer sees it strictly increasing per sensor.
struct SimReading {
  int sensor_index = 0;
  std::string_view sensor;  // valid while the generator lives
  uint64_t n = 0;
  TimeMicros time_us = 0;
  double value = 0;
};

class SignalGenerator {
 public:
  // InvalidArgument naming the option when `options` are out of range.
  static Result<SignalGenerator> Create(const SignalOptions& options);

  // The next reading, sensors in round-robin order (sensor i % N at slot i). Slots that fall in
  // a dropout are skipped, so every call returns a reading.
  SimReading Next();

  // Fault records started since the last call, in start order.
  std::vector<FaultRecord> TakeFaults();

  int sensor_count() const { return static_cast<int>(sensors_.size()); }
  const std::string& sensor_id(int index) const { return sensors_[index].id; }
  // Slots (readings plus dropped slots) consumed so far.
  uint64_t slots() const { return slot_; }

 private:
  struct Sensor {
    std::string id;
    double base = 0, daily_amplitude = 0, wave_amplitude = 0, wave_period_s = 0, phase = 0;
    double noise = 0, wander = 0;  // wander: mean-reverting slow drift
    uint64_t n = 0;
    // The active fault, if any, over readings [fault_begin, fault_end) of this sensor.
    bool in_fault = false;
    FaultKind fault = FaultKind::kSpike;
    uint64_t fault_begin = 0, fault_end = 0;
    double magnitude = 0, stuck_value = 0, last_value = 0;
    std::mt19937_64 rng;
  };

  explicit SignalGenerator(const SignalOptions& options);
  // Advances one slot; false when the slot is a dropout (no reading).
  bool Step(Sensor& s, SimReading* out);
  void MaybeStartFault(Sensor& s, TimeMicros t);
  double CleanValue(Sensor& s, TimeMicros t);

  SignalOptions options_;
  std::vector<Sensor> sensors_;
  std::vector<FaultRecord> faults_;
  uint64_t slot_ = 0;
};

}  // namespace weir::app
