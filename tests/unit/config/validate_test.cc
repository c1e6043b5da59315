// Whole-config validation: required keys, URLs, device ids, topics, TLS and cross-key rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/config/config.h"

namespace weir::config {
namespace {

using ::testing::HasSubstr;

// A valid config with `json` layered over it; the merge itself must succeed.
AgentConfig ValidWith(std::string_view json) {
  Result<AgentConfig> base = MergeJson(Defaults(), R"({"device_id": "gw-17",
      "upstream": {"broker": {"url": "mqtts://broker.example:8883"}}})");
  EXPECT_TRUE(base.ok());
  Result<AgentConfig> r = MergeJson(base.value(), json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : base.value();
}

// The message of a merge or validation failure of `json` over a valid config.
std::string ErrorOf(std::string_view json) {
  Result<AgentConfig> base = MergeJson(Defaults(), R"({"device_id": "gw-17",
      "upstream": {"broker": {"url": "mqtts://broker.example:8883"}}})");
  Result<AgentConfig> r = MergeJson(base.value(), json);
  if (!r.ok()) return r.status().message();
  Status s = Validate(r.value());
  EXPECT_FALSE(s.ok()) << json;
  return s.message();
}

TEST(ConfigValidate, AValidConfigPasses) { EXPECT_TRUE(Validate(ValidWith("{}")).ok()); }

TEST(ConfigValidate, BadUrlsSayWhatIsWrong) {
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"url": "http://b:80"}}})"),
            "upstream.broker.url: 'http://b:80': scheme 'http' is not mqtt or mqtts");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"url": "broker:1883"}}})"),
            "upstream.broker.url: 'broker:1883' is not a URL (expected mqtt://host:port or "
            "mqtts://host:port)");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"url": "mqtt://:1883"}}})"),
            "upstream.broker.url: 'mqtt://:1883': no host");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"url": "mqtt://b:0"}}})"),
            "upstream.broker.url: 'mqtt://b:0': port 0 is outside 1-65535");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"url": "mqtt://b:65536"}}})"),
            "upstream.broker.url: 'mqtt://b:65536': port 65536 is outside 1-65535");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"url": "mqtt://b:x"}}})"),
            "upstream.broker.url: 'mqtt://b:x': port 'x' is not a number");
  EXPECT_EQ(ErrorOf(R"({"ingest": {"local": {"url": "mqtt://b:1883/path"}}})"),
            "ingest.local.url: 'mqtt://b:1883/path': only host and port are allowed after the "
            "scheme");
}

TEST(ConfigValidate, BrokerUrlsParseHostPortAndDefaults) {
  Result<BrokerUrl> u = ParseBrokerUrl("mqtts://broker.example");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "broker.example");
  EXPECT_EQ(u->port, 8883);
  u = ParseBrokerUrl("mqtt://[::1]:1884");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 1884);
  EXPECT_EQ(ParseBrokerUrl("mqtt://10.0.0.1").value().port, 1883);
}

TEST(ConfigValidate, DeviceIdMustBeOneTopicLevel) {
  for (const char* bad : {"gw/17", "gw+", "gw#1", "gw 17", "gw\u00e9"}) {
    const std::string json = std::string(R"({"device_id": ")") + bad + "\"}";
    EXPECT_THAT(ErrorOf(json), HasSubstr("device_id: '")) << bad;
    EXPECT_THAT(ErrorOf(json), HasSubstr("it becomes an MQTT topic level")) << bad;
  }
  EXPECT_EQ(ErrorOf(R"({"device_id": "gw/17"})"),
            "device_id: 'gw/17' contains '/'; use letters, digits, '.', '_' and '-' (it becomes "
            "an MQTT topic level)");
  EXPECT_EQ(ErrorOf(R"({"device_id": ")" + std::string(65, 'a') + "\"}"),
            "device_id: '" + std::string(65, 'a') + "' is longer than the maximum of 64 bytes");
  EXPECT_TRUE(Validate(ValidWith(R"({"device_id": "Gw_17.a-b"})")).ok());
  EXPECT_THAT(ErrorOf(R"({"device_id": ""})"), HasSubstr("device_id: required"));
  EXPECT_THAT(ErrorOf(R"({"device_id": ""})"), HasSubstr("WEIR_DEVICE_ID"));
}

