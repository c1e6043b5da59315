// `weir detect` over a machine: a CSV with a timestamp column and several value columns is one
// multivariate group (every value column a sensor; agent/detect/group.h). Per row it writes
// `timestamp,anomaly_score,incident,top_sensors`: the group score (0.5 at the control limit, 0
// while learning), 1 while the group's incident is open, and the top contributing columns
// separated by ';' (empty while learning). It can draw the channels stacked with the score
// strip, its threshold, the learning period and the incidents shaded, on a time axis with dates.
//
// Detection logic lives in agent/detect; this file only reads the CSV and writes text and SVG.
// Blocking file I/O; not thread-safe in that two calls must not write the same output.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "agent/detect/config.h"

namespace weir::app {

// True when the file's first line is a header with a time column and at least two other
// columns, none named `value` or `sensor` (a NAB-style file is not a group).
bool IsGroupCsv(const std::filesystem::path& path);

struct GroupRunOptions {
  detect::GroupConfig group;  // name and sensors are set from the file
  TimeMicros close_after_us = 300 * detect::kSecond;
};

// Runs one group file. Defects go to *defects_out as CSV lines (may be null); when `svg` is not
// null it receives the plot. Returns an exit code (exit_codes.h); messages name file and line.
int DetectGroupFile(const GroupRunOptions& options, const std::filesystem::path& in,
                    const std::filesystem::path& out, std::ostream* defects_out, std::string* svg);

}  // namespace weir::app
