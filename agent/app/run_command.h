// `weir run`: the agent daemon. Takes readings from the local broker, commits them to the
// on-device log and forwards the log upstream in order (agent/pipeline/pipeline.h), until SIGTERM
// or SIGINT, which drain in a fixed order and exit 0. SIGHUP reloads the config file and the
// environment (live keys apply at once; the others are reported and apply at the next start). A
// second SIGTERM/SIGINT during the drain exits at once (130): nothing committed is lost by that,
// unsent records stay in the log.
//
// RunAgent blocks those signals in the calling thread before starting any other, so call it from
// main before other threads exist. Exit codes (exit_codes.h): 0 after a drain, 1 when the log
// cannot be written or opened, 2 for a bad flag or an invalid config (the message names the key),
// 3 when another instance holds the state directory, 130 on a second signal.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace weir::app {

struct RunFlags {
  std::string config_file;             // empty: no file (defaults + environment + flags)
  std::string local;                   // ingest.local.url
  std::vector<std::string> subscribe;  // ingest.subscriptions (JSON format each)
  std::string upstream;                // upstream.broker.url
  std::string device;                  // device_id
  std::string state;                   // store.state_dir (made absolute)
  std::string format;                  // upstream.format
  std::vector<std::string> set;        // key=value overrides
  // How long SIGTERM waits for the upstream to acknowledge the backlog before leaving the rest
  // in the log for the next start.
  std::chrono::milliseconds drain_timeout{5000};
};

int RunAgent(const RunFlags& flags);

// Registers `run` and `status` on `app`; *exit_code receives the result.
void AddRunCommand(CLI::App& app, int* exit_code);

}  // namespace weir::app
