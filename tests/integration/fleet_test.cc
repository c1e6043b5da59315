// Fleet control end to end (issue 12): the real `weir` binary as agent and operator tool, real
// mosquitto brokers, signed documents published retained on the upstream broker. Asserts what a
// subscriber on the upstream broker sees (reported state, status, the will) and that the sink got
// every accepted reading, in order, through apply, rollback and kill -9.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "agent/control/document.h"
#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/agent_harness.h"
#include "tests/integration/mqtt_recorder.h"

namespace weir::testing {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kReported = "weir/gw-it/config/reported";
constexpr const char* kStatus = "weir/gw-it/status";
constexpr const char* kDesired = "weir/gw-it/config/desired";

// An operator on the upstream broker: publishes desired documents, watches reported and status.
class Operator {
 public:
  bool Connect(const std::string& url) {
    transport::MqttOptions o;
    o.url = url;
    o.client_id = "it-operator-" + std::to_string(++n_);
    auto c = transport::NewPahoMqttClient(o);
    if (!c.ok()) return false;
    client_ = std::move(*c);
    recorder_ = std::make_unique<MqttRecorder>();
    client_->SetCallbacks(recorder_->Callbacks());
    if (!client_->Connect().ok()) return false;
    if (!WaitFor([&] { return recorder_->connected() > 0; })) return false;
    if (!client_->Subscribe({{kReported, 1}, {kStatus, 1}}).ok()) return false;
    return WaitFor([&] { return !recorder_->subscribed().empty(); });
  }
  bool Publish(const std::string& topic, const std::string& payload) {
    const size_t before = recorder_->delivered_count();
    if (!client_->Publish(topic, payload, 1, true).ok()) return false;
    return WaitFor([&] { return recorder_->delivered_count() > before; });
  }
  // The messages on `topic`, parsed, in arrival order.
  std::vector<json> On(const std::string& topic) const {
    std::vector<json> out;
    for (const auto& m : recorder_->messages()) {
      if (m.topic == topic) out.push_back(json::parse(m.payload, nullptr, false));
    }
    return out;
  }
  // Waits for a reported document whose device/group layer matches.
  bool WaitLayer(const char* layer, uint64_t desired, const std::string& state,
                 const std::string& reason = "", milliseconds timeout = seconds(30)) const {
    return WaitFor(
        [&] {
          for (const json& r : On(kReported)) {
            if (!r.is_object()) continue;
            const json l = r["layers"][layer];
            if (l.value("desired", uint64_t{0}) == desired && l.value("state", "") == state &&
                (reason.empty() || l.value("reason", "") == reason)) {
              return true;
            }
          }
          return false;
        },
        timeout);
  }
  std::string Dump() const {
    std::string s;
    for (const auto& m : recorder_->messages()) s += m.topic + " " + m.payload + "\n";
    return s;
  }
  ~Operator() {
    if (client_) (void)client_->Disconnect(milliseconds(500));
  }

 private:
  std::unique_ptr<transport::MqttClient> client_;
  std::unique_ptr<MqttRecorder> recorder_;
  int n_ = 0;
};

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(keys_dir());
    WriteFileBytes(keys_dir() / "op.pub", key_.public_key().ToPem());
  }

  std::filesystem::path keys_dir() const { return keys_.path(); }

  std::vector<std::string> ControlArgs(int window_s = 2) const {
    return {"--set", "group=plant-a",
            "--set", "control.keys_dir=" + keys_dir().string(),
            "--set", "control.health_window_s=" + std::to_string(window_s),
            "--set", "control.status_interval_s=1"};
  }

  std::string Doc(const std::string& target, uint64_t version, const std::string& layer,
                  const control::PrivateKey* key = nullptr) const {
    auto payload = control::MakePayload(*control::ParseTarget(target), version, layer, 0, {});
    return *control::SignEnvelope(key ? *key : key_, *payload);
  }

  control::PrivateKey key_ = *control::PrivateKey::Generate();
  TempDir keys_;
};

void ExpectAllDeliveredInOrder(AgentRig& rig, uint64_t n) {
  const json report = rig.StopSink();
  ASSERT_FALSE(report.empty());
  const json& lane = report["lanes"]["readings"];
  EXPECT_EQ(JsonCount(lane, "/delivered"), n) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/order_violations"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/silent_gaps"), 0u) << report.dump(2);
  const std::vector<uint64_t> seqs = rig.SinkSequences();
  for (size_t i = 1; i < seqs.size(); ++i) ASSERT_LT(seqs[i - 1], seqs[i]);
}

