// Admission (target, anti-replay, expiry) and layer composition with the remote allow-list.
#include "agent/control/admission.h"

#include <gtest/gtest.h>

namespace weir::control {
namespace {

Document Doc(const std::string& target, uint64_t version, const std::string& sha = "aaa") {
  Document d;
  d.target = *ParseTarget(target);
  d.version = version;
  d.sha256 = sha;
  return d;
}

const Target kMe{Target::Kind::kDevice, "gw-17"};

std::string Code(const Admission& a) {
  switch (a.verdict) {
    case Verdict::kApply:
      return "apply";
    case Verdict::kAlreadyApplied:
      return "already";
    case Verdict::kRefuse:
      return a.refusal.code;
  }
  return "?";
}

TEST(AdmitTest, WrongTargetIsRefused) {
  LayerRecord r;
  EXPECT_EQ(Code(Admit(Doc("device:gw-18", 1), kMe, r, true, 0)), kWrongTarget);
  EXPECT_EQ(Code(Admit(Doc("group:gw-17", 1), kMe, r, true, 0)), kWrongTarget);
  EXPECT_EQ(Code(Admit(Doc("group:plant-b", 1), {Target::Kind::kGroup, "plant-a"}, r, true, 0)),
            kWrongTarget);
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 1), kMe, r, true, 0)), "apply");
}

TEST(AdmitTest, VersionsMustIncrease) {
  LayerRecord r;
  r.last_seen_version = r.committed_version = 5;
  r.last_seen_sha256 = r.committed_sha256 = "aaa";
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 5, "aaa"), kMe, r, true, 0)), "already");
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 5, "bbb"), kMe, r, true, 0)), kVersionReused);
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 4, "ccc"), kMe, r, true, 0)), kStale);
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 6, "ddd"), kMe, r, true, 0)), "apply");
}

TEST(AdmitTest, RolledBackVersionIsNeverReapplied) {
  LayerRecord r;
  r.last_seen_version = 6;
  r.last_seen_sha256 = "bad";
  r.AddRefused({6, "bad", "health.H4", 0});
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 6, "bad"), kMe, r, true, 0)), kRolledBackVersion);
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 7, "fix"), kMe, r, true, 0)), "apply");
}

TEST(AdmitTest, InterruptedTrialWithSameContentIsTriedAgain) {
  LayerRecord r;
  r.last_seen_version = 8;
  r.last_seen_sha256 = "same";
  r.interrupted_version = 8;
  r.interrupted_attempts = 1;
  EXPECT_EQ(Code(Admit(Doc("device:gw-17", 8, "same"), kMe, r, true, 0)), "apply");
}

TEST(AdmitTest, ExpiryOnlyWithASynchronisedClock) {
  LayerRecord r;
  Document d = Doc("device:gw-17", 1);
  d.expires_at_us = 1000;
  EXPECT_EQ(Code(Admit(d, kMe, r, true, 2000)), kExpired);
  EXPECT_TRUE(Admit(d, kMe, r, true, 2000).moves_last_seen);
  EXPECT_EQ(Code(Admit(d, kMe, r, false, 2000)), "apply");
  EXPECT_EQ(Code(Admit(d, kMe, r, true, 500)), "apply");
}

config::Sources Local() {
  config::Sources s;
  s.file_json = R"({"device_id":"gw-17","upstream":{"broker":{"url":"mqtt://up:1883"}},
                    "log_level":"warn","store":{"state_dir":"/var/lib/weir"}})";
  return s;
}

TEST(ComposeTest, LayersStackInOrder) {
  RemoteLayers l;
  l.group = R"({"log_level":"info","upstream":{"max_inflight":10}})";
  l.device = R"({"log_level":"debug"})";
  Composed c = Compose(Local(), l);
  ASSERT_TRUE(c.ok()) << c.refusal.detail;
  EXPECT_EQ(c.config->log_level(), "debug");
  EXPECT_EQ(c.config->upstream().max_inflight(), 10u);
  // Environment and flags stay on top of the remote layers.
  config::Sources s = Local();
  s.flags.push_back({"log_level", "error", "--set"});
  Composed f = Compose(s, l);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.config->log_level(), "error");
}

TEST(ComposeTest, LocalOnlyKeyRefusesTheWholeLayerNamingTheKeys) {
  RemoteLayers l;
  l.device = R"({"log_level":"debug","upstream":{"broker":{"url":"mqtt://evil:1883"}},
                "device_id":"other"})";
  Composed c = Compose(Local(), l);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.refusal.code, kNotRemote);
  EXPECT_NE(c.refusal.detail.find("device layer"), std::string::npos);
  EXPECT_NE(c.refusal.detail.find("upstream.broker.url"), std::string::npos);
  EXPECT_NE(c.refusal.detail.find("device_id"), std::string::npos);
}

TEST(ComposeTest, RestatingALocalOnlyValueIsNoChange) {
  RemoteLayers l;
  l.group = R"({"device_id":"gw-17","log_level":"debug"})";
  EXPECT_TRUE(Compose(Local(), l).ok());
}

TEST(ComposeTest, SchemaErrorsNameTheLayerAndKey) {
  RemoteLayers l;
  l.group = R"({"upstream":{"max_inflight":0}})";
  Composed c = Compose(Local(), l);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.refusal.code, kSchema);
  EXPECT_NE(c.refusal.detail.find("group layer: upstream.max_inflight"), std::string::npos);
  l.group = R"({"nonsense":1})";
  EXPECT_EQ(Compose(Local(), l).refusal.code, kSchema);
}

TEST(ComposeTest, FleetMayNotTouchItsOwnControlKeys) {
  RemoteLayers l;
  l.device = R"({"control":{"require_signature":false}})";
  Composed c = Compose(Local(), l);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.refusal.code, kNotRemote);
  EXPECT_NE(c.refusal.detail.find("control.require_signature"), std::string::npos);
}

}  // namespace
}  // namespace weir::control