TEST(ConfigValidate, TopicFiltersAndPrefixFollowMqttRules) {
  EXPECT_EQ(ErrorOf(R"({"ingest": {"subscriptions": [{"topic": "a/#/b"}]}})"),
            "ingest.subscriptions[0].topic: 'a/#/b': '#' must be a whole level and the last one");
  EXPECT_EQ(ErrorOf(R"({"ingest": {"subscriptions": [{"topic": "a/b+"}]}})"),
            "ingest.subscriptions[0].topic: 'a/b+': '+' must be a whole level");
  EXPECT_THAT(ErrorOf(R"({"ingest": {"subscriptions": [{"topic": ""}]}})"),
              HasSubstr("ingest.subscriptions[0].topic: required"));
  EXPECT_TRUE(Validate(ValidWith(R"({"ingest": {"subscriptions": [{"topic": "#"},
      {"topic": "+/x/+"}]}, "detect": {"publish_local": false}})"))
                  .ok());
  EXPECT_EQ(ErrorOf(R"({"upstream": {"topic_prefix": "weir/+"}})"),
            "upstream.topic_prefix: 'weir/+' contains a wildcard");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"topic_prefix": "/weir"}})"),
            "upstream.topic_prefix: '/weir' has an empty level (leading, trailing or double '/')");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"topic_prefix": ""}})"),
            "upstream.topic_prefix: must not be empty");
  EXPECT_TRUE(Validate(ValidWith(R"({"upstream": {"topic_prefix": "acme/plant-3"}})")).ok());
}

TEST(ConfigValidate, DuplicateSubscriptionsAreRejected) {
  EXPECT_EQ(ErrorOf(R"({"ingest": {"subscriptions": [{"topic": "a/#"}, {"topic": "a/#"}]}})"),
            "ingest.subscriptions[1].topic: 'a/#' duplicates ingest.subscriptions[0]");
}

TEST(ConfigValidate, TlsFilesNeedMqttsAndComeInPairs) {
  EXPECT_EQ(
      ErrorOf(R"({"upstream": {"broker": {"url": "mqtt://b:1883", "ca_file": "/ca.pem"}}})"),
      "upstream.broker.ca_file: set, but upstream.broker.url is mqtt:// (TLS needs mqtts://)");
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"cert_file": "/c.pem"}}})"),
            "upstream.broker.key_file: required when upstream.broker.cert_file is set");
  EXPECT_EQ(ErrorOf(R"({"ingest": {"local": {"url": "mqtts://l", "key_file": "/k.pem"}}})"),
            "ingest.local.cert_file: required when ingest.local.key_file is set");
  EXPECT_TRUE(Validate(ValidWith(R"({"upstream": {"broker": {"cert_file": "/c.pem",
      "key_file": "/k.pem", "ca_file": "/ca.pem"}}})"))
                  .ok());
}

TEST(ConfigValidate, PasswordNeedsUsername) {
  EXPECT_EQ(ErrorOf(R"({"upstream": {"broker": {"password": "x"}}})"),
            "upstream.broker.username: required when upstream.broker.password is set");
}

TEST(ConfigValidate, BackoffInitialMayNotExceedTheCap) {
  EXPECT_EQ(ErrorOf(R"({"upstream": {"backoff_initial_ms": 5000, "backoff_max_ms": 1000}})"),
            "upstream.backoff_initial_ms: 5000 is above upstream.backoff_max_ms (1000)");
}

TEST(ConfigValidate, StateDirMustBeAbsolute) {
  EXPECT_EQ(ErrorOf(R"({"store": {"state_dir": "state"}})"),
            "store.state_dir: 'state' is not an absolute path");
}

TEST(ConfigValidate, ASubscriptionThatWouldEatOurOwnUpstreamIsALoop) {
  EXPECT_EQ(ErrorOf(R"({"ingest": {"local": {"url": "mqtt://h:1883"},
                        "subscriptions": [{"topic": "weir/#"}]},
                        "upstream": {"broker": {"url": "mqtt://h"}}})"),
            "ingest.subscriptions[0].topic: 'weir/#' would take in the agent's own upstream "
            "messages (weir/gw-17/data), since both brokers are the same");
  // The same filter against a different broker is fine (when defects are not published locally).
  EXPECT_TRUE(Validate(ValidWith(R"({"ingest": {"subscriptions": [{"topic": "weir/#"}]},
                                     "detect": {"publish_local": false}})"))
                  .ok());
}

TEST(ConfigValidate, EveryProblemIsReportedAtOnce) {
  AgentConfig c = Defaults();                      // no device id, no upstream URL
  c.mutable_store()->set_group_commit_records(0);  // set behind the checks' back
  Status s = Validate(c);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("device_id: required"));
  EXPECT_THAT(s.message(), HasSubstr("upstream.broker.url: required"));
  EXPECT_THAT(s.message(), HasSubstr("store.group_commit_records: 0 is below the minimum 1"));
}

TEST(ConfigValidate, AConfigNotBuiltFromDefaultsNamesTheMissingKeys) {
  AgentConfig c;
  Status s = Validate(c);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("store.quota_bytes: not set"));
}

}  // namespace
}  // namespace weir::config
