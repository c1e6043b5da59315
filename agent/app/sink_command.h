// `weir sink`: the reference upstream consumer and the test oracle. Subscribes to the upstream
// broker (QoS 1, persistent session), decodes both envelope forms, restores each stream's order
// through SinkReorder (holding what arrives after a hole for up to --reorder-window), counts
// through SinkLedger (duplicates by (device, log id, lane, sequence), gaps, order violations,
// defects, latency), optionally writes the delivered records (JSON lines, CSV or a weir log) and
// a JSON report.
//
// RunSink blocks until --duration passes, --until-idle passes without a message, or SIGINT /
// SIGTERM arrives (it blocks those signals in the calling thread first, so call it from main
// before any other thread starts). Returns an exit code (agent/app/exit_codes.h): 0 at a normal
// end, 1 when the output cannot be written or the broker was never reached, 2 for bad options.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace weir::app {

struct SinkOptions {
  std::string broker = "mqtt://127.0.0.1:1883";
  std::vector<std::string> topics = {"weir/+/data", "weir/+/defects"};
  std::filesystem::path out;     // optional: .jsonl, .csv or .db (see sink_output.h)
  std::filesystem::path report;  // optional: the JSON report, rewritten every second and at exit
  std::chrono::milliseconds duration{0};    // 0: no limit
  std::chrono::milliseconds until_idle{0};  // 0: never stop for idleness
  // How long an envelope that arrived after a hole is held for the hole to fill (0: never).
  std::chrono::milliseconds reorder_window{5000};
  std::string client_id = "weir-sink";
  bool quiet = false;  // no live line and no summary
};

int RunSink(const SinkOptions& options);

// Parses "500ms", "5s", "2m", "1h" (a bare number is seconds). False on anything else.
bool ParseSinkDuration(const std::string& text, std::chrono::milliseconds* out);

// Registers `sink` on `app`; when it runs, *exit_code receives RunSink's result. `app` and
// `exit_code` must outlive parsing and the callback.
void AddSinkCommand(CLI::App& app, int* exit_code);

}  // namespace weir::app
