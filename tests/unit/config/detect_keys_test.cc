// The detect section of the config and the key types it brought: doubles and booleans through
// JSON, binary documents, overrides, rendering and diff, and the detect rules across keys.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "agent/config/config.h"
#include "agent/config/diff.h"
#include "agent/config/schema.h"

namespace weir::config {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

constexpr std::string_view kIdentity = R"({"device_id": "gw-17",
    "upstream": {"broker": {"url": "mqtts://broker.example:8883"}}})";

AgentConfig Valid() {
  Result<AgentConfig> r = MergeJson(Defaults(), kIdentity);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : Defaults();
}

AgentConfig With(const AgentConfig& base, std::string_view json) {
  Result<AgentConfig> r = MergeJson(base, json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : base;
}

std::string MergeError(std::string_view json) {
  Result<AgentConfig> r = MergeJson(Valid(), json);
  EXPECT_FALSE(r.ok()) << json;
  return r.ok() ? "" : r.status().message();
}

// The message of a merge or validation failure of `json` over a valid config.
std::string ErrorOf(std::string_view json) {
  Result<AgentConfig> r = MergeJson(Valid(), json);
  if (!r.ok()) return r.status().message();
  Status s = Validate(r.value());
  EXPECT_FALSE(s.ok()) << json;
  return s.message();
}

Result<AgentConfig> Set(const AgentConfig& base, const std::vector<std::string>& settings) {
  std::vector<Override> o;
  for (const std::string& s : settings) {
    Result<Override> p = ParseOverride(s, "--set");
    if (!p.ok()) return p.status();
    o.push_back(p.value());
  }
  return ApplyOverrides(base, o);
}

std::string OverrideError(const std::string& setting) {
  Result<AgentConfig> r =
      Set(With(Valid(), R"({"detect": {"rules": [{"pattern": "a*"}]}})"), {setting});
  EXPECT_FALSE(r.ok()) << setting;
  return r.ok() ? "" : r.status().message();
}

TEST(ConfigDetect, DefaultsRunAutoOnlyWithNoRules) {
  const AgentConfig c = Defaults();
  EXPECT_TRUE(c.detect().has_enabled());
  EXPECT_TRUE(c.detect().enabled());
  EXPECT_TRUE(c.detect().publish_local());
  EXPECT_EQ(c.detect().max_sensors(), 10000u);
  EXPECT_EQ(c.detect().rules_size(), 0);
  EXPECT_TRUE(Validate(Valid()).ok());
}

TEST(ConfigDetect, ANewRuleStartsFromTheRuleDefaults) {
  const AgentConfig c = With(Valid(), R"({"detect": {"rules": [{"pattern": "boiler.*"}]}})");
  ASSERT_EQ(c.detect().rules_size(), 1);
  const v1::DetectRule& r = c.detect().rules(0);
  EXPECT_EQ(r.pattern(), "boiler.*");
  EXPECT_EQ(r.window().kind(), "tumbling");
  EXPECT_EQ(r.window().size_s(), 60u);
  EXPECT_EQ(r.window().hop_s(), 0u);
  EXPECT_EQ(r.window().count(), 100u);
  EXPECT_EQ(r.window().allowed_lateness_s(), 5u);
  EXPECT_FALSE(r.limits().enabled());
  EXPECT_TRUE(r.limits().has_enabled());
  EXPECT_EQ(r.limits().min(), -1e308);
  EXPECT_EQ(r.limits().max(), 1e308);
  EXPECT_EQ(r.rate().max_per_s(), 1e308);
  EXPECT_EQ(r.spike().z(), 8.0);
  EXPECT_EQ(r.spike().window(), 64u);
  EXPECT_EQ(r.flatline().min_repeats(), 30u);
  EXPECT_EQ(r.dropout().max_gap_s(), 60u);
  EXPECT_TRUE(r.auto_().enabled());
  EXPECT_EQ(r.auto_().threshold(), 0.95);
  EXPECT_EQ(r.holdoff_s(), 300u);
  EXPECT_EQ(r.aggregate(), "off");
  EXPECT_TRUE(Validate(c).ok());
}

TEST(ConfigDetect, DoublesTakeIntegersFractionsAndExponents) {
  const AgentConfig c = With(Valid(), R"({"detect": {"rules": [{"pattern": "b*",
      "limits": {"enabled": true, "min": -40, "max": 95.5}, "rate": {"max_per_s": 2.5e-3},
      "spike": {"z": 4}}]}})");
  const v1::DetectRule& r = c.detect().rules(0);
  EXPECT_TRUE(r.limits().enabled());
  EXPECT_EQ(r.limits().min(), -40.0);
  EXPECT_EQ(r.limits().max(), 95.5);
  EXPECT_EQ(r.rate().max_per_s(), 2.5e-3);
  EXPECT_EQ(r.spike().z(), 4.0);
}

