// `weir detect` over a machine's multi-column CSV; see detect_group.h.
#include "agent/app/detect_group.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <vector>

#include "agent/app/exit_codes.h"
#include "agent/codec/csv.h"
#include "agent/codec/defect_codec.h"
#include "agent/codec/timestamp.h"
#include "agent/detect/group.h"

namespace weir::app {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> SplitLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    std::string_view f =
        line.substr(start, comma == std::string_view::npos ? line.npos : comma - start);
    while (!f.empty() && std::isspace(static_cast<unsigned char>(f.front()))) f.remove_prefix(1);
    while (!f.empty() && std::isspace(static_cast<unsigned char>(f.back()))) f.remove_suffix(1);
    if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
    out.emplace_back(f);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsTimeName(const std::string& name) {
  const std::string l = Lower(name);
  return l == "timestamp" || l == "time" || l == "ts" || l == "datetime" || l == "date";
}

Result<TimeMicros> ParseTime(const std::string& text) {
  auto t = codec::ParseTimestamp(text);
  if (t.ok()) return t;
  return codec::ParseEpoch(text, codec::EpochUnit::kSeconds);
}

// What the plot needs.
struct Plot {
  std::vector<std::string> names;
  std::vector<TimeMicros> t;
  std::vector<std::vector<double>> values;  // per channel; NaN when missing
  std::vector<double> score;
  std::vector<std::pair<TimeMicros, TimeMicros>> incidents;
  TimeMicros learnt_at = std::numeric_limits<TimeMicros>::min();  // first scored row
};

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '\'')
      out += "&#39;";
    else
      out += c;
  }
  return out;
}

std::string DateLabel(TimeMicros t) {
  std::string s = codec::FormatRfc3339(t).substr(0, 16);
  if (s.size() > 10) s[10] = ' ';
  return s;
}

