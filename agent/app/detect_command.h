// `weir detect`: runs the detection engine offline over a `timestamp,value` CSV file (as in NAB),
// or a machine's `timestamp,a,b,c,...` CSV as one multivariate group (agent/app/detect_group.h),
// or a directory tree of them, writes `timestamp,value,anomaly_score,incident` per row (the
// input's own timestamp and value text, the `auto` score, 1 while the sensor has an open
// incident: agent/detect/incident.h), and can draw one series with its detections and
// labelled windows as SVG or HTML.
//
// RunDetect blocks on file I/O; it is not reentrant-safe only in that two calls must not write the
// same output. Returns an exit code (agent/app/exit_codes.h): 0 ok, 1 runtime error (cannot write),
// 2 bad usage or input, with a message on stderr naming the file and line.
#pragma once

#include <filesystem>
#include <string>

#include "agent/detect/config.h"

namespace CLI {
class App;
}

namespace weir::app {

struct DetectOptions {
  std::filesystem::path input;    // a CSV file or a directory searched recursively for *.csv
  std::filesystem::path output;   // a file (file input) or a directory mirroring the input tree
  detect::EngineConfig engine;    // applied to every file; each file gets a fresh engine
  std::filesystem::path defects;  // optional: every defect as a CSV line
  std::filesystem::path plot;     // optional: .svg or .html of one series
  std::string plot_series;        // directory input: relative path of the series to plot
  std::filesystem::path labels;   // optional: NAB combined_windows.json, shaded on the plot
  bool quiet = false;             // no summary on stderr
  // Machine CSVs (a time column and several value columns, detect_group.h): the group's learning
  // and firing settings; name and sensors come from the file.
  detect::GroupConfig group;
};

int RunDetect(const DetectOptions& options);

// Registers `detect INPUT -o OUTPUT [...]` on `app`; when it runs, *exit_code receives RunDetect's
// result. `app` and `exit_code` must outlive parsing and the callback.
void AddDetectCommand(CLI::App& app, int* exit_code);

}  // namespace weir::app
