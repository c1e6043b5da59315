#include "agent/pipeline/detect_stage.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/fake_mqtt_client.h"
#include "tests/support/test_support.h"

namespace weir::pipeline {
namespace {

using weir::testing::FakeClock;
using weir::testing::FakeMqttClient;

constexpr TimeMicros kT0 = 1'700'000'000'000'000;

DetectStageOptions LimitsOn(const std::string& pattern, double max) {
  DetectStageOptions o;
  detect::SensorRule rule;
  rule.pattern = pattern;
  rule.config.auto_score.enabled = false;
  rule.config.limits.enabled = true;
  rule.config.limits.max = max;
  rule.config.window.size_us = 10 * detect::kSecond;
  rule.config.window.allowed_lateness_us = 0;
  o.engine.rules.push_back(rule);
  o.local_topic = "weir/gw/defects";
  return o;
}

class DetectStageTest : public ::testing::Test {
 protected:
  DetectStageTest() {
    EXPECT_TRUE(local_.Connect().ok());
    EXPECT_TRUE(local_.CompleteConnect());
  }
  FakeClock clock_;
  FakeMqttClient local_;
};

TEST_F(DetectStageTest, ADefectIsReturnedAndPublishedLocallyAtOnce) {
  DetectStage stage(LimitsOn("boiler.*", 90), &local_, clock_);
  std::vector<Reading> readings = {{"boiler.temp", kT0, 71, 0}, {"boiler.temp", kT0 + 1000, 95, 0}};
  std::vector<Defect> defects;
  stage.OnReadings(readings, clock_.Now(), &defects);
  ASSERT_EQ(defects.size(), 1u);
  EXPECT_EQ(defects[0].sensor, "boiler.temp");
  EXPECT_EQ(readings.size(), 2u);  // no aggregates configured: readings untouched
  const auto published = local_.published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].topic, "weir/gw/defects");
  EXPECT_FALSE(published[0].retained);
  auto json = nlohmann::json::parse(published[0].payload);
  EXPECT_EQ(json["sensor"], "boiler.temp");
  EXPECT_EQ(stage.counters().published_local, 1u);
}

TEST_F(DetectStageTest, WithoutALocalConnectionTheDefectIsStillReturned) {
  ASSERT_TRUE(local_.DropConnection());
  DetectStage stage(LimitsOn("*", 90), &local_, clock_);
  std::vector<Reading> readings = {{"x", kT0, 95, 0}};
  std::vector<Defect> defects;
  stage.OnReadings(readings, clock_.Now(), &defects);
  EXPECT_EQ(defects.size(), 1u);
  EXPECT_EQ(stage.counters().local_publish_failed, 1u);
}

TEST_F(DetectStageTest, PublishLocalOffPublishesNothing) {
  DetectStageOptions o = LimitsOn("*", 90);
  o.publish_local = false;
  DetectStage stage(o, &local_, clock_);
  std::vector<Reading> readings = {{"x", kT0, 95, 0}};
  std::vector<Defect> defects;
  stage.OnReadings(readings, clock_.Now(), &defects);
  EXPECT_EQ(defects.size(), 1u);
  EXPECT_TRUE(local_.published().empty());
}

std::vector<std::string> Sensors(const std::vector<Reading>& readings) {
  std::vector<std::string> out;
  for (const Reading& r : readings) out.push_back(r.sensor);
  return out;
}

TEST_F(DetectStageTest, AggregatesAreAddedBesideTheReadings) {
  DetectStageOptions o = LimitsOn("*", 1000);
  o.aggregates = {{"pump*", AggregateMode::kBeside}};
  DetectStage stage(o, nullptr, clock_);
  std::vector<Defect> defects;
  std::vector<Reading> first = {{"pump", kT0, 1, 0}, {"pump", kT0 + 1'000'000, 3, 0}};
  stage.OnReadings(first, clock_.Now(), &defects);
  EXPECT_EQ(first.size(), 2u);
  // A reading in the next window closes the first one.
  std::vector<Reading> next = {{"pump", kT0 + 11'000'000, 5, 0}};
  stage.OnReadings(next, clock_.Now(), &defects);
  const auto sensors = Sensors(next);
  ASSERT_EQ(sensors.size(), 6u);
  EXPECT_EQ(sensors[0], "pump");
  EXPECT_EQ(sensors[1], "pump.count");
  EXPECT_DOUBLE_EQ(next[1].value, 2);
  EXPECT_EQ(sensors[4], "pump.mean");
  EXPECT_DOUBLE_EQ(next[4].value, 2);
  EXPECT_EQ(stage.counters().aggregates, 5u);
}

TEST_F(DetectStageTest, AggregatesInsteadDropTheRawReadingsOfThoseSensorsOnly) {
  DetectStageOptions o = LimitsOn("*", 1000);
  o.aggregates = {{"pump", AggregateMode::kInstead}};
  DetectStage stage(o, nullptr, clock_);
  std::vector<Defect> defects;
  std::vector<Reading> readings = {{"pump", kT0, 1, 0}, {"fan", kT0, 7, 0}};
  stage.OnReadings(readings, clock_.Now(), &defects);
  EXPECT_EQ(Sensors(readings), std::vector<std::string>{"fan"});
}

TEST_F(DetectStageTest, TicksRaiseDropoutsForSilentSensors) {
  DetectStageOptions o;
  detect::SensorRule rule;
  rule.pattern = "*";
  rule.config.auto_score.enabled = false;
  rule.config.dropout.enabled = true;
  rule.config.dropout.max_gap_us = 5 * detect::kSecond;
  o.engine.rules.push_back(rule);
  o.local_topic = "weir/gw/defects";
  FakeClock clock(kT0);
  DetectStage stage(o, &local_, clock);
  std::vector<Reading> readings = {{"s", kT0, 1, 0}};
  std::vector<Defect> defects;
  stage.OnReadings(readings, clock.Now(), &defects);
  EXPECT_TRUE(defects.empty());
  clock.Advance(std::chrono::seconds(10));
  std::vector<Reading> extra;
  stage.OnTick(&extra, &defects);
  ASSERT_EQ(defects.size(), 1u);
  EXPECT_EQ(defects[0].kind, DefectKind::kDropout);
  EXPECT_EQ(local_.published().size(), 1u);
}

TEST_F(DetectStageTest, UpdatedOptionsApplyBeforeTheNextBatch) {
  DetectStage stage(LimitsOn("*", 90), &local_, clock_);
  DetectStageOptions off = LimitsOn("*", 90);
  off.enabled = false;
  stage.UpdateOptions(off);
  std::vector<Reading> readings = {{"x", kT0, 95, 0}};
  std::vector<Defect> defects;
  stage.OnReadings(readings, clock_.Now(), &defects);
  EXPECT_TRUE(defects.empty());
  stage.UpdateOptions(LimitsOn("*", 200));
  readings = {{"x", kT0 + 1000, 150, 0}};
  stage.OnReadings(readings, clock_.Now(), &defects);
  EXPECT_TRUE(defects.empty());  // the new limit is 200
  readings = {{"x", kT0 + 2000, 250, 0}};
  stage.OnReadings(readings, clock_.Now(), &defects);
  EXPECT_EQ(defects.size(), 1u);
}

}  // namespace
}  // namespace weir::pipeline
