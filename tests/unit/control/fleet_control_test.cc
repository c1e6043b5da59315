// FleetControl against a fake broker, a fake agent and a fake clock: the trial's marker, commit,
// rollback, redelivery, interrupted trials, reported state, status and will.
#include "agent/control/fleet_control.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/fake_mqtt_client.h"
#include "tests/support/test_support.h"

namespace weir::control {
namespace {

using weir::testing::FakeClock;
using weir::testing::FakeMqttClient;
using weir::testing::ReadFileBytes;
using weir::testing::TempDir;
using weir::testing::WriteFileBytes;
using Json = nlohmann::json;

class FakeHost : public ConfigHost {
 public:
  Result<config::Sources> LocalSources() override {
    config::Sources s;
    s.file_json = R"({"device_id":"gw-17","group":"plant-a",
                      "upstream":{"broker":{"url":"mqtt://up:1883"}}})";
    return s;
  }
  Status Apply(const config::AgentConfig& next) override {
    applied.push_back(next);
    if (fail_applies > 0) {
      --fail_applies;
      return InvalidArgument("pipeline said no");
    }
    return Status::Ok();
  }
  HealthSample SampleHealth() override { return sample; }
  std::string StatusJson() override { return R"({"backlog":3})"; }

  std::vector<config::AgentConfig> applied;
  int fail_applies = 0;  // the next n applies fail
  HealthSample sample = [] {
    HealthSample s;
    s.upstream_connected = true;
    return s;
  }();
};

class FleetControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "keys");
    WriteFileBytes(dir_ / "keys" / "op.pub", key_.public_key().ToPem());
  }

  std::unique_ptr<FleetControl> Open() {
    ControlOptions o;
    o.device_id = "gw-17";
    o.group = "plant-a";
    o.prefix = "weir";
    o.state_dir = dir_.path();
    o.keys_dir = dir_ / "keys";
    o.health_window = std::chrono::seconds(5);
    o.status_interval = std::chrono::seconds(10);
    o.boot_epoch = ++boot_;
    auto factory =
        [this](const transport::LastWill& will) -> Result<std::unique_ptr<transport::MqttClient>> {
      wills_.push_back(will);
      auto c = std::make_unique<FakeMqttClient>();
      client_ = c.get();
      return std::unique_ptr<transport::MqttClient>(std::move(c));
    };
    auto c = FleetControl::Open(o, host_, factory, clock_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Polls until connected and subscribed.
  void Connect(FleetControl& c) {
    c.Poll();
    ASSERT_NE(client_, nullptr);
    client_->CompleteConnect(false);
    c.Poll();
    client_->AckAll();
  }

  std::string Doc(const std::string& target, uint64_t version, const std::string& config) {
    return *SignEnvelope(key_, *MakePayload(*ParseTarget(target), version, config, 0, {}));
  }

  Json Reported() const {
    const auto published = client_->published();
    for (auto it = published.rbegin(); it != published.rend(); ++it) {
      if (it->topic == "weir/gw-17/config/reported") return Json::parse(it->payload);
    }
    return Json();
  }

  void RunWindow(FleetControl& c) {
    for (int i = 0; i < 7; ++i) {
      clock_.Advance(std::chrono::seconds(1));
      c.Poll();
    }
  }

  TempDir dir_;
  FakeClock clock_;
  FakeHost host_;
  PrivateKey key_ = *PrivateKey::Generate();
  FakeMqttClient* client_ = nullptr;
  std::vector<transport::LastWill> wills_;
  uint64_t boot_ = 0;
};

TEST_F(FleetControlTest, ConnectsWithWillSubscribesAndPublishesStatus) {
  auto c = Open();
  Connect(*c);
  ASSERT_EQ(wills_.size(), 1u);
  EXPECT_EQ(wills_[0].topic, "weir/gw-17/status");
  EXPECT_TRUE(wills_[0].retained);
  Json will = Json::parse(wills_[0].payload);
  EXPECT_EQ(will["state"], "offline");
  EXPECT_EQ(will["session"], 1);
  EXPECT_EQ(will["boot_epoch"], 1);
  auto subs = client_->subscriptions();
  ASSERT_EQ(subs.size(), 3u);
  EXPECT_EQ(subs[0].filter, "weir/gw-17/config/desired");
  EXPECT_EQ(subs[1].filter, "weir/gw-17/status");
  EXPECT_EQ(subs[2].filter, "weir/fleet/plant-a/config/desired");
  bool status_seen = false;
  for (const auto& p : client_->published()) {
    if (p.topic != "weir/gw-17/status") continue;
    Json s = Json::parse(p.payload);
    EXPECT_TRUE(p.retained);
    EXPECT_EQ(s["state"], "running");
    EXPECT_EQ(s["session"], 1);
    EXPECT_EQ(s["status"]["backlog"], 3);
    status_seen = true;
  }
  EXPECT_TRUE(status_seen);
  // A lost connection: a new client whose will carries the next session number.
  client_->DropConnection();
  c->Poll();
  clock_.Advance(std::chrono::seconds(31));
  c->Poll();
  ASSERT_EQ(wills_.size(), 2u);
  EXPECT_EQ(Json::parse(wills_[1].payload)["session"], 2);
}

TEST_F(FleetControlTest, ALateWillOfAnEarlierSessionIsAnsweredWithRunning) {
  auto c = Open();
  Connect(*c);
  client_->DropConnection();
  c->Poll();
  clock_.Advance(std::chrono::seconds(31));
  c->Poll();
  client_->CompleteConnect(false);
  c->Poll();  // session 2 is up
  auto running_count = [&] {
    int n = 0;
    for (const auto& p : client_->published()) {
      if (p.topic == "weir/gw-17/status" && Json::parse(p.payload)["state"] == "running") ++n;
    }
    return n;
  };
  const int before = running_count();
  // Our own current will (session 2) cannot come while we run; an echo of it is not answered.
  client_->InjectMessage("weir/gw-17/status", wills_[1].payload, 1, true);
  c->Poll();
  EXPECT_EQ(running_count(), before);
  // Session 1's will, delivered late.
  client_->InjectMessage("weir/gw-17/status", wills_[0].payload, 1, true);
  c->Poll();
  EXPECT_EQ(running_count(), before + 1);
}

TEST_F(FleetControlTest, TrialMarkerThenCommitPersistsTheExactBytes) {
  auto c = Open();
  Connect(*c);
  const std::string doc = Doc("device:gw-17", 7, R"({"log_level":"debug"})");
  client_->InjectMessage("weir/gw-17/config/desired", doc, 1, true);
  c->Poll();
  ASSERT_EQ(host_.applied.size(), 1u);
  EXPECT_EQ(host_.applied[0].log_level(), "debug");
  EXPECT_TRUE(c->in_trial());
  EXPECT_TRUE(std::filesystem::exists(dir_ / "fleet" / "pending.json"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "fleet" / "device.json"));
  EXPECT_EQ(Reported()["layers"]["device"]["state"], "probation");
  RunWindow(*c);
  EXPECT_FALSE(c->in_trial());
  EXPECT_EQ(ReadFileBytes(dir_ / "fleet" / "device.json"), doc);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "fleet" / "pending.json"));
  Json r = Reported();
  EXPECT_EQ(r["layers"]["device"]["state"], "committed");
  EXPECT_EQ(r["layers"]["device"]["applied"], 7);
  // The verdict names the document it is about (what `weir config push` waits for).
  EXPECT_EQ(r["layers"]["device"]["sha256"],
            Sha256Hex(*Base64Decode(Json::parse(doc)["payload"].get<std::string>())));
  EXPECT_EQ(c->counters().applied, 1u);
  // A restart starts on the committed layer; its retained redelivery is a no-op.
  c.reset();
  auto again = Open();
  ASSERT_TRUE(again->layers().device.has_value());
  Connect(*again);
  client_->InjectMessage("weir/gw-17/config/desired", doc, 1, true);
  again->Poll();
  EXPECT_EQ(host_.applied.size(), 1u);
  EXPECT_FALSE(again->in_trial());
}

