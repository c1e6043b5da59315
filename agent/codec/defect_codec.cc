// Defect encoding to protobuf and JSON; see defect_codec.h.
#include "agent/codec/defect_codec.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/codec/timestamp.h"
#include "weir/v1/defect.pb.h"

namespace weir::codec {
namespace {

struct KindName {
  DefectKind kind;
  std::string_view name;
};
constexpr KindName kKindNames[] = {
    {DefectKind::kThreshold, "threshold"}, {DefectKind::kRateOfChange, "rate_of_change"},
    {DefectKind::kSpike, "spike"},         {DefectKind::kLevelShift, "level_shift"},
    {DefectKind::kDrift, "drift"},         {DefectKind::kFlatline, "flatline"},
    {DefectKind::kDropout, "dropout"},     {DefectKind::kChangePoint, "change_point"},
    {DefectKind::kAnomaly, "anomaly"},
};

struct SeverityNameEntry {
  Severity severity;
  std::string_view name;
};
constexpr SeverityNameEntry kSeverityNames[] = {
    {Severity::kInfo, "info"}, {Severity::kWarning, "warning"}, {Severity::kCritical, "critical"}};

// The proto enums mirror record.h value for value; these checks keep the casts below honest.
static_assert(static_cast<int>(DefectKind::kAnomaly) == weir::v1::DEFECT_KIND_ANOMALY);
static_assert(static_cast<int>(DefectKind::kChangePoint) == weir::v1::DEFECT_KIND_CHANGE_POINT);
static_assert(static_cast<int>(DefectKind::kRateOfChange) == weir::v1::DEFECT_KIND_RATE_OF_CHANGE);
static_assert(static_cast<int>(Severity::kCritical) == weir::v1::SEVERITY_CRITICAL);
static_assert(static_cast<int>(IncidentPhase::kClose) == weir::v1::INCIDENT_PHASE_CLOSE);

nlohmann::json Number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

std::string_view DefectKindName(DefectKind kind) {
  for (const auto& e : kKindNames) {
    if (e.kind == kind) return e.name;
  }
  return "unknown";
}

std::string_view IncidentPhaseName(IncidentPhase phase) {
  switch (phase) {
    case IncidentPhase::kNone:
      return "none";
    case IncidentPhase::kOpen:
      return "open";
    case IncidentPhase::kClose:
      return "close";
  }
  return "unknown";
}

Result<IncidentPhase> ParseIncidentPhase(std::string_view name) {
  for (IncidentPhase p : {IncidentPhase::kNone, IncidentPhase::kOpen, IncidentPhase::kClose}) {
    if (IncidentPhaseName(p) == name) return p;
  }
  return InvalidArgument("unknown incident phase '" + std::string(name) + "'");
}

std::string FormatIncidentId(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

Result<uint64_t> ParseIncidentId(std::string_view text) {
  if (text.empty() || text.size() > 16) {
    return InvalidArgument("incident id '" + std::string(text) + "' is not 1-16 hex digits");
  }
  uint64_t id = 0;
  for (char c : text) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return InvalidArgument("incident id '" + std::string(text) + "' is not hex");
    id = id << 4 | static_cast<uint64_t>(v);
  }
  return id;
}

std::string_view SeverityName(Severity severity) {
  for (const auto& e : kSeverityNames) {
    if (e.severity == severity) return e.name;
  }
  return "unknown";
}

Result<DefectKind> ParseDefectKind(std::string_view name) {
  for (const auto& e : kKindNames) {
    if (e.name == name) return e.kind;
  }
  return InvalidArgument("unknown defect kind '" + std::string(name) + "'");
}

Result<Severity> ParseSeverity(std::string_view name) {
  for (const auto& e : kSeverityNames) {
    if (e.name == name) return e.severity;
  }
  return InvalidArgument("unknown severity '" + std::string(name) + "'");
}

void DefectToProto(const Defect& d, weir::v1::Defect* p) {
  p->Clear();
  p->set_sensor(d.sensor);
  p->set_kind(static_cast<weir::v1::DefectKind>(d.kind));
  p->set_severity(static_cast<weir::v1::Severity>(d.severity));
  p->set_detector(d.detector);
  p->set_window_start_us(d.window_start_us);
  p->set_window_end_us(d.window_end_us);
  p->set_detected_at_us(d.detected_at_us);
  p->set_score(d.score);
  p->set_message(d.message);
  auto* stats = p->mutable_stats();
  stats->set_count(d.stats.count);
  stats->set_min(d.stats.min);
  stats->set_max(d.stats.max);
  stats->set_mean(d.stats.mean);
  stats->set_stddev(d.stats.stddev);
  p->mutable_evidence()->Reserve(static_cast<int>(d.evidence.size()));
  for (const Reading& r : d.evidence) {
    auto* e = p->add_evidence();
    e->set_time_us(r.time_us);
    e->set_value(r.value);
    e->set_quality(r.quality);
  }
  p->set_incident_id(d.incident_id);
  p->set_phase(static_cast<weir::v1::IncidentPhase>(d.phase));
  p->set_firings(d.firings);
  for (const Contribution& c : d.contributions) {
    auto* out = p->add_contributions();
    out->set_sensor(c.sensor);
    out->set_share(c.share);
    out->set_value(c.value);
  }
}

Result<Defect> DefectFromProto(const weir::v1::Defect& p) {
  if (!weir::v1::DefectKind_IsValid(p.kind()) ||
      p.kind() > static_cast<int>(DefectKind::kAnomaly)) {
    return DataLoss("defect: unknown kind " + std::to_string(p.kind()));
  }
  if (!weir::v1::Severity_IsValid(p.severity()) ||
      p.severity() > static_cast<int>(Severity::kCritical)) {
    return DataLoss("defect: unknown severity " + std::to_string(p.severity()));
  }
  Defect d;
  d.sensor = p.sensor();
  d.kind = static_cast<DefectKind>(p.kind());
  d.severity = static_cast<Severity>(p.severity());
  d.detector = p.detector();
  d.window_start_us = p.window_start_us();
  d.window_end_us = p.window_end_us();
  d.detected_at_us = p.detected_at_us();
  d.score = p.score();
  d.message = p.message();
  d.stats = {p.stats().count(), p.stats().min(), p.stats().max(), p.stats().mean(),
             p.stats().stddev()};
  d.evidence.reserve(p.evidence_size());
  for (const auto& e : p.evidence()) {
    d.evidence.push_back(Reading{d.sensor, e.time_us(), e.value(), e.quality()});
  }
  if (p.phase() < 0 || p.phase() > static_cast<int>(IncidentPhase::kClose)) {
    return DataLoss("defect: unknown incident phase " + std::to_string(p.phase()));
  }
  d.incident_id = p.incident_id();
  d.phase = static_cast<IncidentPhase>(p.phase());
  d.firings = p.firings();
  d.contributions.reserve(p.contributions_size());
  for (const auto& c : p.contributions()) {
    d.contributions.push_back(Contribution{c.sensor(), c.share(), c.value()});
  }
  return d;
}

std::string EncodeDefect(const Defect& defect) {
  weir::v1::Defect proto;
  DefectToProto(defect, &proto);
  return proto.SerializeAsString();
}

Result<Defect> DecodeDefect(std::string_view bytes) {
  weir::v1::Defect proto;
  // ParseFromArray rejects malformed wire data and, in proto3, invalid UTF-8 in string fields.
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return DataLoss("defect: " + std::to_string(bytes.size()) +
                    " bytes are not a valid weir.v1.Defect");
  }
  return DefectFromProto(proto);
}

nlohmann::json DefectToJson(const Defect& d) {
  nlohmann::json evidence = nlohmann::json::array();
  for (const Reading& r : d.evidence) {
    evidence.push_back(
        {{"time_us", r.time_us}, {"value", Number(r.value)}, {"quality", r.quality}});
  }
  nlohmann::json j = {
      {"sensor", d.sensor},
      {"kind", DefectKindName(d.kind)},
      {"severity", SeverityName(d.severity)},
      {"detector", d.detector},
      {"window_start_us", d.window_start_us},
      {"window_end_us", d.window_end_us},
      {"detected_at_us", d.detected_at_us},
      {"detected_at", FormatRfc3339(d.detected_at_us)},
      {"score", Number(d.score)},
      {"message", d.message},
      {"stats",
       {{"count", d.stats.count},
        {"min", Number(d.stats.min)},
        {"max", Number(d.stats.max)},
        {"mean", Number(d.stats.mean)},
        {"stddev", Number(d.stats.stddev)}}},
      {"evidence", std::move(evidence)},
  };
  // Only records of an incident or a group carry these, so plain defects read as before.
  if (d.phase != IncidentPhase::kNone) {
    j["incident_id"] = FormatIncidentId(d.incident_id);
    j["phase"] = IncidentPhaseName(d.phase);
    j["firings"] = d.firings;
  }
  if (!d.contributions.empty()) {
    nlohmann::json cs = nlohmann::json::array();
    for (const Contribution& c : d.contributions) {
      cs.push_back({{"sensor", c.sensor}, {"share", Number(c.share)}, {"value", Number(c.value)}});
    }
    j["contributions"] = std::move(cs);
  }
  return j;
}

std::string DefectToJsonText(const Defect& defect) {
  // Replace invalid UTF-8 instead of throwing: a defect's text comes from validated ids and our
  // own messages, but export must never abort on one bad byte.
  return DefectToJson(defect).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace weir::codec
