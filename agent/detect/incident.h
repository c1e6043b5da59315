// Incidents: one open..close span per sensor (or group) instead of one defect per firing.
//
// A detector firing on a sensor with no open incident opens one: the firing's defect is emitted
// as the `open` record with a new incident id. Further firings while it is open only update it
// (last firing, peak score, firing count); no defect is emitted for them. When the sensor has
// looked normal (no firing) for `close_after`, a `close` record with the same id is emitted. So
// upstream and the local defect topic see exactly two records per incident (Prometheus
// alerting's firing/resolved), however long the machine stays bad.
//
// Why close on "no firing for close_after" and not on the first normal reading: a bad state
// flaps (a score hovering at the threshold), and one incident per flap would be the alert storm
// incidents exist to prevent. close_after is event time, like the hold-off it replaces.
//
// Value type; not thread-safe; pure (time is passed in). Used by Engine (per sensor) and
// GroupDetector (per group).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/record.h"

namespace weir::detect {

// Ids are a hash of (name, detector, opened time): unique in practice, the same when the same
// readings are replayed (so a restart that re-detects does not mint a second id).
uint64_t IncidentId(std::string_view name, std::string_view detector, TimeMicros opened_at);

class Incident {
 public:
  bool open() const { return open_; }
  uint64_t id() const { return id_; }
  TimeMicros opened_at() const { return opened_at_; }
  TimeMicros last_firing() const { return last_firing_; }
  double peak() const { return peak_; }
  uint32_t firings() const { return firings_; }
  const std::string& detector() const { return detector_; }

  // Records a firing whose defect is `d` (sensor, detector, score, time set). Returns true when
  // it opened the incident: `d` has then been stamped as the open record and should be emitted;
  // false when it only updated an open incident (emit nothing).
  bool Fire(Defect& d);
  // Records a firing on an open incident without building its defect (the cheap path).
  void Update(TimeMicros at, double score, Severity severity);
  // A finding that keeps the incident open without counting as a firing (an ongoing dropout).
  void KeepAlive(TimeMicros at) {
    if (open_ && at > last_firing_) last_firing_ = at;
  }
  // True when open and nothing fired for close_after up to `now`.
  bool Due(TimeMicros now, TimeMicros close_after) const {
    return open_ && now - last_firing_ >= close_after;
  }
  // Closes the incident and returns its close record (`now` is when it was noticed).
  Defect Close(TimeMicros now);

 private:
  bool open_ = false;
  uint64_t id_ = 0;
  TimeMicros opened_at_ = 0, last_firing_ = 0;
  double peak_ = 0;
  uint32_t firings_ = 0;
  // What the close record repeats from the open one.
  std::string sensor_, detector_;
  DefectKind kind_ = DefectKind::kAnomaly;
  Severity severity_ = Severity::kWarning;
  std::vector<Contribution> contributions_;  // of the peak firing (group incidents)
};

}  // namespace weir::detect
