// `weir simulate`: a sensor fleet publisher. Publishes the readings of SignalGenerator
// (agent/app/signal_generator.h) to an MQTT broker at a total rate paced on the monotonic clock,
// or with --dry-run writes them as JSON lines to a file or stdout.
//
// RunSimulate blocks until --count readings were published, --duration passed, or SIGINT/SIGTERM
// arrived (it blocks those signals in the calling thread and reads them itself, so call it from
// main before other threads start; one run per process at a time). It prints one summary line on
// stderr and returns an exit code (agent/app/exit_codes.h): 0 done, 1 publishes failed or output
// not writable, 2 bad options (the message names the flag), 130 stopped by a signal before a
// --count or --duration bound was reached.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace weir::app {

struct SimulateOptions {
  std::string broker = "mqtt://127.0.0.1:1883";
  std::string client_id;  // empty: "weir-simulate-<pid>"
  int sensors = 100;
  double rate = 5000;                                 // readings per second, all sensors together
  std::optional<std::chrono::microseconds> duration;  // stop after this long (dry run: rate*this)
  std::optional<uint64_t> count;                      // stop after this many readings
  uint64_t seed = 7;
  std::string topic = "sensors/{sensor}";  // {sensor} is replaced by the sensor id
  std::string format = "json";             // json | number | line
  std::string faults;                      // comma-separated kinds, "" for none
  double fault_rate = 0.001;
  int qos = 1;
  std::string start_time;  // RFC 3339; empty: now
  // Event time between two readings of one sensor; unset: sensors / rate, so event time keeps
  // pace with the wall clock.
  std::optional<std::chrono::microseconds> time_step;
  std::string faults_out;  // JSON lines of FaultRecord; empty: not written
  bool dry_run = false;
  std::string output;  // with dry_run: a file, or "-" for stdout
  int max_inflight = 1000;
  // Readings per MQTT message: a JSON array (json) or one line each (line), in generator order,
  // so a batch holds consecutive sensors' readings, like a poller's snapshot. The topic's
  // {sensor} names the batch's first reading; each reading carries its own id. 1 (the default)
  // publishes one reading per message; number payloads allow only 1. A dry run ignores it.
  int batch = 1;
};

int RunSimulate(const SimulateOptions& options);

// Parses "250ms", "60s", "5m", "2h", "1d" or a bare number of seconds (fractions allowed).
// nullopt when malformed or not positive.
std::optional<std::chrono::microseconds> ParseDurationText(const std::string& text);

// Registers `simulate [...]` on `app`; when it runs, *exit_code receives RunSimulate's result.
// `app` and `exit_code` must outlive parsing and the callback.
void AddSimulateCommand(CLI::App& app, int* exit_code);

}  // namespace weir::app
