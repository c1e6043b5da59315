// Engine: runs the configured detectors over readings of many sensors, keyed by sensor id, and
// returns defects and closed windows. Pure: no I/O, no threads, no clock of its own (event time
// comes with each reading; AdvanceTime() brings the present for dropout and window closing).
//
// Not thread-safe: one thread feeds one engine. Memory: per sensor, a fixed state sized by what its
// config enables (StateBytesPerSensor(config) plus the id and a hash-map node), allocated at its
// first reading; at most config.max_sensors sensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/core/record.h"
#include "agent/detect/config.h"

namespace weir::detect {

struct Finding;     // detectors.h
class GroupEngine;  // group.h

struct ClosedWindow {
  std::string sensor;
  TimeMicros start_us = 0, end_us = 0;
  WindowStats stats;
};

struct EngineCounters {
  uint64_t readings = 0;
  uint64_t late = 0;             // older than the watermark: counted, not folded in
  uint64_t out_of_order = 0;     // within lateness but older than the sensor's newest reading
  uint64_t dropped_sensors = 0;  // readings of sensors beyond max_sensors
  uint64_t defects = 0;
  uint64_t suppressed = 0;  // findings swallowed by a hold-off
  uint64_t incidents_opened = 0;
  uint64_t incidents_closed = 0;
  uint64_t incident_updates = 0;  // findings folded into an open incident
};

// An open incident, for status.
struct OpenIncident {
  uint64_t id = 0;
  std::string sensor, detector;
  TimeMicros opened_at_us = 0, last_firing_us = 0;
  double peak_score = 0;
  uint32_t firings = 0;
};

class Engine {
 public:
  // The config must be valid (see Validate()); the engine keeps its own copy.
  explicit Engine(EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Folds in one reading. Appends defects to *out and, if `windows` is not null, windows the
  // reading's watermark closed. Returns the reading's `auto` score in [0, 1] (0 when `auto` is
  // off for the sensor, the reading is late or out of order, or it is dropped).
  double Observe(const Reading& reading, std::vector<Defect>* out,
                 std::vector<ClosedWindow>* windows = nullptr);

  // Tells the engine event time has reached `now` without readings: raises dropout defects for
  // sensors silent longer than their max gap (once per gap) and closes windows the watermark
  // (now - allowed lateness) passes.
  void AdvanceTime(TimeMicros now, std::vector<Defect>* out,
                   std::vector<ClosedWindow>* windows = nullptr);

  const EngineCounters& counters() const { return counters_; }
  // True while `sensor` has an open incident (always false with incidents off).
  bool IncidentOpen(const std::string& sensor) const;
  // Up to `max` open incidents, oldest first. O(sensors): for status, not per reading.
  std::vector<OpenIncident> OpenIncidents(size_t max) const;
  size_t sensors() const { return sensors_.size(); }
  // Bytes of state a sensor with this config holds (excluding the id string, the hash-map node
  // and the allocator's own overhead): 1,152 for the default (`auto` only) on x86-64.
  static size_t StateBytesPerSensor(const DetectorConfig& config);

  // The multivariate groups (config.groups), null when there are none. Group defects come out
  // of Observe() and AdvanceTime() with the sensors' own.
  GroupEngine* groups() { return groups_.get(); }
  const GroupEngine* groups() const { return groups_.get(); }

 private:
  struct SensorState;
  SensorState* Lookup(const std::string& sensor);
  const DetectorConfig& ConfigFor(const std::string& sensor) const;
  // Turns a finding into a defect unless its detector is holding off on this sensor.
  void Emit(SensorState& s, const Finding& f, TimeMicros at, TimeMicros window_start,
            TimeMicros window_end, const WindowStats& stats, std::vector<Defect>* out);
  void RunDetectors(SensorState& s, const Reading& r, std::vector<Defect>* out);
  // Emits the close record of s's incident when it has been quiet for close_after by `now`.
  void MaybeClose(SensorState& s, TimeMicros now, std::vector<Defect>* out);
  // Counts the group defects appended to *out from index `from`.
  void CountGroupDefects(const std::vector<Defect>& out, size_t from);

  EngineConfig config_;
  std::unordered_map<std::string, std::unique_ptr<SensorState>> sensors_;
  EngineCounters counters_;
  std::unique_ptr<GroupEngine> groups_;
};

}  // namespace weir::detect
