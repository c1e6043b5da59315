// DetectSettingsFrom: the detect section of the config mapped onto the detect module's structs,
// and the bounds the config schema copies from detect kept in step with detect itself.
#include "agent/app/run_config.h"

#include <gtest/gtest.h>

#include "agent/config/schema.h"
#include "agent/detect/detectors.h"
#include "agent/detect/window.h"

namespace weir::app {
namespace {

constexpr TimeMicros kSec = 1'000'000;

config::AgentConfig ValidWith(std::string_view json) {
  Result<config::AgentConfig> base = config::MergeJson(config::Defaults(), R"({"device_id": "gw-1",
      "upstream": {"broker": {"url": "mqtts://broker.example:8883"}}})");
  EXPECT_TRUE(base.ok());
  Result<config::AgentConfig> r = config::MergeJson(base.value(), json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return base.value();
  Status s = config::Validate(r.value());
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r.value();
}

TEST(DetectSettingsFrom, DefaultsRunOnlyAutoOnEverySensor) {
  Result<DetectSettings> s = DetectSettingsFrom(ValidWith("{}"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->enabled);
  EXPECT_TRUE(s->publish_local);
  EXPECT_TRUE(s->engine.rules.empty());
  EXPECT_TRUE(s->aggregates.empty());
  EXPECT_EQ(s->engine.max_sensors, 10'000u);
  const detect::DetectorConfig& f = s->engine.fallback;
  EXPECT_TRUE(f.auto_score.enabled);
  EXPECT_FALSE(f.limits.enabled || f.rate.enabled || f.spike.enabled || f.shift.enabled ||
               f.flatline.enabled || f.dropout.enabled);
}

TEST(DetectSettingsFrom, RulesKeepTheirOrderAndSecondsBecomeMicroseconds) {
  Result<DetectSettings> s = DetectSettingsFrom(ValidWith(R"({"detect": {
      "enabled": false, "publish_local": false, "max_sensors": 500, "rules": [
      {"pattern": "boiler.*", "limits": {"enabled": true, "min": -5, "max": 95.5},
       "holdoff_s": 60, "aggregate": "beside", "auto": {"enabled": false}},
      {"pattern": "pump-?", "window": {"kind": "sliding", "size_s": 120, "hop_s": 30,
       "allowed_lateness_s": 2}, "spike": {"enabled": true, "z": 5, "window": 32},
       "rate": {"enabled": true, "max_per_s": 0.5}, "aggregate": "instead",
       "auto": {"threshold": 0.8}},
      {"pattern": "*", "window": {"kind": "count", "count": 50},
       "flatline": {"enabled": true, "min_repeats": 12}, "shift": {"enabled": true},
       "dropout": {"enabled": true, "max_gap_s": 90}}]}})"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->enabled);
  EXPECT_FALSE(s->publish_local);
  EXPECT_EQ(s->engine.max_sensors, 500u);
  ASSERT_EQ(s->engine.rules.size(), 3u);

  const detect::SensorRule& boiler = s->engine.rules[0];
  EXPECT_EQ(boiler.pattern, "boiler.*");
  EXPECT_EQ(boiler.config.name, "boiler.*");
  EXPECT_TRUE(boiler.config.limits.enabled);
  EXPECT_EQ(boiler.config.limits.min, -5.0);
  EXPECT_EQ(boiler.config.limits.max, 95.5);
  EXPECT_EQ(boiler.config.holdoff_us, 60 * kSec);
  EXPECT_FALSE(boiler.config.auto_score.enabled);
  EXPECT_EQ(boiler.config.window.kind, detect::WindowKind::kTumbling);
  EXPECT_EQ(boiler.config.window.size_us, 60 * kSec);

  const detect::DetectorConfig& pump = s->engine.rules[1].config;
  EXPECT_EQ(pump.window.kind, detect::WindowKind::kSliding);
  EXPECT_EQ(pump.window.size_us, 120 * kSec);
  EXPECT_EQ(pump.window.hop_us, 30 * kSec);
  EXPECT_EQ(pump.window.allowed_lateness_us, 2 * kSec);
  EXPECT_TRUE(pump.spike.enabled);
  EXPECT_EQ(pump.spike.z, 5.0);
  EXPECT_EQ(pump.spike.window, 32u);
  EXPECT_TRUE(pump.rate.enabled);
  EXPECT_EQ(pump.rate.max_per_second, 0.5);
  EXPECT_TRUE(pump.auto_score.enabled);
  EXPECT_EQ(pump.auto_score.threshold, 0.8);

  const detect::DetectorConfig& rest = s->engine.rules[2].config;
  EXPECT_EQ(rest.window.kind, detect::WindowKind::kCount);
  EXPECT_EQ(rest.window.count, 50u);
  EXPECT_TRUE(rest.flatline.enabled);
  EXPECT_EQ(rest.flatline.min_repeats, 12u);
  EXPECT_TRUE(rest.shift.enabled);
  EXPECT_TRUE(rest.dropout.enabled);
  EXPECT_EQ(rest.dropout.max_gap_us, 90 * kSec);

  ASSERT_EQ(s->aggregates.size(), 3u);
  EXPECT_EQ(s->aggregates[0], std::make_pair(std::string("boiler.*"), AggregateMode::kBeside));
  EXPECT_EQ(s->aggregates[1], std::make_pair(std::string("pump-?"), AggregateMode::kInstead));
  EXPECT_EQ(s->aggregates[2], std::make_pair(std::string("*"), AggregateMode::kOff));
}

TEST(DetectSettingsFrom, ASlidingWindowWithoutAHopTumbles) {
  Result<DetectSettings> s = DetectSettingsFrom(ValidWith(R"({"detect": {"rules": [
      {"pattern": "a", "window": {"kind": "sliding", "size_s": 30}}]}})"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->engine.rules[0].config.window.hop_us, 30 * kSec);
}

TEST(DetectSettingsFrom, EveryDetectorAtItsSchemaBoundsPassesDetectValidation) {
  // The corners of the schema's ranges: whatever config::Validate accepts, detect must too, or
  // a fleet push that passed validation would fail when applied.
  for (const char* rule : {
           R"({"pattern": "lo", "window": {"kind": "sliding", "size_s": 16, "hop_s": 1,
               "allowed_lateness_s": 0}, "spike": {"enabled": true, "z": 1, "window": 8},
               "rate": {"enabled": true, "max_per_s": 1e-300},
               "flatline": {"enabled": true, "min_repeats": 2},
               "dropout": {"enabled": true, "max_gap_s": 1},
               "auto": {"threshold": 1e-9}, "holdoff_s": 0, "shift": {"enabled": true},
               "limits": {"enabled": true, "min": 1, "max": 1}})",
           R"({"pattern": "hi", "window": {"kind": "sliding", "size_s": 86400, "hop_s": 86400,
               "allowed_lateness_s": 3600}, "spike": {"enabled": true, "z": 100,
               "window": 128}, "rate": {"enabled": true, "max_per_s": 1.7976931348623157e308},
               "dropout": {"enabled": true, "max_gap_s": 86400}, "auto": {"threshold": 1},
               "holdoff_s": 86400, "limits": {"enabled": true, "min": -1.7976931348623157e308,
               "max": 1.7976931348623157e308}})",
           R"({"pattern": "count", "window": {"kind": "count", "count": 1}})",
       }) {
    Result<DetectSettings> s =
        DetectSettingsFrom(ValidWith(std::string(R"({"detect": {"rules": [)") + rule + "]}}"));
    EXPECT_TRUE(s.ok()) << rule << ": " << s.status().ToString();
  }
}

