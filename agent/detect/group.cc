// Multivariate groups; see group.h.
#include "agent/detect/group.h"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace weir::detect {
namespace {

constexpr TimeMicros kNever = std::numeric_limits<TimeMicros>::min();
constexpr uint64_t kMinCalibrationRows = 10;

TimeMicros FloorTo(TimeMicros t, TimeMicros step) {
  const TimeMicros q = t / step * step;
  return q > t ? q - step : q;  // toward -inf for negative times
}

}  // namespace

GroupDetector::GroupDetector(GroupConfig config, TimeMicros close_after_us)
    : config_(std::move(config)),
      close_after_us_(close_after_us),
      gather_until_(kNever),
      next_grid_(kNever),
      learn_start_(kNever) {}
GroupDetector::GroupDetector(GroupDetector&&) noexcept = default;
GroupDetector& GroupDetector::operator=(GroupDetector&&) noexcept = default;
GroupDetector::~GroupDetector() = default;

void GroupDetector::SetMembers(std::vector<std::string> names) {
  if (phase_ != GroupPhase::kGathering) return;
  names_ = std::move(names);
  if (names_.size() > kMaxGroupSensors) names_.resize(kMaxGroupSensors);
  Freeze();
}

std::optional<size_t> GroupDetector::AddMember(const std::string& sensor) {
  if (phase_ != GroupPhase::kGathering || names_.size() >= kMaxGroupSensors) return std::nullopt;
  names_.push_back(sensor);
  return names_.size() - 1;
}

void GroupDetector::Freeze() {
  const size_t p = names_.size();
  members_.assign(p, Member{kNever, 0.0});
  row_.assign(p, 0.0);
  present_ = std::make_unique<bool[]>(p);
  Relearn();
}

void GroupDetector::Relearn() {
  if (names_.empty()) return;  // still gathering its first member
  phase_ = GroupPhase::kFitting;
  acc_ = std::make_unique<CovarianceAccumulator>(names_.size());
  model_.reset();
  learn_rows_ = 0;
  learn_start_ = kNever;
  cal_t2_ = cal_q_ = PcaModel::Moments{};
  run_ = 0;
}

void GroupDetector::ObserveReading(size_t member, TimeMicros t, double value,
                                   std::vector<Defect>* out) {
  if (phase_ == GroupPhase::kGathering) {
    if (gather_until_ == kNever) gather_until_ = t + config_.staleness_us;
    if (t < gather_until_) {
      // Gathering: remember values so the first rows have them.
      if (members_.size() < names_.size()) members_.resize(names_.size(), Member{kNever, 0.0});
      if (member < members_.size()) members_[member] = {t, value};
      return;
    }
    std::vector<Member> seen = std::move(members_);
    Freeze();
    for (size_t j = 0; j < seen.size() && j < members_.size(); ++j) members_[j] = seen[j];
  }
  if (member >= members_.size()) return;
  TakeRows(t, out);
  if (t >= members_[member].last_t) members_[member] = {t, value};
}

void GroupDetector::TakeRows(TimeMicros t, std::vector<Defect>* out) {
  const TimeMicros step = config_.interval_us;
  if (next_grid_ == kNever) next_grid_ = FloorTo(t, step);
  while (t > next_grid_) {
    if (t - next_grid_ > config_.staleness_us + step) {
      next_grid_ = FloorTo(t, step);  // every member would be missing in between
      if (t <= next_grid_) break;
    }
    const TimeMicros g = next_grid_;
    for (size_t j = 0; j < members_.size(); ++j) {
      const Member& m = members_[j];
      present_[j] = m.last_t != kNever && g - m.last_t <= config_.staleness_us;
      row_[j] = m.last_v;
    }
    ObserveRow(g, row_, std::span<const bool>(present_.get(), members_.size()), out);
    next_grid_ += step;
  }
}

