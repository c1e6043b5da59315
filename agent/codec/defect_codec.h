// weir::Defect <-> weir.v1.Defect (protobuf bytes, for the log and upstream envelopes), and
// Defect -> JSON (for `weir log export` and JSON envelopes).
//
// Mapping: fields map one to one; the evidence readings carry no sensor on the wire (they are
// the defect's sensor's readings), so decoding sets each evidence reading's sensor to the
// defect's sensor. Pure functions, thread-safe, non-blocking.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::v1 {
class Defect;
}  // namespace weir::v1

namespace weir::codec {

// Stable lower_snake_case names ("rate_of_change", "critical"), used in JSON, CLI output and
// config. ParseDefectKind/ParseSeverity accept exactly these names; InvalidArgument otherwise.
std::string_view DefectKindName(DefectKind kind);
std::string_view SeverityName(Severity severity);
Result<DefectKind> ParseDefectKind(std::string_view name);
Result<Severity> ParseSeverity(std::string_view name);
// "none", "open", "close".
std::string_view IncidentPhaseName(IncidentPhase phase);
Result<IncidentPhase> ParseIncidentPhase(std::string_view name);
// Incident ids in JSON and CLI output: 16 lower-case hex digits (a JSON number would lose
// precision above 2^53 in JavaScript readers).
std::string FormatIncidentId(uint64_t id);
Result<uint64_t> ParseIncidentId(std::string_view text);

// Fills `proto` (cleared first) from `defect`.
void DefectToProto(const Defect& defect, weir::v1::Defect* proto);
// Converts a decoded message; DataLoss when an enum holds a value this build does not know.
Result<Defect> DefectFromProto(const weir::v1::Defect& proto);

// The serialized weir.v1.Defect.
std::string EncodeDefect(const Defect& defect);
// Parses bytes written by EncodeDefect. DataLoss when they are not a valid weir.v1.Defect.
Result<Defect> DecodeDefect(std::string_view bytes);

// A JSON object for export and JSON envelopes:
//   {"sensor": "...", "kind": "spike", "severity": "warning", "detector": "auto",
//    "window_start_us": 1, "window_end_us": 2, "detected_at_us": 2,
//    "detected_at": "2014-04-01T00:00:00Z", "score": 0.9, "message": "...",
//    "stats": {"count": 10, "min": 0, "max": 1, "mean": 0.5, "stddev": 0.1},
//    "evidence": [{"time_us": 2, "value": 1.0, "quality": 0}]}
// plus, only on incident records, "incident_id": "<16 hex digits>", "phase": "open"|"close",
// "firings": N, and, only on group defects, "contributions": [{"sensor", "share", "value"}].
// Times are integers (µs since the epoch, exact); `detected_at` is RFC 3339 for people.
// Non-finite numbers become null (JSON has no NaN). Callers that use this overload link
// nlohmann_json themselves; DefectToJsonText needs nothing extra.
nlohmann::json DefectToJson(const Defect& defect);
// DefectToJson serialized compactly on one line (for JSON lines).
std::string DefectToJsonText(const Defect& defect);

}  // namespace weir::codec