TEST(DetectSettingsFrom, SchemaBoundsCopiedFromDetectAgreeWithIt) {
  const config::KeySpec* window = config::FindKey("detect.rules[].spike.window");
  ASSERT_NE(window, nullptr);
  EXPECT_EQ(window->max, detect::SpikeDetector::kMaxWindow);
  // One more overlapping window than detect allows is rejected by the config already.
  const int overlap = detect::WindowAggregator::kMaxOverlap;
  Result<config::AgentConfig> c = config::MergeJson(
      ValidWith("{}"), R"({"detect": {"rules": [{"pattern": "a", "window": {"kind": "sliding",
          "size_s": )" + std::to_string(overlap + 1) +
                           R"(, "hop_s": 1}}]}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(config::Validate(c.value()).ok());
  EXPECT_FALSE(DetectSettingsFrom(c.value()).ok());
}

TEST(DetectSettingsFrom, ADetectRejectionNamesTheConfigKey) {
  // Not reachable through config::Validate (it checks the same); built by hand to see the path.
  config::AgentConfig c = ValidWith(R"({"detect": {"rules": [{"pattern": "a",
      "window": {"kind": "sliding", "size_s": 10}}]}})");
  c.mutable_detect()->mutable_rules(0)->mutable_window()->set_hop_s(20);
  Result<DetectSettings> s = DetectSettingsFrom(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("detect.rules[0].window.hop", 0), 0u)
      << s.status().message();
}