TEST(ConfigDetect, WrongTypesNameTheKeyAndWhatCame) {
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "limits": {"max": "high"}}]}})"),
            "detect.rules[0].limits.max: expected a number, got a string");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "limits": {"max": true}}]}})"),
            "detect.rules[0].limits.max: expected a number, got a boolean");
  EXPECT_EQ(MergeError(R"({"detect": {"enabled": 1}})"),
            "detect.enabled: expected true or false, got a number");
  EXPECT_EQ(MergeError(R"({"detect": {"publish_local": "false"}})"),
            "detect.publish_local: expected true or false, got a string");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "spike": {"window": 8.5}}]}})"),
            "detect.rules[0].spike.window: expected an integer, got the number 8.5");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "spike": {"zz": 1}}]}})"),
            "detect.rules[0].spike.zz: unknown key");
}

TEST(ConfigDetect, DoubleRangesNameTheBound) {
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "spike": {"z": 0.5}}]}})"),
            "detect.rules[0].spike.z: 0.5 is below the minimum 1");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "spike": {"z": 101}}]}})"),
            "detect.rules[0].spike.z: 101 is above the maximum 100");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "auto": {"threshold": 0}}]}})"),
            "detect.rules[0].auto.threshold: 0 is not above the minimum 0");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "rate": {"max_per_s": -1}}]}})"),
            "detect.rules[0].rate.max_per_s: -1 is not above the minimum 0");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "spike": {"window": 129}}]}})"),
            "detect.rules[0].spike.window: 129 is above the maximum 128");
  EXPECT_EQ(MergeError(R"({"detect": {"rules": [{"pattern": "a", "aggregate": "sometimes"}]}})"),
            "detect.rules[0].aggregate: 'sometimes' is not one of off, beside, instead");
  // The bounds themselves are allowed.
  const AgentConfig c = With(Valid(), R"({"detect": {"rules": [{"pattern": "a",
      "spike": {"z": 1, "window": 128}, "auto": {"threshold": 1}}]}})");
  EXPECT_EQ(c.detect().rules(0).auto_().threshold(), 1.0);
}

