// The records that flow through weir: a sensor Reading, a detected Defect, and the Lane a record
// travels in. Plain value types, parsed once at ingest; no payload text travels further.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weir {

// Event time: microseconds since the Unix epoch (UTC). Microseconds cover kHz sensors; inputs in
// nanoseconds (line protocol) are truncated to microseconds, a documented precision choice.
using TimeMicros = int64_t;

// One sensor reading. `sensor` is non-empty valid UTF-8 (parsers enforce it); `value` is finite
// at ingest. `quality` follows OPC UA's convention that 0 means good; parsers set it from an
// optional payload field.
struct Reading {
  std::string sensor;
  TimeMicros time_us = 0;
  double value = 0.0;
  uint32_t quality = 0;

  friend bool operator==(const Reading&, const Reading&) = default;
};

// A record's lane. Lanes are forwarded independently, each in sequence order; defects go first.
enum class Lane : uint8_t {
  kDefects = 0,
  kReadings = 1,
};

// The kinds of defect a detector can report.
enum class DefectKind : uint8_t {
  kThreshold = 0,
  kRateOfChange,
  kSpike,
  kLevelShift,
  kDrift,
  kFlatline,
  kDropout,
  kChangePoint,
  kAnomaly,  // the combined `auto` score crossed its threshold
};

enum class Severity : uint8_t { kInfo = 0, kWarning, kCritical };

// Window statistics attached to a defect as evidence.
struct WindowStats {
  uint64_t count = 0;
  double min = 0, max = 0, mean = 0, stddev = 0;
  friend bool operator==(const WindowStats&, const WindowStats&) = default;
};

// Where a defect record stands in its incident (agent/detect/incident.h). kNone: a plain defect,
// as written before incidents existed (and by an engine with incidents off).
enum class IncidentPhase : uint8_t { kNone = 0, kOpen, kClose };

// One sensor's share of a multivariate (group) defect: where a person should look first.
struct Contribution {
  std::string sensor;
  double share = 0.0;  // in [0, 1]; a defect's shares sum to at most 1
  double value = 0.0;  // the sensor's value on the grid row that fired
  friend bool operator==(const Contribution&, const Contribution&) = default;
};

// The output of a detector over a window: enough for an engineer to see why it fired.
struct Defect {
  std::string sensor;
  DefectKind kind = DefectKind::kAnomaly;
  Severity severity = Severity::kWarning;
  std::string detector;  // configured detector name, e.g. "auto" or "limits.boiler"
  TimeMicros window_start_us = 0;
  TimeMicros window_end_us = 0;
  TimeMicros detected_at_us = 0;  // event time of the triggering reading
  double score = 0.0;             // in [0, 1]
  std::string message;            // one line, e.g. "value 93.1 above limit 90"
  WindowStats stats;
  std::vector<Reading> evidence;  // the triggering readings (bounded by the detector)
  // Incidents: an `open` record when a detector first fires, a `close` record with the same id
  // when the sensor (or group) has looked normal for a while. A close record carries the
  // incident's span in window_start_us (opened) .. window_end_us (last firing), its peak score
  // in `score`, and the number of firings.
  uint64_t incident_id = 0;  // 0 with kNone
  IncidentPhase phase = IncidentPhase::kNone;
  uint32_t firings = 0;                     // close: firings while open (open: 1)
  std::vector<Contribution> contributions;  // group defects: the top sensors, largest first

  friend bool operator==(const Defect&, const Defect&) = default;
};

}  // namespace weir