double GroupDetector::ObserveRow(TimeMicros t, std::span<const double> values,
                                 std::span<const bool> present, std::vector<Defect>* out) {
  if (phase_ == GroupPhase::kGathering || values.size() != names_.size()) return 0;
  ++counters_.rows;
  if (incident_.Due(t, close_after_us_)) out->push_back(incident_.Close(t));
  const size_t missing = static_cast<size_t>(std::count(present.begin(), present.end(), false));
  if (phase_ != GroupPhase::kDetecting) {
    if (missing > 0) {
      ++counters_.incomplete_rows;
      return 0;
    }
    Learn(t, values);
    return 0;
  }
  if (4 * missing > names_.size()) {
    ++counters_.incomplete_rows;
    run_ = 0;
    return 0;
  }
  return Detect(t, values, present, missing, out);
}

void GroupDetector::Learn(TimeMicros t, std::span<const double> values) {
  const size_t p = names_.size();
  const uint64_t min_fit = 2 * p + 10;
  if (learn_start_ == kNever) learn_start_ = t;
  const TimeMicros elapsed = t - learn_start_;
  const bool by_time = config_.learn_time_us > 0;
  ++learn_rows_;
  if (phase_ == GroupPhase::kFitting) {
    acc_->Add(values);
    const bool done = by_time
                          ? elapsed >= config_.learn_time_us / 2 && acc_->count() >= min_fit
                          : acc_->count() >= std::max<uint64_t>(config_.learn_rows / 2, min_fit);
    if (done) {
      model_ = PcaModel::Fit(*acc_, config_.variance, config_.alpha);
      acc_.reset();
      learn_rows_ = 0;
      phase_ = GroupPhase::kCalibrating;
    }
    return;
  }
  bool present[kMaxGroupSensors];
  std::fill(present, present + p, true);
  const MspcScore s = model_->Score(values, std::span<const bool>(present, p), &contributions_);
  cal_t2_.Add(s.t2);
  cal_q_.Add(s.q);
  const uint64_t want =
      std::max<uint64_t>(config_.learn_rows - config_.learn_rows / 2, kMinCalibrationRows);
  const bool done = by_time ? elapsed >= config_.learn_time_us && learn_rows_ >= kMinCalibrationRows
                            : learn_rows_ >= want;
  if (done) {
    model_->Calibrate(cal_t2_, cal_q_);
    phase_ = GroupPhase::kDetecting;
  }
}

double GroupDetector::Detect(TimeMicros t, std::span<const double> values,
                             std::span<const bool> present, size_t /*missing*/,
                             std::vector<Defect>* out) {
  const MspcScore s = model_->Score(values, present, &contributions_);
  ++counters_.scored_rows;
  RankContributions();
  const double ratio = s.ratio();
  if (ratio >= 1) {
    ++counters_.alarms;
    if (run_++ == 0) run_start_ = t;
    if (run_ >= config_.persistence) Fire(t, ratio, s, values, out);
  } else {
    run_ = 0;
  }
  return ratio / (1 + ratio);
}

void GroupDetector::RankContributions() {
  double total = 0;
  for (double c : contributions_) total += c;
  top_.clear();
  if (!(total > 0)) return;
  for (size_t j = 0; j < contributions_.size(); ++j) top_.push_back({j, contributions_[j] / total});
  const size_t n = std::min<size_t>(config_.top, top_.size());
  std::partial_sort(top_.begin(), top_.begin() + static_cast<ptrdiff_t>(n), top_.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second; });
  top_.resize(n);
}

void GroupDetector::Fire(TimeMicros t, double ratio, const MspcScore& s,
                         std::span<const double> values, std::vector<Defect>* out) {
  const double score = ratio / (1 + ratio);
  const Severity severity = ratio >= 2 ? Severity::kCritical : Severity::kWarning;
  if (incident_.open()) {
    incident_.Update(t, score, severity);
    return;
  }
  Defect d;
  d.sensor = config_.name;
  d.kind = DefectKind::kAnomaly;
  d.severity = severity;
  d.detector = config_.name + ".mspc";
  d.window_start_us = run_start_;
  d.window_end_us = t;
  d.detected_at_us = t;
  d.score = score;
  std::string top;
  for (const auto& [j, share] : top_) {
    d.contributions.push_back({names_[j], share, values[j]});
    char part[160];
    std::snprintf(part, sizeof(part), "%s%s %.0f%%", top.empty() ? "" : ", ", names_[j].c_str(),
                  share * 100);
    top += part;
  }
  char msg[320];
  std::snprintf(msg, sizeof(msg), "%s: T2 %.3g (limit %.3g), Q %.3g (limit %.3g); top: %s",
                s.q_ratio > s.t2_ratio ? "correlation broken" : "unusual level", s.t2,
                model_->t2_limit(), s.q, model_->q_limit(), top.c_str());
  d.message = msg;
  d.stats.count = names_.size();
  incident_.Fire(d);
  out->push_back(std::move(d));
}