std::string Svg(const Plot& p, const std::string& title) {
  constexpr double kLeft = 170, kRight = 20, kW = 1100, kStrip = 56, kGap = 8, kScore = 90;
  const size_t n = p.names.size();
  const double top = 36, score_top = top + static_cast<double>(n) * (kStrip + kGap);
  const double height = score_top + kScore + 50;
  std::string svg;
  char buf[1024];
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
                "font-family='sans-serif' font-size='11'>\n<text x='%.0f' y='20' font-size='13'>",
                kLeft + kW + kRight, height, kLeft);
  svg += buf;
  svg += Escape(title) +
         " — channels (blue), group score with its threshold 0.5 (grey, dashed red), learning "
         "(grey band), incidents (red bands)</text>\n";
  if (p.t.empty()) return svg + "<text x='40' y='60'>no rows</text></svg>\n";
  const double t0 = static_cast<double>(p.t.front());
  const double t1 = std::max(t0 + 1, static_cast<double>(p.t.back()));
  auto x = [&](double t) { return kLeft + (t - t0) / (t1 - t0) * kW; };
  auto band = [&](double a, double b, const char* color, double opacity) {
    std::snprintf(buf, sizeof(buf),
                  "<rect x='%.1f' y='%.0f' width='%.1f' height='%.0f' fill='%s' "
                  "fill-opacity='%.2f'/>\n",
                  x(a), top, std::max(1.0, x(b) - x(a)), score_top + kScore - top, color, opacity);
    svg += buf;
  };
  const double learnt =
      p.learnt_at == std::numeric_limits<TimeMicros>::min() ? t1 : static_cast<double>(p.learnt_at);
  band(t0, learnt, "#9e9e9e", 0.15);
  for (const auto& [a, b] : p.incidents)
    band(static_cast<double>(a), static_cast<double>(b), "#e53935", 0.25);
  // One strip: min/max per pixel column so spikes stay visible; gaps where values are missing.
  auto strip = [&](const std::vector<double>& v, double y0, double h, double lo, double hi,
                   const char* color) {
    auto y = [&](double val) { return y0 + (1 - (val - lo) / (hi - lo)) * h; };
    svg += "<path fill='none' stroke='";
    svg += color;
    svg += "' stroke-width='1' d='";
    bool pen = false;
    size_t i = 0;
    while (i < p.t.size()) {
      const int col = static_cast<int>(x(static_cast<double>(p.t[i])));
      double a = std::numeric_limits<double>::infinity(), b = -a;
      size_t j = i;
      for (; j < p.t.size() && static_cast<int>(x(static_cast<double>(p.t[j]))) == col; ++j) {
        if (std::isfinite(v[j])) {
          a = std::min(a, v[j]);
          b = std::max(b, v[j]);
        }
      }
      if (std::isfinite(a)) {
        std::snprintf(buf, sizeof(buf), "%c%d,%.1f L%d,%.1f ", pen ? 'L' : 'M', col, y(a), col,
                      y(b));
        svg += buf;
        pen = true;
      } else {
        pen = false;
      }
      i = j;
    }
    svg += "'/>\n";
  };
  for (size_t c = 0; c < n; ++c) {
    const double y0 = top + static_cast<double>(c) * (kStrip + kGap);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (double v : p.values[c]) {
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) hi = lo + 1;
    std::snprintf(buf, sizeof(buf),
                  "<rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' fill='none' stroke='#ddd'/>\n"
                  "<text x='%.0f' y='%.0f' text-anchor='end'>%s</text>\n"
                  "<text x='%.0f' y='%.0f' text-anchor='end' fill='#666'>%.4g</text>\n"
                  "<text x='%.0f' y='%.0f' text-anchor='end' fill='#666'>%.4g</text>\n",
                  kLeft, y0, kW, kStrip, kLeft - 6, y0 + kStrip / 2 + 4, Escape(p.names[c]).c_str(),
                  kLeft - 6, y0 + 10, hi, kLeft - 6, y0 + kStrip, lo);
    svg += buf;
    strip(p.values[c], y0, kStrip, lo, hi, "#1565c0");
  }
  std::snprintf(buf, sizeof(buf),
                "<rect x='%.0f' y='%.0f' width='%.0f' height='%.0f' fill='none' stroke='#ddd'/>\n"
                "<text x='%.0f' y='%.0f' text-anchor='end'>group score</text>\n"
                "<text x='%.0f' y='%.0f' text-anchor='end' fill='#666'>1</text>\n"
                "<text x='%.0f' y='%.0f' text-anchor='end' fill='#666'>0</text>\n"
                "<line x1='%.0f' x2='%.0f' y1='%.1f' y2='%.1f' stroke='#d32f2f' "
                "stroke-dasharray='4 3'/>\n<text x='%.0f' y='%.1f' fill='#d32f2f'>0.5</text>\n",
                kLeft, score_top, kW, kScore, kLeft - 6, score_top + kScore / 2 + 4, kLeft - 6,
                score_top + 10, kLeft - 6, score_top + kScore, kLeft, kLeft + kW,
                score_top + kScore / 2, score_top + kScore / 2, kLeft + kW + 2,
                score_top + kScore / 2 + 4);
  svg += buf;
  strip(p.score, score_top, kScore, 0, 1, "#555");
  // Time axis: six ticks labelled with UTC dates.
  const double axis_y = score_top + kScore;
  for (int k = 0; k <= 5; ++k) {
    const double t = t0 + (t1 - t0) * k / 5;
    std::snprintf(buf, sizeof(buf),
                  "<line x1='%.1f' x2='%.1f' y1='%.0f' y2='%.0f' stroke='#999'/>\n"
                  "<text x='%.1f' y='%.0f' text-anchor='middle'>%s</text>\n",
                  x(t), x(t), axis_y, axis_y + 5, x(t), axis_y + 18,
                  DateLabel(static_cast<TimeMicros>(t)).c_str());
    svg += buf;
  }
  std::snprintf(buf, sizeof(buf), "<text x='%.0f' y='%.0f' fill='#666'>time (UTC)</text>\n", kLeft,
                axis_y + 36);
  svg += buf;
  return svg + "</svg>\n";
}

}  // namespace

bool IsGroupCsv(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!std::getline(in, line)) return false;
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  const std::vector<std::string> f = SplitLine(line);
  if (f.size() < 3 || !IsTimeName(f[0])) return false;
  for (const std::string& name : f) {
    const std::string l = Lower(name);
    if (l == "value" || l == "sensor") return false;
  }
  return true;
}