TEST_F(FleetTest, SignedPushAppliesLiveCommitsAndReportsWhileDataFlows) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  std::vector<std::string> args = ControlArgs();
  const std::filesystem::path prom = rig->dir() / "weir.prom";
  args.insert(args.end(), {"--set", "control.metrics_textfile=" + prom.string()});
  ASSERT_TRUE(rig->StartAgent(args)) << rig->AgentStderr();
  Operator op;
  ASSERT_TRUE(op.Connect(rig->upstream().url()));
  ASSERT_TRUE(WaitFor([&] { return !op.On(kStatus).empty(); })) << op.Dump();
  const json running = op.On(kStatus).back();
  EXPECT_EQ(running.value("state", ""), "running");
  EXPECT_EQ(running.value("session", 0), 1);
  EXPECT_TRUE(running["status"].is_object());

  auto sim = rig->SimulateInBackground({.count = 3000, .rate = 300, .sensors = 20});

  // The operator's tools: keygen, sign, push (waits for the reported state).
  const std::filesystem::path dir = rig->dir();
  ProgramResult keygen =
      RunProgram({WeirBinary().string(), "config", "keygen", "--out", (dir / "op2.pem").string()});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  std::filesystem::copy_file(dir / "op2.pem.pub", keys_dir() / "op2.pub");
  rig->SignalAgent(SIGHUP);  // rotation: the new key is trusted after SIGHUP
  WriteFileBytes(dir / "layer.json", R"({"log_level":"debug","upstream":{"max_inflight":8}})");
  ProgramResult sign =
      RunProgram({WeirBinary().string(), "config", "sign", "--key", (dir / "op2.pem").string(),
                  "--target", "device:gw-it", "--version", "100", (dir / "layer.json").string()});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  WriteFileBytes(dir / "env.json", sign.out);
  ProgramResult push =
      RunProgram({WeirBinary().string(), "config", "push", "--broker", rig->upstream().url(),
                  "--device", "gw-it", "--timeout-s", "30", (dir / "env.json").string()});
  EXPECT_EQ(push.exit_code, 0) << push.out << push.err << rig->AgentStderr();
  EXPECT_NE(push.out.find("gw-it: committed"), std::string::npos) << push.out;
  ASSERT_TRUE(op.WaitLayer("device", 100, "committed")) << op.Dump();
  // The exact signed bytes are what is persisted.
  std::string sent = sign.out;
  while (!sent.empty() && sent.back() == '\n') sent.pop_back();
  EXPECT_EQ(ReadFileBytes(rig->state_dir() / "fleet" / "device.json"), sent);

  // The group layer under it, pushed to the group; push waits for the member it is told of.
  WriteFileBytes(dir / "group.json", R"({"log_level":"warn"})");
  ProgramResult gsign =
      RunProgram({WeirBinary().string(), "config", "sign", "--key", (dir / "op2.pem").string(),
                  "--target", "group:plant-a", "--version", "7", (dir / "group.json").string()});
  ASSERT_EQ(gsign.exit_code, 0) << gsign.err;
  WriteFileBytes(dir / "group.env", gsign.out);
  ProgramResult gpush = RunProgram({WeirBinary().string(), "config", "push", "--broker",
                                    rig->upstream().url(), "--group", "plant-a", "--wait-device",
                                    "gw-it", "--timeout-s", "30", (dir / "group.env").string()});
  EXPECT_EQ(gpush.exit_code, 0) << gpush.out << gpush.err;
  ASSERT_TRUE(op.WaitLayer("group", 7, "committed")) << op.Dump();
  // A refused push exits non-zero: the same version with other content.
  WriteFileBytes(dir / "group.json", R"({"log_level":"error"})");
  ProgramResult bsign =
      RunProgram({WeirBinary().string(), "config", "sign", "--key", (dir / "op2.pem").string(),
                  "--target", "group:plant-a", "--version", "7", (dir / "group.json").string()});
  WriteFileBytes(dir / "bad.env", bsign.out);
  ProgramResult bpush = RunProgram({WeirBinary().string(), "config", "push", "--broker",
                                    rig->upstream().url(), "--group", "plant-a", "--wait-device",
                                    "gw-it", "--timeout-s", "30", (dir / "bad.env").string()});
  EXPECT_EQ(bpush.exit_code, 1) << bpush.out << bpush.err;
  EXPECT_NE(bpush.out.find("version_reused"), std::string::npos) << bpush.out;

  ProgramResult status =
      RunProgram({WeirBinary().string(), "fleet", "status", "--broker", rig->upstream().url()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("gw-it"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("100/100 committed"), std::string::npos) << status.out;

  ASSERT_EQ(sim->Wait(seconds(60)), 0);
  ASSERT_TRUE(rig->WaitForSinkDelivered(3000, seconds(30))) << Diagnostics(*rig);
  // status.json and the Prometheus textfile count the two committed documents.
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/fleet/applied") == 2; }));
  ASSERT_TRUE(WaitFor([&] {
    return ReadFileBytes(prom).find(
               "weir_fleet_documents_total{device=\"gw-it\",result=\"applied\"} 2\n") !=
           std::string::npos;
  })) << ReadFileBytes(prom);
  EXPECT_NE(ReadFileBytes(prom).find("# TYPE weir_backlog_readings gauge"), std::string::npos);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  ExpectAllDeliveredInOrder(*rig, 3000);
  // The clean stop leaves a retained "stopped", not the will.
  ASSERT_TRUE(WaitFor([&] { return op.On(kStatus).back().value("state", "") == "stopped"; }));
}

TEST_F(FleetTest, RefusalsAreReportedWithTheirReasonAndChangeNothing) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartAgent(ControlArgs())) << rig->AgentStderr();
  Operator op;
  ASSERT_TRUE(op.Connect(rig->upstream().url()));
  // Tampered: one byte of the payload changed after signing.
  json env = json::parse(Doc("device:gw-it", 5, R"({"log_level":"debug"})"));
  std::string payload = *control::Base64Decode(env["payload"].get<std::string>());
  payload[payload.find("debug")] = 'D';
  env["payload"] = control::Base64Encode(payload);
  ASSERT_TRUE(op.Publish(kDesired, env.dump()));
  EXPECT_TRUE(op.WaitLayer("device", 0, "rejected", "bad_signature")) << op.Dump();
  // Signed by a key the device does not trust (or one revoked).
  const control::PrivateKey stranger = *control::PrivateKey::Generate();
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 5, R"({"log_level":"debug"})", &stranger)));
  EXPECT_TRUE(op.WaitLayer("device", 0, "rejected", "unknown_kid")) << op.Dump();
  // Another device's document replayed onto this device's topic.
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-other", 5, R"({"log_level":"debug"})")));
  EXPECT_TRUE(op.WaitLayer("device", 5, "rejected", "wrong_target")) << op.Dump();
  // A local-only key: the whole layer is refused, naming the key.
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 6,
                                       R"({"log_level":"debug",
                                           "upstream":{"broker":{"url":"mqtt://elsewhere:1883"}}})")));
  ASSERT_TRUE(op.WaitLayer("device", 6, "rejected", "not_remote")) << op.Dump();
  EXPECT_NE(op.On(kReported).back().dump().find("upstream.broker.url"), std::string::npos);
  // A good one, then the same version with other content, then an older version.
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 8, R"({"log_level":"debug"})")));
  ASSERT_TRUE(op.WaitLayer("device", 8, "committed")) << op.Dump();
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 8, R"({"log_level":"error"})")));
  EXPECT_TRUE(op.WaitLayer("device", 8, "rejected", "version_reused")) << op.Dump();
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 7, R"({"log_level":"error"})")));
  EXPECT_TRUE(op.WaitLayer("device", 7, "rejected", "stale")) << op.Dump();
  const json last = op.On(kReported).back();
  EXPECT_EQ(last["layers"]["device"].value("applied", 0), 8) << last.dump();
  EXPECT_EQ(last["fleet"].value("applied", 0), 1) << last.dump();
  // Revocation: a second trusted key signs v9; its file is removed and SIGHUP sent; v10 signed
  // by it is refused.
  const control::PrivateKey second = *control::PrivateKey::Generate();
  WriteFileBytes(keys_dir() / "second.pub", second.public_key().ToPem());
  rig->SignalAgent(SIGHUP);
  // The keys are re-read before the config reload that status.json counts.
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/reload/applied") == 1; }));
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 9, R"({"log_level":"warn"})", &second)));
  ASSERT_TRUE(op.WaitLayer("device", 9, "committed")) << op.Dump();
  std::filesystem::remove(keys_dir() / "second.pub");
  rig->SignalAgent(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/reload/applied") == 2; }));
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 10, R"({"log_level":"info"})", &second)));
  EXPECT_TRUE(op.WaitLayer("device", 9, "rejected", "unknown_kid")) << op.Dump();
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
}