void GroupDetector::AdvanceTime(TimeMicros now, std::vector<Defect>* out) {
  if (incident_.Due(now, close_after_us_)) out->push_back(incident_.Close(now));
}

size_t GroupDetector::HeapBytes() const {
  size_t bytes = names_.capacity() * sizeof(std::string) + members_.capacity() * sizeof(Member) +
                 row_.capacity() * sizeof(double) + contributions_.capacity() * sizeof(double) +
                 names_.size() * sizeof(bool) + top_.capacity() * sizeof(top_[0]);
  for (const std::string& n : names_) bytes += n.capacity() > 15 ? n.capacity() + 1 : 0;
  if (acc_)
    bytes += sizeof(CovarianceAccumulator) + sizeof(double) * (names_.size() + 2) * names_.size();
  if (model_) bytes += model_->HeapBytes();
  return bytes;
}

GroupEngine::GroupEngine(const std::vector<GroupConfig>& groups, TimeMicros close_after_us) {
  groups_.reserve(groups.size());
  for (const GroupConfig& g : groups) groups_.emplace_back(g, close_after_us);
}

std::optional<std::pair<uint32_t, uint32_t>> GroupEngine::Join(const std::string& sensor) {
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const std::string& pattern : groups_[g].config().sensors) {
      if (!GlobMatch(pattern, sensor)) continue;
      auto member = groups_[g].AddMember(sensor);
      if (!member) return std::nullopt;
      return std::make_pair(static_cast<uint32_t>(g), static_cast<uint32_t>(*member));
    }
  }
  return std::nullopt;
}

void GroupEngine::AdvanceTime(TimeMicros now, std::vector<Defect>* out) {
  for (GroupDetector& g : groups_) g.AdvanceTime(now, out);
}

bool GroupEngine::Relearn(const std::string& name) {
  for (GroupDetector& g : groups_) {
    if (g.config().name != name) continue;
    g.Relearn();
    return true;
  }
  return false;
}

Status ValidateGroups(const std::vector<GroupConfig>& groups) {
  for (size_t i = 0; i < groups.size(); ++i) {
    const GroupConfig& g = groups[i];
    const std::string where = "groups[" + std::to_string(i) + "].";
    auto bad = [&](const char* field, const std::string& why) {
      return InvalidArgument(where + field + ": " + why);
    };
    if (g.name.empty()) return bad("name", "must not be empty");
    for (size_t j = 0; j < i; ++j) {
      if (groups[j].name == g.name) return bad("name", "'" + g.name + "' is used twice");
    }
    if (g.sensors.empty()) return bad("sensors", "must name at least one sensor or glob");
    for (const std::string& s : g.sensors) {
      if (s.empty()) return bad("sensors", "an entry is empty");
    }
    if (g.interval_us <= 0) return bad("interval", "must be > 0");
    if (g.staleness_us < g.interval_us) return bad("staleness", "must be >= interval");
    if (g.learn_rows < 2 * kMinCalibrationRows) return bad("learn_rows", "must be >= 20");
    if (g.learn_time_us < 0) return bad("learn_time", "must be >= 0");
    if (!(g.variance > 0 && g.variance <= 1)) return bad("variance", "must be in (0, 1]");
    if (!(g.alpha > 0 && g.alpha < 1)) return bad("alpha", "must be in (0, 1)");
    if (g.persistence == 0) return bad("persistence", "must be > 0");
    if (g.top == 0 || g.top > kMaxGroupSensors) return bad("top", "must be in [1, 32]");
  }
  return Status::Ok();
}

}  // namespace weir::detect