TEST_F(FleetControlTest, HealthFailureRollsBackAndTheVersionIsNeverReapplied) {
  auto c = Open();
  Connect(*c);
  const std::string doc = Doc("device:gw-17", 8, R"({"log_level":"debug"})");
  client_->InjectMessage("weir/gw-17/config/desired", doc, 1, true);
  c->Poll();
  ASSERT_EQ(host_.applied.size(), 1u);
  host_.sample.stalled = true;
  clock_.Advance(std::chrono::seconds(1));
  c->Poll();
  ASSERT_EQ(host_.applied.size(), 2u);
  EXPECT_EQ(host_.applied[1].log_level(), "info");  // back to the local config
  EXPECT_FALSE(std::filesystem::exists(dir_ / "fleet" / "device.json"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "fleet" / "pending.json"));
  Json r = Reported();
  EXPECT_EQ(r["layers"]["device"]["state"], "rolled_back");
  EXPECT_EQ(r["layers"]["device"]["reason"], "health.H1");
  host_.sample.stalled = false;
  client_->InjectMessage("weir/gw-17/config/desired", doc, 1, true);
  c->Poll();
  EXPECT_EQ(host_.applied.size(), 2u);
  // Also after a restart.
  c.reset();
  auto again = Open();
  Connect(*again);
  EXPECT_EQ(Reported()["layers"]["device"]["state"], "rolled_back");
  EXPECT_EQ(Reported()["layers"]["device"]["reason"], "health.H1");
  client_->InjectMessage("weir/gw-17/config/desired", doc, 1, true);
  again->Poll();
  EXPECT_EQ(host_.applied.size(), 2u);
  // The next version applies.
  client_->InjectMessage("weir/gw-17/config/desired",
                         Doc("device:gw-17", 9, R"({"log_level":"warn"})"), 1, true);
  again->Poll();
  EXPECT_EQ(host_.applied.size(), 3u);
}

