// Multivariate state detection of a machine: a group of sensors sampled onto a common time grid
// and watched by an MSPC model (mspc.h) learnt from the group's own normal operation.
//
// Time grid: grid points every `interval`. A grid row is taken when the group's event time
// passes its point (a reading of any member newer than it arrives), before that reading is
// folded in; each member contributes its last value at or before the point if it is at most
// `staleness` old, else it is missing. A member's reading that arrives after the row was taken
// counts for the next row (no waiting: the row is not held back for stragglers). A jump in event
// time longer than staleness skips the grid points between (every member would be missing).
//
// Members: given up front (SetMembers, the offline runner), or gathered from the readings
// GroupEngine routes here during the first `staleness` of event time after the group's first
// reading; then the membership is fixed until the process restarts (a later sensor matching the
// group's patterns is not added: the model's dimensions are fixed).
//
// Phases: learning (fit, then calibrate; rows with a missing member are skipped), then
// detecting: a row with at most a quarter of the members missing is scored (the missing ones at
// their learned means); ratio = max(T²/limit, Q/limit); the group fires after `persistence`
// consecutive rows with ratio >= 1. Its score is ratio / (1 + ratio): 0.5 at the limit. Firings
// open and update an Incident (incident.h); the open record names the top contributing sensors.
// Relearn() goes back to learning (the open incident, if any, closes on its own).
//
// Not thread-safe; pure (event time comes with the calls). Memory: O(p²) doubles while learning
// (the covariance), O(p·k) after (mspc.h), p <= kMaxGroupSensors.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/core/record.h"
#include "agent/detect/config.h"
#include "agent/detect/incident.h"
#include "agent/detect/mspc.h"

namespace weir::detect {

enum class GroupPhase : uint8_t { kGathering, kFitting, kCalibrating, kDetecting };

struct GroupCounters {
  uint64_t rows = 0;             // grid rows taken
  uint64_t incomplete_rows = 0;  // skipped: members missing (learning: any; detecting: > p/4)
  uint64_t scored_rows = 0;
  uint64_t alarms = 0;  // rows at or beyond a limit
};

class GroupDetector {
 public:
  GroupDetector(GroupConfig config, TimeMicros close_after_us);
  GroupDetector(GroupDetector&&) noexcept;
  GroupDetector& operator=(GroupDetector&&) noexcept;
  ~GroupDetector();

  const GroupConfig& config() const { return config_; }
  GroupPhase phase() const { return phase_; }
  const std::vector<std::string>& members() const { return names_; }
  const GroupCounters& counters() const { return counters_; }
  const Incident& incident() const { return incident_; }
  // The latest scored row's members by contribution share, largest first (at most `top`).
  const std::vector<std::pair<size_t, double>>& top() const { return top_; }
  const PcaModel* model() const { return model_ ? &*model_ : nullptr; }

  // Fixes the members (offline: the CSV's columns) and starts learning. Only while gathering.
  void SetMembers(std::vector<std::string> names);
  // Adds a member while gathering; returns its index, or nullopt when full or fixed.
  std::optional<size_t> AddMember(const std::string& sensor);

  // A reading of member `member` (the sampler path). Appends group defects to *out.
  void ObserveReading(size_t member, TimeMicros t, double value, std::vector<Defect>* out);
  // One grid row (the offline path, or from the sampler): values and presence per member.
  // Returns the row's score in [0, 1) (0 while learning or when the row is skipped).
  double ObserveRow(TimeMicros t, std::span<const double> values, std::span<const bool> present,
                    std::vector<Defect>* out);
  // Closes the incident when the group has not fired for close_after by `now`.
  void AdvanceTime(TimeMicros now, std::vector<Defect>* out);
  void Relearn();

  // Heap bytes held now (members, sampler, learning accumulator or model).
  size_t HeapBytes() const;

 private:
  struct Member {
    TimeMicros last_t;
    double last_v;
  };
  void Freeze();
  void TakeRows(TimeMicros t, std::vector<Defect>* out);
  void Learn(TimeMicros t, std::span<const double> values);
  double Detect(TimeMicros t, std::span<const double> values, std::span<const bool> present,
                size_t missing, std::vector<Defect>* out);
  void Fire(TimeMicros t, double ratio, const MspcScore& s, std::span<const double> values,
            std::vector<Defect>* out);
  void RankContributions();

  GroupConfig config_;
  TimeMicros close_after_us_;
  GroupPhase phase_ = GroupPhase::kGathering;
  std::vector<std::string> names_;
  std::vector<Member> members_;
  TimeMicros gather_until_, next_grid_, learn_start_;
  std::unique_ptr<CovarianceAccumulator> acc_;  // while fitting
  std::optional<PcaModel> model_;
  uint64_t learn_rows_ = 0;
  PcaModel::Moments cal_t2_, cal_q_;  // calibration
  uint32_t run_ = 0;                  // consecutive rows beyond a limit
  TimeMicros run_start_ = 0;
  Incident incident_;
  GroupCounters counters_;
  std::vector<double> row_, contributions_;
  std::unique_ptr<bool[]> present_;  // p entries
  std::vector<std::pair<size_t, double>> top_;
};

// All groups of an engine config; routes a sensor to its group and member.
class GroupEngine {
 public:
  GroupEngine(const std::vector<GroupConfig>& groups, TimeMicros close_after_us);
  bool empty() const { return groups_.empty(); }
  // The (group, member) a new sensor joins, or nullopt (no group matches, or the group is full
  // or no longer gathering). Call once per sensor, at its first reading.
  std::optional<std::pair<uint32_t, uint32_t>> Join(const std::string& sensor);
  void ObserveReading(std::pair<uint32_t, uint32_t> where, TimeMicros t, double value,
                      std::vector<Defect>* out) {
    groups_[where.first].ObserveReading(where.second, t, value, out);
  }
  void AdvanceTime(TimeMicros now, std::vector<Defect>* out);
  // Relearns the named group; false when there is none.
  bool Relearn(const std::string& name);
  const std::vector<GroupDetector>& groups() const { return groups_; }

 private:
  std::vector<GroupDetector> groups_;
};

// Names the first bad field: "groups[1].interval: must be > 0".
Status ValidateGroups(const std::vector<GroupConfig>& groups);

}  // namespace weir::detect
