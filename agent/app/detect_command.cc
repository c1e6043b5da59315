// `weir detect`: the offline runner over CSV files; see detect_command.h.
#include "agent/app/detect_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "agent/app/detect_group.h"
#include "agent/app/exit_codes.h"
#include "agent/codec/csv.h"
#include "agent/codec/defect_codec.h"
#include "agent/codec/timestamp.h"
#include "agent/detect/engine.h"

namespace weir::app {
namespace {

namespace fs = std::filesystem;

// What the plot needs of the series it draws.
struct Series {
  std::string name;
  std::vector<TimeMicros> t;
  std::vector<double> value, score;
  std::vector<std::pair<TimeMicros, double>> defects;  // (time, value) of each defect
};

// Runs one file. Returns an exit code; messages name the file (and line).
int DetectFile(const DetectOptions& o, const fs::path& in, const fs::path& out,
               std::ostream* defects_out, Series* series) {
  codec::CsvOptions csv_options;
  csv_options.sensor = codec::SensorIdFromPath(in);
  auto reader = codec::CsvReader::Open(in, csv_options);
  if (!reader.ok()) {
    std::cerr << "weir detect: " << in.string() << ": " << reader.status().message() << "\n";
    return kExitUsage;
  }
  std::error_code ec;
  if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
  std::ofstream w(out, std::ios::binary | std::ios::trunc);
  if (!w) {
    std::cerr << "weir detect: cannot write " << out.string() << "\n";
    return kExitFailure;
  }
  w << "timestamp,value,anomaly_score,incident\n";
  detect::Engine engine(o.engine);
  std::vector<Defect> defects;
  Reading r;
  char score_text[32];
  for (;;) {
    auto next = reader->Next(&r);
    if (!next.ok()) {
      std::cerr << "weir detect: " << in.string() << ":" << reader->line_number() << ": "
                << next.status().message() << "\n";
      return next.status().code() == StatusCode::kIoError ? kExitFailure : kExitUsage;
    }
    if (!*next) break;
    defects.clear();
    const double score = engine.Observe(r, &defects);
    std::snprintf(score_text, sizeof(score_text), "%.6f", score);
    // Repeat the input's own timestamp and value text, as NAB's scorer compares timestamps.
    const auto& fields = reader->raw_fields();
    const bool incident = engine.IncidentOpen(r.sensor);
    w << fields[static_cast<size_t>(reader->time_column())] << ','
      << fields[static_cast<size_t>(reader->value_column())] << ',' << score_text << ','
      << (incident ? '1' : '0') << '\n';
    for (const Defect& d : defects) {
      if (defects_out != nullptr) {
        *defects_out << in.string() << ',' << d.sensor << ','
                     << codec::FormatRfc3339(d.detected_at_us) << ','
                     << codec::DefectKindName(d.kind) << ',' << d.detector << ',' << d.score << ','
                     << codec::IncidentPhaseName(d.phase) << ','
                     << (d.phase == IncidentPhase::kNone ? ""
                                                         : codec::FormatIncidentId(d.incident_id))
                     << ",\"" << d.message << "\"\n";
      }
      if (series != nullptr && d.phase != IncidentPhase::kClose) {
        series->defects.push_back({d.detected_at_us, r.value});
      }
    }
    if (series != nullptr) {
      series->t.push_back(r.time_us);
      series->value.push_back(r.value);
      series->score.push_back(score);
    }
  }
  w.flush();
  if (!w) {
    std::cerr << "weir detect: writing " << out.string() << " failed\n";
    return kExitFailure;
  }
  return kExitOk;
}

// Labelled windows for `rel` (e.g. "realKnownCause/nyc_taxi.csv") from NAB's
// combined_windows.json; the key may also match by file name alone.
std::vector<std::pair<TimeMicros, TimeMicros>> LoadLabels(const fs::path& labels,
                                                          const std::string& rel, int* code) {
  std::vector<std::pair<TimeMicros, TimeMicros>> out;
  std::ifstream in(labels);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!in || j.is_discarded() || !j.is_object()) {
    std::cerr << "weir detect: " << labels.string() << ": not a NAB windows JSON file\n";
    *code = kExitUsage;
    return out;
  }
  const std::string name = fs::path(rel).filename().string();
  for (const auto& [key, windows] : j.items()) {
    if (key != rel && fs::path(key).filename().string() != name) continue;
    for (const auto& w : windows) {
      if (!w.is_array() || w.size() != 2 || !w[0].is_string() || !w[1].is_string()) continue;
      auto a = codec::ParseTimestamp(w[0].get<std::string>());
      auto b = codec::ParseTimestamp(w[1].get<std::string>());
      if (a.ok() && b.ok()) out.push_back({*a, *b});
    }
    break;
  }
  return out;
}

std::string Svg(const Series& s, const std::vector<std::pair<TimeMicros, TimeMicros>>& labels) {
  constexpr double kW = 1200, kH = 360, kScoreH = 80, kPad = 40;
  std::string svg;
  char buf[256];
  const double total_h = kH + kScoreH + 2 * kPad;
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
                "font-family='sans-serif' font-size='12'>\n",
                kW + 2 * kPad, total_h);
  svg += buf;
  if (s.t.empty()) return svg + "<text x='40' y='40'>no readings</text></svg>\n";
  const double t0 = static_cast<double>(s.t.front());
  const double t1 = std::max(t0 + 1, static_cast<double>(s.t.back()));
  const auto [vmin_it, vmax_it] = std::minmax_element(s.value.begin(), s.value.end());
  const double v0 = *vmin_it, v1 = std::max(*vmax_it, v0 + 1e-12);
  auto x = [&](double t) { return kPad + (t - t0) / (t1 - t0) * kW; };
  auto y = [&](double v) { return kPad + (1 - (v - v0) / (v1 - v0)) * kH; };
  auto ys = [&](double sc) { return kPad + kH + kPad / 2 + (1 - sc) * kScoreH; };
  for (const auto& [a, b] : labels) {
    std::snprintf(buf, sizeof(buf),
                  "<rect x='%.1f' y='%.0f' width='%.1f' height='%.0f' fill='#ffd54f' "
                  "fill-opacity='0.35'/>\n",
                  x(a), kPad, std::max(1.0, x(b) - x(a)), kH);
    svg += buf;
  }
  // Min/max per pixel column keeps spikes visible however long the series.
  auto polyline = [&](const std::vector<double>& v, auto&& ymap, const char* color) {
    svg += "<polyline fill='none' stroke='";
    svg += color;
    svg += "' stroke-width='1' points='";
    size_t i = 0;
    while (i < s.t.size()) {
      const int col = static_cast<int>(x(static_cast<double>(s.t[i])));
      double lo = v[i], hi = v[i];
      size_t j = i;
      while (j < s.t.size() && static_cast<int>(x(static_cast<double>(s.t[j]))) == col) {
        lo = std::min(lo, v[j]);
        hi = std::max(hi, v[j]);
        ++j;
      }
      std::snprintf(buf, sizeof(buf), "%d,%.1f %d,%.1f ", col, ymap(lo), col, ymap(hi));
      svg += buf;
      i = j;
    }
    svg += "'/>\n";
  };
  polyline(s.value, y, "#1565c0");
  polyline(s.score, ys, "#777777");
  for (const auto& [t, v] : s.defects) {
    std::snprintf(buf, sizeof(buf),
                  "<circle cx='%.1f' cy='%.1f' r='5' fill='none' stroke='#d32f2f' "
                  "stroke-width='2'/>\n",
                  x(static_cast<double>(t)), y(v));
    svg += buf;
  }
  std::snprintf(buf, sizeof(buf), "<text x='%.0f' y='20'>", kPad);
  svg += buf;
  for (char c : s.name) {
    if (c == '<')
      svg += "&lt;";
    else if (c == '&')
      svg += "&amp;";
    else
      svg += c;
  }
  std::snprintf(buf, sizeof(buf),
                " — value %g..%g (blue), auto score 0..1 (grey), defects (red), labelled windows "
                "(yellow)</text>\n",
                v0, v1);
  svg += buf;
  return svg + "</svg>\n";
}