TEST_F(FleetTest, HealthFailureRollsBackAndTheRetainedVersionIsNotReappliedAfterRestart) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent(ControlArgs(4))) << rig->AgentStderr();
  Operator op;
  ASSERT_TRUE(op.Connect(rig->upstream().url()));
  auto sim = rig->SimulateInBackground({.count = 4000, .rate = 200, .sensors = 10});
  ASSERT_TRUE(rig->WaitForSinkDelivered(200, seconds(20))) << Diagnostics(*rig);
  // Valid by the schema, bad in practice: every sensor payload is now "too large" (H4).
  ASSERT_TRUE(
      op.Publish(kDesired, Doc("device:gw-it", 3, R"({"ingest":{"max_payload_bytes":16}})")));
  ASSERT_TRUE(op.WaitLayer("device", 3, "rolled_back", "health.H4"))
      << op.Dump() << rig->AgentStderr();
  // Restart: the broker redelivers the retained document; it is not tried again.
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  // The counters of status.json are per run: the final ones of the first run.
  const uint64_t rejected_first = rig->StatusCount("/ingest/rejected");
  EXPECT_GT(rejected_first, 0u);
  ASSERT_TRUE(rig->StartAgent(ControlArgs(4))) << rig->AgentStderr();
  ASSERT_TRUE(WaitFor([&] { return op.On(kStatus).back().value("boot_epoch", 0) == 2; }))
      << op.Dump();
  ASSERT_TRUE(rig->WaitForFreshStatus());
  ASSERT_TRUE(rig->WaitForFreshStatus());
  for (const json& r : op.On(kReported)) {
    if (r.value("boot_epoch", 0) == 2) {
      EXPECT_NE(r["layers"]["device"].value("state", ""), "probation") << r.dump();
    }
  }
  const json after = op.On(kReported).back();
  EXPECT_EQ(JsonCount(after, "/fleet/applied"), 0u) << after.dump();
  EXPECT_EQ(JsonCount(after, "/boot_epoch"), 2u) << after.dump();
  EXPECT_EQ(after["layers"]["device"].value("state", ""), "rolled_back") << after.dump();
  EXPECT_EQ(after["layers"]["device"].value("reason", ""), "health.H4") << after.dump();
  ASSERT_EQ(sim->Wait(seconds(60)), 0);
  // Every reading not refused during the bad window arrived, in order (the second run refuses
  // nothing: the bad layer was not applied again).
  EXPECT_EQ(rig->StatusCount("/ingest/rejected"), 0u);
  const uint64_t accepted = 4000 - rejected_first;
  ASSERT_TRUE(rig->WaitForSinkDelivered(accepted, seconds(30))) << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  ExpectAllDeliveredInOrder(*rig, accepted);
}

