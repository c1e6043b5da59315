// AgentRig: see agent_harness.h.
#include "tests/integration/agent_harness.h"

#include <signal.h>

#include <cstdio>
#include <sstream>

#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/mqtt_recorder.h"

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

// For both brokers: no cap on the QoS 1 messages queued per client (mosquitto counts a connected
// subscriber's backlog too), so that only weir can lose or reorder.
const std::vector<std::string> kUnboundedQueues = {"max_queued_messages 0"};

}  // namespace

nlohmann::json ReadJsonFile(const fs::path& path) {
  const std::string text = ReadFileBytes(path);
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() || !j.is_object() ? nlohmann::json::object() : j;
}

uint64_t JsonCount(const nlohmann::json& j, const std::string& pointer) {
  const nlohmann::json::json_pointer p(pointer);
  if (!j.contains(p)) return 0;
  const nlohmann::json& v = j.at(p);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) return static_cast<uint64_t>(std::max<int64_t>(0, v.get<int64_t>()));
  if (v.is_number_float()) return static_cast<uint64_t>(std::max(0.0, v.get<double>()));
  return 0;
}

bool HoldFor(milliseconds duration, const std::function<bool()>& still_ok) {
  const auto end = Steady::now() + duration;
  auto next_check = Steady::now();
  bool ok = true;
  // The deadline is the condition; still_ok is polled a few times a second, not at every spin.
  WaitFor(
      [&] {
        const auto now = Steady::now();
        if (now >= next_check) {
          ok = still_ok();
          next_check = now + milliseconds(200);
        }
        return !ok || now >= end;
      },
      duration + seconds(5));
  return ok;
}

RigOptions AgentRig::DefaultOptions() {
  RigOptions o;
  o.local.persistence = true;
  o.upstream.persistence = true;
  o.local.extra_config = kUnboundedQueues;
  o.upstream.extra_config = kUnboundedQueues;
  return o;
}

Result<std::unique_ptr<AgentRig>> AgentRig::Start(RigOptions options) {
  std::unique_ptr<AgentRig> rig(new AgentRig());
  WEIR_ASSIGN_OR_RETURN(rig->local_, MosquittoBroker::Start(options.local));
  WEIR_ASSIGN_OR_RETURN(rig->upstream_, MosquittoBroker::Start(options.upstream));
  fs::create_directories(rig->state_dir());
  WEIR_RETURN_IF_ERROR(rig->PrepareLocalSession());
  return rig;
}

Status AgentRig::PrepareLocalSession() {
  transport::MqttOptions o;
  o.url = local_->url();
  o.client_id = std::string("weir-") + kDevice + "-in";  // the agent's default local client id
  o.clean_session = false;
  WEIR_ASSIGN_OR_RETURN(auto client, transport::NewPahoMqttClient(o));
  MqttRecorder recorder;
  client->SetCallbacks(recorder.Callbacks());
  WEIR_RETURN_IF_ERROR(client->Connect());
  if (!WaitFor([&] { return recorder.connected() > 0; })) {
    return Unavailable("no connection to the local broker");
  }
  WEIR_RETURN_IF_ERROR(client->Subscribe({{"sensors/#", 1}}));
  if (!WaitFor([&] { return !recorder.subscribed().empty(); })) {
    return Unavailable("the local broker did not confirm the subscription");
  }
  WEIR_RETURN_IF_ERROR(recorder.subscribed()[0]);
  return client->Disconnect(milliseconds(1000));
}

AgentRig::~AgentRig() {
  // Children first (their destructors SIGKILL), then the brokers (unique_ptr members after).
  agent_.reset();
  sink_.reset();
}

