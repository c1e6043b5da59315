// AgentRig: the whole path of `weir run` for integration tests — two real mosquitto brokers on
// free loopback ports (local and upstream), the real `weir` binary as agent (`run`), oracle
// (`sink`) and sensor fleet (`simulate`), and a state directory — with waits on what they report
// (status.json, the sink's report), never on fixed sleeps.
//
// Not thread-safe: one test thread drives a rig. Children are killed (SIGKILL) and brokers
// stopped when the rig is destroyed; the temporary directory holding the state dir, the reports
// and every child's stderr is removed with it. Functions that wait block up to the timeout given
// and return what they saw, so the test can assert with a useful message.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/status.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir::testing {

struct RigOptions {
  MosquittoOptions local;
  MosquittoOptions upstream;
};

// What `weir simulate` reported on stderr ("published N, failed M").
struct SimulateResult {
  int exit_code = -1;
  uint64_t published = 0;
  uint64_t failed = 0;
  std::string err;
};

struct SimulateArgs {
  uint64_t count = 1000;
  double rate = 1000;
  int sensors = 50;
  uint64_t seed = 7;
  std::string client_id = "it-simulate";
  std::string faults;  // --faults (e.g. "spike,stuck"); "" for none
  double fault_rate = 0.001;
  int batch = 1;  // --batch: readings per message
};

class AgentRig {
 public:
  // Starts both brokers. Both keep their sessions across Stop()/Restart() (persistence) and queue
  // without limit for an offline persistent session, so a message lost in a test is weir's loss,
  // not the broker's queue cap (mosquitto drops QoS 1 beyond 1,000 queued messages by default).
  // kNotFound when mosquitto is not installed (the caller skips).
  static Result<std::unique_ptr<AgentRig>> Start(RigOptions options = DefaultOptions());
  static RigOptions DefaultOptions();

  ~AgentRig();
  AgentRig(const AgentRig&) = delete;
  AgentRig& operator=(const AgentRig&) = delete;

  MosquittoBroker& local() { return *local_; }
  MosquittoBroker& upstream() { return *upstream_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  std::filesystem::path log_path() const { return state_dir() / "log.db"; }
  static constexpr const char* kDevice = "gw-it";

  // ---- the agent (`weir run`) ----
  // The argv of `weir run` against this rig's brokers and state dir (device gw-it, subscription
  // sensors/#, reconnect backoff capped at 1 s so tests do not wait out a long jitter), then
  // `extra` (e.g. {"--set", "store.quota_bytes=1048576"}).
  std::vector<std::string> AgentArgv(const std::vector<std::string>& extra = {}) const;
  // Starts `weir run` in the background (stderr appended to agent.err) and waits up to 10 s for
  // its status.json to say "running" with pid equal to the child's. False when it did not.
  bool StartAgent(const std::vector<std::string>& extra = {});
  // SIGTERM, then waits; returns the exit code (-1 if still running at the deadline).
  int StopAgent(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL and reap: a crash.
  void KillAgent();
  // Sends `signal` (e.g. SIGHUP) to the running agent and returns at once.
  void SignalAgent(int signal);
  bool agent_running() { return agent_ != nullptr && agent_->running(); }
  std::string AgentStderr() const { return ReadFileBytes(dir_ / "agent.err"); }

  // status.json, or an empty object while it is missing or half-written.
  nlohmann::json AgentStatus() const;
  // A number in status.json by JSON pointer ("/store/readings_committed"); 0 when absent.
  uint64_t StatusCount(const std::string& pointer) const;
  // Waits until status.json was rewritten (its time_us moved) at least twice after this call,
  // so that counters read next reflect everything before the call.
  bool WaitForFreshStatus(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // ---- the oracle (`weir sink`) ----
  // Starts `weir sink` on the upstream broker (report sink.json, readings sink.jsonl), with
  // `extra` options (e.g. {"--reorder-window", "30s"}), and waits until its report says it is
  // subscribed.
  bool StartSink(const std::vector<std::string>& extra = {});
  // The latest report (rewritten every second), or an empty object.
  nlohmann::json SinkReport() const;
  uint64_t SinkDelivered() const;  // lanes.readings.delivered of the latest report
  // Waits until the sink reports at least `readings` delivered readings.
  bool WaitForSinkDelivered(uint64_t readings, std::chrono::milliseconds timeout);
  // SIGTERM, waits for the exit, returns the final report (an empty object on failure).
  nlohmann::json StopSink();
  // Every reading the sink wrote to sink.jsonl, in arrival order (after StopSink): objects with
  // device, seq, sensor, time_us, value, quality.
  std::vector<nlohmann::json> SinkReadings() const;
  std::vector<uint64_t> SinkSequences() const;  // their seq fields

  // ---- sensors (`weir simulate`, JSON payloads on sensors/<id>) ----
  SimulateResult Simulate(const SimulateArgs& args);  // blocks until done
  // In the background; its stderr goes to simulate-<n>.err.
  std::unique_ptr<Subprocess> SimulateInBackground(const SimulateArgs& args);
  // Parses the summary line of a finished background run.
  SimulateResult SimulateSummary(int exit_code) const;

 private:
  AgentRig() = default;
  // Opens the agent's persistent session on the local broker (its client id, sensors/# at QoS 1)
  // before the agent first runs, so the broker queues every reading published from then on.
  // Without it, readings published between the agent's CONNACK and its SUBACK would be dropped
  // by the broker, a race of the test and not a loss by weir. Restarts still exercise weir's own
  // subscribing (a broker without persistence forgets the session).
  Status PrepareLocalSession();
  std::vector<std::string> SimulateArgv(const SimulateArgs& args) const;

  TempDir dir_;
  std::unique_ptr<MosquittoBroker> local_;
  std::unique_ptr<MosquittoBroker> upstream_;
  std::unique_ptr<Subprocess> agent_;
  std::unique_ptr<Subprocess> sink_;
  int simulate_runs_ = 0;
};

// Reads a JSON file; an empty object when it is missing or does not parse (a writer replacing
// it atomically never shows a half file, but it may not exist yet).
nlohmann::json ReadJsonFile(const std::filesystem::path& path);
// A number by JSON pointer, 0 when absent or not a number.
uint64_t JsonCount(const nlohmann::json& j, const std::string& pointer);

// What a failing test prints about the rig: status.json, the sink's report and the tail of the
// agent's stderr.
std::string Diagnostics(AgentRig& rig);

// Waits until `deadline` while checking `still_ok` (for the duration of an outage, which is the
// scenario itself, not a guess at how long something takes). Returns false as soon as
// `still_ok` does.
bool HoldFor(std::chrono::milliseconds duration, const std::function<bool()>& still_ok);

}  // namespace weir::testing

// Declares `var` (std::unique_ptr<AgentRig>) with both brokers started; skips without mosquitto.
#define WEIR_START_RIG_OR_SKIP(var, options)                              \
  auto var##_started_ = ::weir::testing::AgentRig::Start(options);        \
  if (var##_started_.status().code() == ::weir::StatusCode::kNotFound) {  \
    GTEST_SKIP() << var##_started_.status().ToString();                   \
  }                                                                       \
  ASSERT_TRUE(var##_started_.ok()) << var##_started_.status().ToString(); \
  auto var = std::move(var##_started_).value()
