#include "agent/app/status_summary.h"

#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/codec/timestamp.h"

namespace weir::app {
namespace {

using nlohmann::json;

// The status file is rewritten every second while weir runs; older than this, it is stale.
constexpr double kStaleAfterS = 5;

const json& Section(const json& doc, const char* name) {
  static const json kEmpty = json::object();
  const auto it = doc.find(name);
  return it != doc.end() && it->is_object() ? *it : kEmpty;
}

uint64_t U(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<uint64_t>() : 0;
}
double D(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0;
}
bool B(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
std::string S(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// "3 h 12 min", "4 min 10 s", "35 s".
std::string Duration(double s) {
  const auto total = static_cast<uint64_t>(s < 0 ? 0 : s);
  const uint64_t d = total / 86400, h = total / 3600 % 24, m = total / 60 % 60, sec = total % 60;
  if (d > 0) return std::to_string(d) + " d " + std::to_string(h) + " h";
  if (h > 0) return std::to_string(h) + " h " + std::to_string(m) + " min";
  if (m > 0) return std::to_string(m) + " min " + std::to_string(sec) + " s";
  return std::to_string(sec) + " s";
}

// "512 B", "3.4 MB".
std::string Bytes(uint64_t b) {
  if (b < 1000) return std::to_string(b) + " B";
  if (b < 1000 * 1000) return Format("%.1f kB", static_cast<double>(b) / 1e3);
  if (b < 1000ull * 1000 * 1000) return Format("%.1f MB", static_cast<double>(b) / 1e6);
  return Format("%.1f GB", static_cast<double>(b) / 1e9);
}

std::string Row(const char* label, const std::string& text) {
  std::string line = "  ";
  line += label;
  line.resize(16, ' ');
  return line + text + "\n";
}

std::string Head(const json& doc, int64_t now_us) {
  std::string out = "weir on " + S(doc, "device") + ": " + S(doc, "state");
  if (S(doc, "state") != "stopped") out += ", up " + Duration(D(doc, "uptime_s"));
  out += " (pid " + std::to_string(U(doc, "pid")) + ")\n";
  const double age_s = static_cast<double>(now_us - static_cast<int64_t>(U(doc, "time_us"))) / 1e6;
  if (S(doc, "state") != "stopped" && age_s > kStaleAfterS) {
    out += "  STALE: the status file was last written " + Duration(age_s) +
           " ago; weir is probably not running (systemctl status weir)\n";
  }
  return out;
}

std::string Rejections(const json& ingest, const json& forward) {
  std::string text = std::to_string(U(ingest, "rejected")) + " at ingest";
  const auto reasons = ingest.find("rejected_by_reason");
  if (reasons != ingest.end() && reasons->is_object() && !reasons->empty()) {
    std::string list;
    for (const auto& [reason, count] : reasons->items()) {
      if (!list.empty()) list += ", ";
      list += std::to_string(count.is_number() ? count.get<uint64_t>() : 0) + " " + reason;
    }
    text += " (" + list + ")";
  }
  text += "; " + std::to_string(U(forward, "rejections")) + " refused upstream, " +
          std::to_string(U(forward, "dead_letters")) + " dead letters";
  return text;
}

// "open incidents: 2" and a line per listed incident: sensor, detector, since when, peak.
std::string OpenIncidents(const json& detect) {
  const uint64_t open = U(detect, "incidents_open");
  std::string out =
      Row("incidents:", std::to_string(open) + " open, " +
                            std::to_string(U(detect, "incidents_closed")) + " closed");
  auto list = detect.find("open_incidents");
  if (list == detect.end() || !list->is_array()) return out;
  for (const json& i : *list) {
    if (!i.is_object()) continue;
    out += "    " + S(i, "sensor") + " (" + S(i, "detector") + ", id " + S(i, "incident_id") +
           "): open since " + codec::FormatRfc3339(static_cast<int64_t>(U(i, "opened_at_us"))) +
           Format(", peak %.3f, ", D(i, "peak_score")) + std::to_string(U(i, "firings")) +
           " firing(s)\n";
  }
  return out;
}

std::string Body(const json& doc) {
  const json& ingest = Section(doc, "ingest");
  const json& store = Section(doc, "store");
  const json& forward = Section(doc, "forward");
  const json& detect = Section(doc, "detect");
  const json& reload = Section(doc, "reload");
  std::string out;
  out += Row("local broker:", S(ingest, "local") + "; " +
                                  Format("%.1f", D(ingest, "readings_per_s")) + " readings/s in, " +
                                  std::to_string(U(ingest, "readings")) + " in total");
  std::string up = S(forward, "upstream");
  if (up != "connected" && !S(forward, "last_error").empty()) {
    up += " (" + S(forward, "last_error") + ")";
  }
  out +=
      Row("upstream:", up + "; " + Format("%.1f", D(forward, "readings_per_s")) +
                           " readings/s acknowledged, " +
                           std::to_string(U(forward, "connection_losses")) + " connection losses");
  std::string backlog = std::to_string(U(forward, "backlog_rows")) + " records (" +
                        Bytes(U(forward, "backlog_bytes")) + ")";
  if (U(forward, "backlog_rows") > 0) {
    backlog += ", oldest unsent " + Duration(D(forward, "oldest_unsent_age_s")) + " old";
  }
  out += Row("backlog:", backlog);
  std::string stored = std::to_string(U(store, "readings_committed")) + " readings committed";
  if (B(store, "paused")) stored += "; INGEST PAUSED: the log quota is full";
  out += Row("store:", stored);
  out += Row("rejected:", Rejections(ingest, forward));
  out += Row("defects:", B(detect, "enabled") ? std::to_string(U(detect, "defects")) + " detected"
                                              : std::string("detection off"));
  if (B(detect, "enabled")) out += OpenIncidents(detect);
  std::string reloads = std::to_string(U(reload, "applied")) + " applied, " +
                        std::to_string(U(reload, "refused")) + " refused";
  if (!S(reload, "last_error").empty()) reloads += " (last: " + S(reload, "last_error") + ")";
  out += Row("reloads:", reloads);
  if (!S(forward, "last_error").empty()) out += Row("last error:", S(forward, "last_error"));
  return out;
}

}  // namespace

Result<std::string> RenderStatusSummary(const std::string& status_json, int64_t now_us) {
  const json doc = json::parse(status_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return InvalidArgument("the status file is not a JSON object");
  return Head(doc, now_us) + Body(doc);
}

}  // namespace weir::app