std::vector<std::string> AgentRig::AgentArgv(const std::vector<std::string>& extra) const {
  std::vector<std::string> argv = {WeirBinary().string(),
                                   "run",
                                   "--local",
                                   local_->url(),
                                   "--subscribe",
                                   "sensors/#",
                                   "--upstream",
                                   upstream_->url(),
                                   "--device",
                                   kDevice,
                                   "--state",
                                   state_dir().string(),
                                   "--set",
                                   "upstream.backoff_initial_ms=100",
                                   "--set",
                                   "upstream.backoff_max_ms=1000"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

bool AgentRig::StartAgent(const std::vector<std::string>& extra) {
  agent_.reset();
  agent_ = std::make_unique<Subprocess>(AgentArgv(extra), "/dev/null", dir_ / "agent.err");
  const int64_t pid = agent_->pid();
  return WaitFor(
             [&] {
               if (!agent_->running()) return true;  // exited: reported below
               const nlohmann::json s = AgentStatus();
               return s.value("state", "") == "running" && s.value("pid", int64_t{0}) == pid;
             },
             seconds(10)) &&
         agent_->running();
}

int AgentRig::StopAgent(milliseconds timeout) {
  if (agent_ == nullptr) return -1;
  agent_->Signal(SIGTERM);
  return agent_->Wait(timeout);
}

void AgentRig::KillAgent() {
  if (agent_ == nullptr) return;
  agent_->Signal(SIGKILL);
  agent_->Wait(seconds(10));
}

void AgentRig::SignalAgent(int signal) {
  if (agent_ != nullptr) agent_->Signal(signal);
}

nlohmann::json AgentRig::AgentStatus() const { return ReadJsonFile(state_dir() / "status.json"); }

uint64_t AgentRig::StatusCount(const std::string& pointer) const {
  return JsonCount(AgentStatus(), pointer);
}

bool AgentRig::WaitForFreshStatus(milliseconds timeout) const {
  int64_t last = AgentStatus().value("time_us", int64_t{0});
  int changes = 0;
  return WaitFor(
      [&] {
        const int64_t now = AgentStatus().value("time_us", int64_t{0});
        if (now != last) {
          last = now;
          ++changes;
        }
        return changes >= 2;
      },
      timeout);
}

bool AgentRig::StartSink(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {WeirBinary().string(),
                                   "sink",
                                   "--broker",
                                   upstream_->url(),
                                   "--report",
                                   (dir_ / "sink.json").string(),
                                   "--out",
                                   (dir_ / "sink.jsonl").string(),
                                   "--client-id",
                                   "it-sink",
                                   "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  sink_ = std::make_unique<Subprocess>(argv, "/dev/null", dir_ / "sink.err");
  return WaitFor([&] { return !sink_->running() || SinkReport().value("subscribed", false); }) &&
         sink_->running();
}

nlohmann::json AgentRig::SinkReport() const { return ReadJsonFile(dir_ / "sink.json"); }

uint64_t AgentRig::SinkDelivered() const {
  return JsonCount(SinkReport(), "/lanes/readings/delivered");
}

bool AgentRig::WaitForSinkDelivered(uint64_t readings, milliseconds timeout) {
  return WaitFor([&] { return SinkDelivered() >= readings; }, timeout);
}

nlohmann::json AgentRig::StopSink() {
  if (sink_ == nullptr) return nlohmann::json::object();
  sink_->Signal(SIGTERM);
  if (sink_->Wait(seconds(15)) != 0) return nlohmann::json::object();
  const nlohmann::json report = SinkReport();
  return report.value("final", false) ? report : nlohmann::json::object();
}

std::vector<nlohmann::json> AgentRig::SinkReadings() const {
  std::vector<nlohmann::json> readings;
  std::istringstream lines(ReadFileBytes(dir_ / "sink.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || j.value("lane", "") != "readings") continue;
    readings.push_back(std::move(j));
  }
  return readings;
}

std::vector<uint64_t> AgentRig::SinkSequences() const {
  std::vector<uint64_t> seqs;
  for (const nlohmann::json& r : SinkReadings()) seqs.push_back(JsonCount(r, "/seq"));
  return seqs;
}

std::vector<std::string> AgentRig::SimulateArgv(const SimulateArgs& a) const {
  return {WeirBinary().string(),
          "simulate",
          "--broker",
          local_->url(),
          "--count",
          std::to_string(a.count),
          "--rate",
          std::to_string(a.rate),
          "--sensors",
          std::to_string(a.sensors),
          "--seed",
          std::to_string(a.seed),
          "--client-id",
          a.client_id,
          "--faults",
          a.faults,
          "--fault-rate",
          std::to_string(a.fault_rate),
          "--batch",
          std::to_string(a.batch)};
}

namespace {

SimulateResult ParseSimulate(int exit_code, std::string err) {
  SimulateResult r;
  r.exit_code = exit_code;
  const size_t at = err.rfind("published ");
  if (at != std::string::npos) {
    unsigned long long published = 0, failed = 0;
    if (std::sscanf(err.c_str() + at, "published %llu, failed %llu", &published, &failed) == 2) {
      r.published = published;
      r.failed = failed;
    }
  }
  r.err = std::move(err);
  return r;
}

}  // namespace

SimulateResult AgentRig::Simulate(const SimulateArgs& args) {
  const ProgramResult p = RunProgram(SimulateArgv(args), seconds(120));
  return ParseSimulate(p.exit_code, p.err);
}

std::unique_ptr<Subprocess> AgentRig::SimulateInBackground(const SimulateArgs& args) {
  ++simulate_runs_;
  fs::remove(dir_ / ("simulate-" + std::to_string(simulate_runs_) + ".err"));
  return std::make_unique<Subprocess>(
      SimulateArgv(args), "/dev/null",
      dir_ / ("simulate-" + std::to_string(simulate_runs_) + ".err"));
}

SimulateResult AgentRig::SimulateSummary(int exit_code) const {
  return ParseSimulate(
      exit_code, ReadFileBytes(dir_ / ("simulate-" + std::to_string(simulate_runs_) + ".err")));
}

std::string Diagnostics(AgentRig& rig) {
  const std::string err = rig.AgentStderr();
  return "\nstatus.json: " + rig.AgentStatus().dump(2) + "\nsink: " + rig.SinkReport().dump(2) +
         "\nagent stderr (tail): " + (err.size() > 3000 ? err.substr(err.size() - 3000) : err);
}

}  // namespace weir::testing