TEST(ConfigDetect, NumbersBeyondTheDoubleRangeAreRejectedNotInfinite) {
  // JSON text has no NaN or infinity; a literal too large for a double is the one way to try.
  Result<AgentConfig> r =
      MergeJson(Valid(), R"({"detect": {"rules": [{"pattern": "a", "limits": {"max": 1e999}}]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "not valid JSON: number overflow parsing '1e999'");
}

TEST(ConfigDetect, OverridesTakeBooleansAsWordsOrDigitsAndDoublesAsText) {
  Result<AgentConfig> r =
      Set(Valid(), {"detect.enabled=false", "detect.publish_local=0",
                    R"(detect.rules[0]={"pattern":"boiler.*"})", "detect.rules[0].limits.enabled=1",
                    "detect.rules[0].limits.max=1.5e3", "detect.rules[0].limits.min=-0.25",
                    "detect.rules[1].pattern=pump.?", "detect.rules[1].spike.enabled=true",
                    "detect.rules[1].spike.z=4"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->detect().enabled());
  EXPECT_FALSE(r->detect().publish_local());
  ASSERT_EQ(r->detect().rules_size(), 2);
  EXPECT_TRUE(r->detect().rules(0).limits().enabled());
  EXPECT_EQ(r->detect().rules(0).limits().max(), 1500.0);
  EXPECT_EQ(r->detect().rules(0).limits().min(), -0.25);
  EXPECT_EQ(r->detect().rules(1).pattern(), "pump.?");
  EXPECT_TRUE(r->detect().rules(1).spike().enabled());
  EXPECT_EQ(r->detect().rules(1).spike().z(), 4.0);
  EXPECT_TRUE(Validate(r.value()).ok());
}

TEST(ConfigDetect, OverrideErrorsNameTheOriginAndTheKey) {
  EXPECT_EQ(OverrideError("detect.enabled=yes"),
            "--set: detect.enabled: 'yes' is not true, false, 1 or 0");
  EXPECT_EQ(OverrideError("detect.enabled="),
            "--set: detect.enabled: '' is not true, false, 1 or 0");
  EXPECT_EQ(OverrideError("detect.rules[0].limits.max=abc"),
            "--set: detect.rules[0].limits.max: 'abc' is not a number");
  EXPECT_EQ(OverrideError("detect.rules[0].limits.max=12abc"),
            "--set: detect.rules[0].limits.max: '12abc' is not a number");
  EXPECT_EQ(OverrideError("detect.rules[0].limits.max="),
            "--set: detect.rules[0].limits.max: '' is not a number");
  for (const char* v : {"inf", "-inf", "nan", "1e999"}) {
    EXPECT_EQ(OverrideError(std::string("detect.rules[0].limits.max=") + v),
              std::string("--set: detect.rules[0].limits.max: '") + v + "' is not a finite number");
  }
  EXPECT_EQ(OverrideError("detect.rules[0].spike.z=0.5"),
            "--set: detect.rules[0].spike.z: 0.5 is below the minimum 1");
}

TEST(ConfigDetect, EnvironmentVariablesReachRuleKeys) {
  std::vector<Override> o =
      EnvOverrides({"WEIR_DETECT__PUBLISH_LOCAL=false", "WEIR_DETECT__RULES__0__PATTERN=line-?",
                    "WEIR_DETECT__RULES__0__AUTO__THRESHOLD=0.8"});
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[2].path, "detect.rules[0].auto.threshold");
  Result<AgentConfig> r = ApplyOverrides(Valid(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->detect().publish_local());
  EXPECT_EQ(r->detect().rules(0).pattern(), "line-?");
  EXPECT_EQ(r->detect().rules(0).auto_().threshold(), 0.8);
}

TEST(ConfigDetect, RenderedJsonRoundTripsDoublesAndBooleansExactly) {
  const AgentConfig c = With(Valid(), R"({"detect": {"enabled": false, "publish_local": false,
      "rules": [{"pattern": "boiler.*", "limits": {"enabled": true, "min": -0.1, "max": 1e-300},
                 "rate": {"enabled": true, "max_per_s": 0.30000000000000004}},
                {"pattern": "*", "auto": {"enabled": false, "threshold": 0.123456789012345}}]}})");
  const std::string text = RenderJson(c, Redact::kNothing);
  EXPECT_THAT(text, HasSubstr(R"("publish_local": false)"));
  Result<AgentConfig> back = MergeJson(Defaults(), text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->SerializeAsString(), c.SerializeAsString());
  EXPECT_EQ(RenderJson(back.value(), Redact::kNothing), text);
}

TEST(ConfigDetect, BinaryDocumentsAreJudgedLikeJson) {
  AgentConfig doc;
  doc.mutable_detect()->set_enabled(false);  // an explicit false replaces the base's true
  v1::DetectRule* rule = doc.mutable_detect()->add_rules();
  rule->set_pattern("boiler.*");
  rule->mutable_limits()->set_max(90.5);
  Result<AgentConfig> r = MergeBinary(Valid(), doc.SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->detect().enabled());
  EXPECT_EQ(r->detect().rules(0).limits().max(), 90.5);
  EXPECT_EQ(r->detect().rules(0).limits().min(), -1e308);  // element defaults fill the rest

  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    rule->mutable_limits()->set_max(bad);
    Result<AgentConfig> e = MergeBinary(Valid(), doc.SerializeAsString());
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().message(), "detect.rules[0].limits.max: expected a finite number");
  }
}

TEST(ConfigDetect, DiffNamesChangedDoublesAndBooleansAsLiveAndRemote) {
  const AgentConfig before = With(Valid(), R"({"detect": {"rules": [{"pattern": "b*"}]}})");
  const AgentConfig after =
      With(before, R"({"detect": {"publish_local": false, "rules": [{"pattern": "b*",
                  "spike": {"enabled": true, "z": 4.5}}]}})");
  std::vector<Change> changes = Diff(before, after);
  EXPECT_THAT(changes, ElementsAre(Field(&Change::path, "detect.publish_local"),
                                   Field(&Change::path, "detect.rules[0].spike.enabled"),
                                   Field(&Change::path, "detect.rules[0].spike.z")));
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].before, "true");
  EXPECT_EQ(changes[0].after, "false");
  EXPECT_EQ(changes[2].before, "8.0");
  EXPECT_EQ(changes[2].after, "4.5");
  for (const Change& ch : changes) {
    EXPECT_EQ(ch.apply, Apply::kLive) << ch.path;
    EXPECT_TRUE(ch.remote) << ch.path;
  }
}