int DetectGroupFile(const GroupRunOptions& o, const fs::path& in, const fs::path& out,
                    std::ostream* defects_out, std::string* svg) {
  std::ifstream r(in, std::ios::binary);
  if (!r) {
    std::cerr << "weir detect: cannot read " << in.string() << "\n";
    return kExitUsage;
  }
  std::string line;
  std::getline(r, line);
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  const std::vector<std::string> header = SplitLine(line);
  std::vector<std::string> names(header.begin() + 1, header.end());
  if (names.size() > detect::kMaxGroupSensors) {
    std::cerr << "weir detect: " << in.string() << ": " << names.size()
              << " value columns; a group has at most " << detect::kMaxGroupSensors << "\n";
    return kExitUsage;
  }
  std::error_code ec;
  if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
  std::ofstream w(out, std::ios::binary | std::ios::trunc);
  if (!w) {
    std::cerr << "weir detect: cannot write " << out.string() << "\n";
    return kExitFailure;
  }
  w << header[0] << ",anomaly_score,incident,top_sensors\n";
  detect::GroupConfig config = o.group;
  config.name = codec::SensorIdFromPath(in);
  config.sensors = names;
  detect::GroupDetector group(config, o.close_after_us);
  group.SetMembers(names);
  Plot plot;
  plot.names = names;
  plot.values.resize(names.size());
  std::vector<double> values(names.size());
  std::unique_ptr<bool[]> present = std::make_unique<bool[]>(names.size());
  std::vector<Defect> defects;
  uint64_t line_no = 1;
  TimeMicros open_at = 0;
  while (std::getline(r, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> f = SplitLine(line);
    auto fail = [&](const std::string& what) {
      std::cerr << "weir detect: " << in.string() << ":" << line_no << ": " << what << "\n";
      return kExitUsage;
    };
    if (f.size() != header.size()) {
      return fail(std::to_string(f.size()) + " fields, the header has " +
                  std::to_string(header.size()));
    }
    auto t = ParseTime(f[0]);
    if (!t.ok()) return fail("field '" + header[0] + "': " + t.status().message());
    for (size_t j = 0; j < names.size(); ++j) {
      const std::string& text = f[j + 1];
      present[j] = !text.empty() && Lower(text) != "nan";
      values[j] = 0;
      if (!present[j]) continue;
      char* end = nullptr;
      values[j] = std::strtod(text.c_str(), &end);
      if (end != text.c_str() + text.size() || !std::isfinite(values[j])) {
        return fail("field '" + names[j] + "': not a number ('" + text + "')");
      }
    }
    defects.clear();
    const uint64_t scored = group.counters().scored_rows;
    const double score =
        group.ObserveRow(*t, values, std::span<const bool>(present.get(), names.size()), &defects);
    const bool now_scored = group.counters().scored_rows > scored;
    const bool incident = group.incident().open();
    char score_text[32];
    std::snprintf(score_text, sizeof(score_text), "%.6f", score);
    w << f[0] << ',' << score_text << ',' << (incident ? '1' : '0') << ',';
    if (now_scored) {
      for (size_t k = 0; k < group.top().size(); ++k) {
        w << (k ? ";" : "") << names[group.top()[k].first];
      }
    }
    w << '\n';
    for (const Defect& d : defects) {
      if (d.phase == IncidentPhase::kOpen) open_at = d.detected_at_us;
      if (d.phase == IncidentPhase::kClose) plot.incidents.push_back({open_at, d.detected_at_us});
      if (defects_out == nullptr) continue;
      *defects_out << in.string() << ',' << d.sensor << ','
                   << codec::FormatRfc3339(d.detected_at_us) << ',' << codec::DefectKindName(d.kind)
                   << ',' << d.detector << ',' << d.score << ','
                   << codec::IncidentPhaseName(d.phase) << ','
                   << codec::FormatIncidentId(d.incident_id) << ",\"" << d.message << "\"\n";
    }
    if (svg != nullptr) {
      if (now_scored && plot.learnt_at == std::numeric_limits<TimeMicros>::min())
        plot.learnt_at = *t;
      plot.t.push_back(*t);
      for (size_t j = 0; j < names.size(); ++j) {
        plot.values[j].push_back(present[j] ? values[j] : std::nan(""));
      }
      plot.score.push_back(score);
    }
  }
  if (group.incident().open() && !plot.t.empty())
    plot.incidents.push_back({open_at, plot.t.back()});
  if (group.phase() != detect::GroupPhase::kDetecting) {
    std::cerr << "weir detect: " << in.string() << ": still learning at the end ("
              << group.counters().rows - group.counters().incomplete_rows
              << " complete rows; learning takes " << config.learn_rows
              << "): no scores (see --learn-rows)\n";
  }
  if (svg != nullptr) *svg = Svg(plot, config.name);
  w.flush();
  if (!w) {
    std::cerr << "weir detect: writing " << out.string() << " failed\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace weir::app