TEST_F(FleetControlTest, ApplyErrorRollsBack) {
  auto c = Open();
  Connect(*c);
  host_.fail_applies = 1;  // the trial's apply; the rollback's own apply works
  client_->InjectMessage("weir/gw-17/config/desired",
                         Doc("device:gw-17", 3, R"({"log_level":"debug"})"), 1, true);
  c->Poll();
  EXPECT_EQ(Reported()["layers"]["device"]["state"], "rolled_back");
  EXPECT_EQ(Reported()["layers"]["device"]["reason"], "apply_failed");
  EXPECT_EQ(c->counters().rolled_back, 1u);
  ASSERT_EQ(host_.applied.size(), 2u);
  EXPECT_EQ(host_.applied[1].log_level(), "info");
}

TEST_F(FleetControlTest, RefusalsAreReportedWithTheirCode) {
  auto c = Open();
  Connect(*c);
  client_->InjectMessage("weir/gw-17/config/desired",
                         Doc("device:gw-18", 3, R"({"log_level":"debug"})"), 1, true);
  c->Poll();
  EXPECT_EQ(Reported()["layers"]["device"]["reason"], "wrong_target");
  client_->InjectMessage("weir/gw-17/config/desired",
                         Doc("device:gw-17", 4, R"({"ingest":{"local":{"url":"mqtt://x"}}})"), 1,
                         true);
  c->Poll();
  EXPECT_EQ(Reported()["layers"]["device"]["reason"], "not_remote");
  EXPECT_TRUE(host_.applied.empty());
  // The group layer: signed for another group.
  client_->InjectMessage("weir/fleet/plant-a/config/desired",
                         Doc("group:plant-b", 4, R"({"log_level":"debug"})"), 1, true);
  c->Poll();
  EXPECT_EQ(Reported()["layers"]["group"]["reason"], "wrong_target");
  EXPECT_TRUE(host_.applied.empty());
  EXPECT_EQ(c->counters().refused, 3u);
}

TEST_F(FleetControlTest, GroupAndDeviceLayersCompose) {
  auto c = Open();
  Connect(*c);
  client_->InjectMessage(
      "weir/fleet/plant-a/config/desired",
      Doc("group:plant-a", 1, R"({"log_level":"warn","upstream":{"max_inflight":9}})"), 1, true);
  client_->InjectMessage("weir/gw-17/config/desired",
                         Doc("device:gw-17", 1, R"({"log_level":"debug"})"), 1, true);
  c->Poll();
  ASSERT_EQ(host_.applied.size(), 1u);  // the group first; the device waits for its trial
  RunWindow(*c);
  ASSERT_EQ(host_.applied.size(), 2u);
  EXPECT_EQ(host_.applied[1].log_level(), "debug");
  EXPECT_EQ(host_.applied[1].upstream().max_inflight(), 9u);
  RunWindow(*c);
  EXPECT_EQ(Reported()["layers"]["group"]["state"], "committed");
  EXPECT_EQ(Reported()["layers"]["device"]["state"], "committed");
}

TEST_F(FleetControlTest, CrashDuringTrialStartsOnOldRetriesOnceThenRefuses) {
  const std::string doc = Doc("device:gw-17", 5, R"({"log_level":"debug"})");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto c = Open();
    EXPECT_FALSE(c->layers().device.has_value());
    Connect(*c);
    client_->InjectMessage("weir/gw-17/config/desired", doc, 1, true);
    c->Poll();
    ASSERT_TRUE(c->in_trial()) << attempt;
    // kill -9: the object is dropped without finishing; pending.json stays on disk.
  }
  auto c = Open();
  EXPECT_FALSE(c->layers().device.has_value());
  Connect(*c);
  const size_t applies = host_.applied.size();
  client_->InjectMessage("weir/gw-17/config/desired", doc, 1, true);
  c->Poll();
  EXPECT_EQ(host_.applied.size(), applies);
  EXPECT_FALSE(c->in_trial());
}

TEST_F(FleetControlTest, RevokedKeyDropsTheCommittedLayerAtBoot) {
  {
    auto c = Open();
    Connect(*c);
    client_->InjectMessage("weir/gw-17/config/desired",
                           Doc("device:gw-17", 2, R"({"log_level":"debug"})"), 1, true);
    c->Poll();
    RunWindow(*c);
    ASSERT_TRUE(c->layers().device.has_value());
  }
  std::filesystem::remove(dir_ / "keys" / "op.pub");
  auto c = Open();
  EXPECT_FALSE(c->layers().device.has_value());
  ASSERT_FALSE(c->notes().empty());
  Connect(*c);
  EXPECT_EQ(Reported()["layers"]["device"]["reason"], "unknown_kid");
}

}  // namespace
}  // namespace weir::control