TEST(ConfigDetect, AFleetPushMayRetuneDetection) {
  Result<RemotePlan> plan = PlanRemoteUpdate(Valid(), R"({"detect": {"rules": [
      {"pattern": "boiler.*", "limits": {"enabled": true, "max": 95}}]}})",
                                             /*binary=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_FALSE(plan->needs_restart);
  ASSERT_EQ(plan->changes.size(), 1u);
  EXPECT_EQ(plan->changes[0].path, "detect.rules[0]");
}

TEST(ConfigDetect, PublishingDefectsLocallyForbidsSubscribingToThem) {
  EXPECT_EQ(ErrorOf(R"({"ingest": {"subscriptions": [{"topic": "sensors/#"},
                                                       {"topic": "weir/+/defects"}]}})"),
            "ingest.subscriptions[1].topic: 'weir/+/defects' would take in the agent's own "
            "defects (weir/gw-17/defects, detect.publish_local)");
  EXPECT_THAT(
      ErrorOf(R"({"ingest": {"subscriptions": [{"topic": "#"}]}})"),
      HasSubstr("ingest.subscriptions[0].topic: '#' would take in the agent's own defects"));
  // Not published locally, or no detection at all: nothing comes back.
  EXPECT_TRUE(Validate(With(Valid(), R"({"ingest": {"subscriptions": [{"topic": "#"}]},
                                         "detect": {"publish_local": false}})"))
                  .ok());
  EXPECT_TRUE(Validate(With(Valid(), R"({"ingest": {"subscriptions": [{"topic": "#"}]},
                                         "detect": {"enabled": false}})"))
                  .ok());
  // Another device's defects are input like any other topic.
  EXPECT_TRUE(
      Validate(With(Valid(), R"({"ingest": {"subscriptions": [{"topic": "weir/gw-9/#"}]}})")).ok());
}

TEST(ConfigDetect, LimitsMinMayNotExceedMax) {
  EXPECT_EQ(ErrorOf(R"({"detect": {"rules": [{"pattern": "a",
                        "limits": {"min": 10, "max": 2.5}}]}})"),
            "detect.rules[0].limits.min: 10 is above detect.rules[0].limits.max (2.5)");
  EXPECT_TRUE(Validate(With(Valid(), R"({"detect": {"rules": [{"pattern": "a",
                                          "limits": {"min": 3, "max": 3}}]}})"))
                  .ok());
}

TEST(ConfigDetect, SlidingWindowsHopAtMostTheirSizeAndOverlapAtMostSixteen) {
  EXPECT_EQ(ErrorOf(R"({"detect": {"rules": [{"pattern": "a",
                        "window": {"kind": "sliding", "size_s": 10, "hop_s": 20}}]}})"),
            "detect.rules[0].window.hop_s: 20 is above detect.rules[0].window.size_s (10)");
  EXPECT_THAT(ErrorOf(R"({"detect": {"rules": [{"pattern": "a",
                        "window": {"kind": "sliding", "size_s": 170, "hop_s": 10}}]}})"),
              HasSubstr("detect.rules[0].window.hop_s: 10 is below size_s/16"));
  EXPECT_TRUE(Validate(With(Valid(), R"({"detect": {"rules": [{"pattern": "a",
                   "window": {"kind": "sliding", "size_s": 160, "hop_s": 10}}]}})"))
                  .ok());
  // hop_s only matters for sliding windows.
  EXPECT_TRUE(Validate(With(Valid(), R"({"detect": {"rules": [{"pattern": "a",
                   "window": {"kind": "tumbling", "size_s": 10, "hop_s": 20}}]}})"))
                  .ok());
}

TEST(ConfigDetect, ARuleNeedsAPattern) {
  EXPECT_THAT(ErrorOf(R"({"detect": {"rules": [{"limits": {"enabled": true}}]}})"),
              HasSubstr("detect.rules[0].pattern: required"));
}

TEST(ConfigSchemaText, DoubleRangesReadAsNumbers) {
  EXPECT_EQ(DoubleText(0.95), "0.95");
  EXPECT_EQ(DoubleText(8), "8");
  EXPECT_EQ(DoubleText(-1e308), "-1e+308");
  const std::string md = ReferenceMarkdown();
  EXPECT_THAT(md, HasSubstr("| `detect.rules[].auto.threshold` | double | `0.95` | > 0, <= 1 |"));
  EXPECT_THAT(md,
              HasSubstr("| `detect.rules[].limits.min` | double | `-1e308` | any finite number |"));
  EXPECT_THAT(md, HasSubstr("| `detect.enabled` | bool | `true` | true/false |"));
}

}  // namespace
}  // namespace weir::config