// The store's own defaults (LogOptions, used by tools and tests that open a log without a config)
// are the schema's: a default in two places must not drift again (it did: 100 ms vs 50 ms).
TEST(LogOptionsFrom, StoreDefaultsAgreeWithTheSchema) {
  const store::LogOptions defaults;
  auto number = [](std::string_view path) {
    const config::KeySpec* k = config::FindKey(path);
    EXPECT_NE(k, nullptr) << path;
    return k == nullptr ? -1 : std::stoll(std::string(k->default_text));
  };
  EXPECT_EQ(number("store.group_commit_records"), static_cast<int64_t>(defaults.commit_records));
  EXPECT_EQ(number("store.group_commit_interval_ms"), defaults.commit_interval.count());
  EXPECT_EQ(config::FindKey("store.synchronous")->default_text, "full");
  EXPECT_EQ(defaults.synchronous, store::Synchronous::kFull);
  EXPECT_EQ(config::FindKey("store.quota_policy")->default_text, "evict_oldest");
  EXPECT_EQ(defaults.quota_policy, store::QuotaPolicy::kEvictOldest);
}

TEST(DetectSettingsFrom, GroupsAndIncidentCloseAfterMapOntoDetect) {
  Result<DetectSettings> s = DetectSettingsFrom(ValidWith(R"({"detect": {
      "incident_close_after_s": 120, "groups": [
      {"name": "pump1", "sensors": "pump1.*, pump1-extra.flow", "interval_ms": 500,
       "staleness_ms": 2000, "learn_rows": 600, "alpha": 0.0001, "persistence": 5, "top": 2},
      {"name": "fan", "sensors": "fan.*", "learn_time_s": 3600}]}})"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->engine.incident_close_after_us, 120 * kSec);
  ASSERT_EQ(s->engine.groups.size(), 2u);
  const detect::GroupConfig& g = s->engine.groups[0];
  EXPECT_EQ(g.name, "pump1");
  EXPECT_EQ(g.sensors, (std::vector<std::string>{"pump1.*", "pump1-extra.flow"}));
  EXPECT_EQ(g.interval_us, kSec / 2);
  EXPECT_EQ(g.staleness_us, 2 * kSec);
  EXPECT_EQ(g.learn_rows, 600u);
  EXPECT_DOUBLE_EQ(g.alpha, 1e-4);
  EXPECT_EQ(g.persistence, 5u);
  EXPECT_EQ(g.top, 2u);
  const detect::GroupConfig& f = s->engine.groups[1];  // schema defaults = detect's defaults
  const detect::GroupConfig d;
  EXPECT_EQ(f.learn_time_us, 3600 * kSec);
  EXPECT_EQ(f.interval_us, d.interval_us);
  EXPECT_EQ(f.staleness_us, d.staleness_us);
  EXPECT_EQ(f.learn_rows, d.learn_rows);
  EXPECT_DOUBLE_EQ(f.variance, d.variance);
  EXPECT_DOUBLE_EQ(f.alpha, d.alpha);
  EXPECT_EQ(f.persistence, d.persistence);
  EXPECT_EQ(f.top, d.top);
  // The default closes incidents after 300 s.
  EXPECT_EQ(DetectSettingsFrom(ValidWith("{}"))->engine.incident_close_after_us, 300 * kSec);
}

TEST(DetectSettingsFrom, ABadGroupNamesTheConfigKey) {
  Result<DetectSettings> s = DetectSettingsFrom(ValidWith(R"({"detect": {"groups": [
      {"name": "a", "sensors": "x*"}, {"name": "a", "sensors": "y*"}]}})"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("detect.groups[1].name", 0), 0u) << s.status().message();
}

}  // namespace
}  // namespace weir::app
