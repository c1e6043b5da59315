// Incidents; see incident.h.
#include "agent/detect/incident.h"

#include <algorithm>
#include <cstdio>

namespace weir::detect {

uint64_t IncidentId(std::string_view name, std::string_view detector, TimeMicros opened_at) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  auto mix = [&](std::string_view bytes) {
    for (char c : bytes) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // separator, so ("ab","c") and ("a","bc") differ
    h *= 1099511628211ULL;
  };
  mix(name);
  mix(detector);
  for (int i = 0; i < 8; ++i) {
    h ^= static_cast<uint64_t>(opened_at) >> (8 * i) & 0xff;
    h *= 1099511628211ULL;
  }
  return h == 0 ? 1 : h;  // 0 means "no incident" on the wire
}

bool Incident::Fire(Defect& d) {
  if (open_) {
    last_firing_ = std::max(last_firing_, d.detected_at_us);
    ++firings_;
    if (d.score > peak_) {
      peak_ = d.score;
      severity_ = std::max(severity_, d.severity);
      contributions_ = d.contributions;
    }
    return false;
  }
  open_ = true;
  opened_at_ = last_firing_ = d.detected_at_us;
  peak_ = d.score;
  firings_ = 1;
  id_ = IncidentId(d.sensor, d.detector, d.detected_at_us);
  sensor_ = d.sensor;
  detector_ = d.detector;
  kind_ = d.kind;
  severity_ = d.severity;
  contributions_ = d.contributions;
  d.incident_id = id_;
  d.phase = IncidentPhase::kOpen;
  d.firings = 1;
  return true;
}

void Incident::Update(TimeMicros at, double score, Severity severity) {
  last_firing_ = std::max(last_firing_, at);
  ++firings_;
  if (score > peak_) peak_ = score;
  severity_ = std::max(severity_, severity);
}

Defect Incident::Close(TimeMicros now) {
  Defect d;
  d.sensor = sensor_;
  d.kind = kind_;
  d.severity = severity_;
  d.detector = detector_;
  d.window_start_us = opened_at_;
  d.window_end_us = last_firing_;
  d.detected_at_us = now;
  d.score = peak_;
  char msg[128];
  std::snprintf(msg, sizeof(msg), "incident closed: %u firing(s) over %.1f s, peak score %.3f",
                firings_, static_cast<double>(last_firing_ - opened_at_) / 1e6, peak_);
  d.message = msg;
  d.incident_id = id_;
  d.phase = IncidentPhase::kClose;
  d.firings = firings_;
  d.contributions = std::move(contributions_);
  *this = Incident{};
  return d;
}

}  // namespace weir::detect