// `svg` is drawn already (a group file) or empty (draw `s`).
int WritePlot(const DetectOptions& o, const Series& s, const std::string& rel, std::string svg) {
  int code = kExitOk;
  std::vector<std::pair<TimeMicros, TimeMicros>> labels;
  if (!o.labels.empty() && svg.empty()) labels = LoadLabels(o.labels, rel, &code);
  if (code != kExitOk) return code;
  std::ofstream out(o.plot, std::ios::binary | std::ios::trunc);
  if (svg.empty()) svg = Svg(s, labels);
  if (o.plot.extension() == ".html") {
    out << "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>weir detect: " << rel
        << "</title></head><body>\n"
        << svg << "</body></html>\n";
  } else {
    out << svg;
  }
  out.flush();
  if (!out) {
    std::cerr << "weir detect: cannot write " << o.plot.string() << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int RunDetect(const DetectOptions& o) {
  if (Status s = detect::Validate(o.engine); !s.ok()) {
    std::cerr << "weir detect: invalid detector config: " << s.message() << "\n";
    return kExitUsage;
  }
  std::error_code ec;
  if (!fs::exists(o.input, ec)) {
    std::cerr << "weir detect: " << o.input.string() << ": no such file or directory\n";
    return kExitUsage;
  }
  if (o.output.empty()) {
    std::cerr << "weir detect: an output (-o) is required\n";
    return kExitUsage;
  }
  // (relative name, input path, output path) per file.
  std::vector<std::tuple<std::string, fs::path, fs::path>> files;
  if (fs::is_directory(o.input, ec)) {
    for (const auto& e : fs::recursive_directory_iterator(o.input, ec)) {
      if (e.is_regular_file() && e.path().extension() == ".csv") {
        const fs::path rel = fs::relative(e.path(), o.input);
        files.emplace_back(rel.generic_string(), e.path(), o.output / rel);
      }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      std::cerr << "weir detect: " << o.input.string() << ": no .csv files\n";
      return kExitUsage;
    }
  } else {
    const fs::path parent = o.input.parent_path().filename();
    files.emplace_back((parent / o.input.filename()).generic_string(), o.input, o.output);
  }
  std::ofstream defects_out;
  if (!o.defects.empty()) {
    defects_out.open(o.defects, std::ios::binary | std::ios::trunc);
    if (!defects_out) {
      std::cerr << "weir detect: cannot write " << o.defects.string() << "\n";
      return kExitFailure;
    }
    defects_out << "file,sensor,detected_at,kind,detector,score,phase,incident_id,message\n";
  }
  Series series;
  std::string plotted, group_svg;
  for (const auto& [rel, in, out] : files) {
    const bool plot_this = !o.plot.empty() && plotted.empty() &&
                           (o.plot_series.empty() || o.plot_series == rel ||
                            fs::path(rel).filename() == o.plot_series || files.size() == 1);
    if (plot_this) {
      plotted = rel;
      series.name = rel;
    }
    std::ostream* d_out = o.defects.empty() ? nullptr : &defects_out;
    // A machine's CSV (several value columns) is one multivariate group: detect_group.h.
    const int code = IsGroupCsv(in)
                         ? DetectGroupFile({o.group, o.engine.incident_close_after_us > 0
                                                         ? o.engine.incident_close_after_us
                                                         : detect::kGroupCloseAfterDefault},
                                           in, out, d_out, plot_this ? &group_svg : nullptr)
                         : DetectFile(o, in, out, d_out, plot_this ? &series : nullptr);
    if (code != kExitOk) return code;
  }
  if (!o.plot.empty()) {
    if (plotted.empty()) {
      std::cerr << "weir detect: --plot-series " << o.plot_series << " matches no input file\n";
      return kExitUsage;
    }
    if (int code = WritePlot(o, series, plotted, group_svg); code != kExitOk) return code;
  }
  if (!o.quiet) {
    std::cerr << "weir detect: " << files.size() << " file(s) -> " << o.output.string() << "\n";
  }
  return kExitOk;
}

void AddDetectCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<DetectOptions>();
  auto holdoff_s = std::make_shared<double>(300);
  auto limits = std::make_shared<std::vector<double>>();
  auto dropout_s = std::make_shared<double>(0);
  auto close_after_s = std::make_shared<double>(300);
  CLI::App* cmd = app.add_subcommand(
      "detect", "Run the detectors offline over a timestamp,value CSV file or a tree of them");
  cmd->add_option("input", options->input, "CSV file or directory of them")->required();
  cmd->add_option("-o,--output", options->output, "output file, or directory mirroring the input")
      ->required();
  cmd->add_option("--threshold", options->engine.fallback.auto_score.threshold,
                  "auto score at which a defect is raised")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--holdoff", *holdoff_s,
                  "seconds a detector stays quiet after a defect (with --incident-close-after 0)");
  cmd->add_option("--incident-close-after", *close_after_s,
                  "seconds without a finding that close an incident; 0: one defect per finding")
      ->check(CLI::Range(0.0, 86400.0 * 365));
  cmd->add_option("--limits", *limits, "static limits MIN MAX")->expected(2);
  cmd->add_option("--spike-z", options->engine.fallback.spike.z,
                  "enable the spike detector with this robust z-score");
  cmd->add_option("--flatline", options->engine.fallback.flatline.min_repeats,
                  "enable the flatline detector: this many equal readings");
  cmd->add_option("--dropout", *dropout_s, "enable the dropout detector: seconds without data");
  cmd->add_flag("--shift", options->engine.fallback.shift.enabled,
                "enable the level-shift (CUSUM) and drift (EWMA) detectors");
  cmd->add_option("--defects", options->defects, "write every defect to this CSV file");
  cmd->add_option("--plot", options->plot, "draw one series to this .svg or .html file");
  cmd->add_option("--plot-series", options->plot_series,
                  "with a directory input: which file to plot (relative path or name)");
  cmd->add_option("--labels", options->labels, "NAB combined_windows.json to shade on the plot");
  cmd->add_option("--learn-rows", options->group.learn_rows,
                  "machine CSVs (several value columns): rows of normal operation to learn from")
      ->check(CLI::Range(20u, 100'000'000u));
  cmd->add_option("--persistence", options->group.persistence,
                  "machine CSVs: consecutive rows beyond a control limit before an incident")
      ->check(CLI::Range(1u, 1'000'000u));
  cmd->add_flag("-q,--quiet", options->quiet, "no summary on stderr");
  cmd->callback([=]() {
    detect::DetectorConfig& c = options->engine.fallback;
    c.holdoff_us = static_cast<TimeMicros>(*holdoff_s * detect::kSecond);
    options->engine.incident_close_after_us =
        static_cast<TimeMicros>(*close_after_s * detect::kSecond);
    if (limits->size() == 2) c.limits = {true, (*limits)[0], (*limits)[1]};
    c.spike.enabled = cmd->count("--spike-z") > 0;
    c.flatline.enabled = cmd->count("--flatline") > 0;
    if (*dropout_s > 0) c.dropout = {true, static_cast<TimeMicros>(*dropout_s * detect::kSecond)};
    *exit_code = RunDetect(*options);
  });
}

}  // namespace weir::app