TEST_F(FleetTest, KillDuringTheTrialPublishesTheWillAndRestartsOnTheLastGood) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent(ControlArgs(60))) << rig->AgentStderr();
  Operator op;
  ASSERT_TRUE(op.Connect(rig->upstream().url()));
  ASSERT_TRUE(rig->Simulate({.count = 500, .rate = 500, .sensors = 10}).exit_code == 0);
  ASSERT_TRUE(op.Publish(kDesired, Doc("device:gw-it", 4, R"({"log_level":"debug"})")));
  ASSERT_TRUE(op.WaitLayer("device", 4, "probation")) << op.Dump();
  EXPECT_TRUE(std::filesystem::exists(rig->state_dir() / "fleet" / "pending.json"));
  rig->KillAgent();
  // The broker publishes the will: retained "offline" with the session it was set for.
  ASSERT_TRUE(
      WaitFor([&] { return op.On(kStatus).back().value("state", "") == "offline"; }, seconds(60)))
      << op.Dump();
  const json will = op.On(kStatus).back();
  EXPECT_EQ(will.value("boot_epoch", 0), 1);
  EXPECT_EQ(will.value("session", 0), 1);
  EXPECT_FALSE(std::filesystem::exists(rig->state_dir() / "fleet" / "device.json"));

  // Restart with a short window: the interrupted trial started on the last good (no layer), and
  // the redelivered document is tried once more and now commits.
  ASSERT_TRUE(rig->StartAgent(ControlArgs(2))) << rig->AgentStderr();
  ASSERT_TRUE(op.WaitLayer("device", 4, "committed")) << op.Dump() << rig->AgentStderr();
  bool interrupted_seen = false;
  for (const json& r : op.On(kReported)) {
    interrupted_seen |= r["layers"]["device"].value("state", "") == "interrupted";
  }
  EXPECT_TRUE(interrupted_seen) << op.Dump();
  ASSERT_TRUE(rig->Simulate({.count = 500, .rate = 500, .sensors = 10, .seed = 8}).exit_code == 0);
  ASSERT_TRUE(rig->WaitForSinkDelivered(1000, seconds(30))) << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  ExpectAllDeliveredInOrder(*rig, 1000);
}

}  // namespace
}  // namespace weir::testing
