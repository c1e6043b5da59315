// The human summary `weir status` prints from status.json (status_file.h), the way
// `systemctl status` does: state and uptime, both connections, rates, backlog and the age of the
// oldest unsent reading, rejections and dead letters, defects, reloads, the last error. A file
// that has not been rewritten for a while (weir rewrites it every second) is flagged as stale.
// Pure; tolerant of missing fields (older or newer agents), which show as 0 or are left out.
#pragma once

#include <cstdint>
#include <string>

#include "agent/core/status.h"

namespace weir::app {

// `status_json` is the file's text, `now_us` the current wall time (to age the file). Returns
// InvalidArgument when the text is not a JSON object.
Result<std::string> RenderStatusSummary(const std::string& status_json, int64_t now_us);

}  // namespace weir::app
