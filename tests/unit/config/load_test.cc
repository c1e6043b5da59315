// Parsing and layering: JSON and binary documents, overrides from the environment and flags,
// and the error messages that name the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "agent/config/config.h"

namespace weir::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

AgentConfig MustMerge(const AgentConfig& base, std::string_view json) {
  Result<AgentConfig> r = MergeJson(base, json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : base;
}

std::string MergeError(std::string_view json) {
  Result<AgentConfig> r = MergeJson(Defaults(), json);
  EXPECT_FALSE(r.ok()) << json;
  return r.ok() ? "" : r.status().message();
}

std::string OverrideError(const std::string& setting) {
  Result<Override> o = ParseOverride(setting, "--set");
  if (!o.ok()) return o.status().message();
  Result<AgentConfig> r = ApplyOverrides(Defaults(), {o.value()});
  EXPECT_FALSE(r.ok()) << setting;
  return r.ok() ? "" : r.status().message();
}

TEST(ConfigDefaults, EveryDocumentedDefaultIsSet) {
  const AgentConfig c = Defaults();
  EXPECT_EQ(c.store().state_dir(), "/var/lib/weir");
  EXPECT_EQ(c.store().group_commit_records(), 1000u);
  EXPECT_EQ(c.store().group_commit_interval_ms(), 50u);
  EXPECT_EQ(c.store().quota_bytes(), uint64_t{1} << 30);
  EXPECT_EQ(c.store().quota_policy(), "evict_oldest");
  EXPECT_EQ(c.upstream().format(), "protobuf");
  EXPECT_EQ(c.upstream().topic_prefix(), "weir");
  EXPECT_EQ(c.ingest().local().url(), "mqtt://127.0.0.1:1883");
  ASSERT_EQ(c.ingest().subscriptions_size(), 1);
  EXPECT_EQ(c.ingest().subscriptions(0).topic(), "sensors/#");
  EXPECT_EQ(c.ingest().subscriptions(0).format(), "json");
  EXPECT_EQ(c.ingest().subscriptions(0).sensor_topic_segment(), -1);
  EXPECT_EQ(c.ingest().subscriptions(0).json_fields().time(), "ts");
  EXPECT_EQ(c.ingest().max_payload_bytes(), 65536u);
  EXPECT_EQ(c.upstream().backoff_initial_ms(), 500u);
  EXPECT_EQ(c.upstream().backoff_max_ms(), 60000u);
  EXPECT_EQ(c.upstream().max_inflight(), 16u);
  EXPECT_TRUE(c.has_device_id());
  EXPECT_EQ(c.device_id(), "");
}

TEST(ConfigDefaults, AreIncompleteOnlyForTheRequiredKeys) {
  Status s = Validate(Defaults());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("device_id: required"));
  EXPECT_THAT(s.message(), HasSubstr("upstream.broker.url: required"));
  AgentConfig c = Defaults();
  c.set_device_id("gw-17");
  c.mutable_upstream()->mutable_broker()->set_url("mqtts://broker.example:8883");
  EXPECT_TRUE(Validate(c).ok()) << Validate(c).ToString();
}

TEST(ConfigJson, KeysPresentReplaceAndAbsentKeysKeepTheBase) {
  AgentConfig c = MustMerge(Defaults(), R"({"device_id": "gw-17",
      "store": {"group_commit_records": 10, "quota_bytes": 2097152},
      "upstream": {"broker": {"url": "mqtt://up:1883"}, "format": "json"}})");
  EXPECT_EQ(c.device_id(), "gw-17");
  EXPECT_EQ(c.store().group_commit_records(), 10u);
  EXPECT_EQ(c.store().group_commit_interval_ms(), 50u);
  EXPECT_EQ(c.store().quota_bytes(), 2097152u);
  EXPECT_EQ(c.upstream().format(), "json");
  EXPECT_EQ(c.upstream().topic_prefix(), "weir");
}

TEST(ConfigJson, UnknownTopLevelKeyNamesIt) {
  EXPECT_EQ(MergeError(R"({"devise_id": "x"})"), "devise_id: unknown key");
}

TEST(ConfigJson, UnknownNestedKeyNamesItsPath) {
  EXPECT_EQ(MergeError(R"({"upstream": {"brokr": {}}})"), "upstream.brokr: unknown key");
  EXPECT_EQ(MergeError(R"({"upstream": {"broker": {"uri": "mqtt://h"}}})"),
            "upstream.broker.uri: unknown key");
}

TEST(ConfigJson, UnknownKeyInAListElementNamesTheIndex) {
  EXPECT_EQ(MergeError(R"({"ingest": {"subscriptions": [{"topic": "a"}, {"topc": "b"}]}})"),
            "ingest.subscriptions[1].topc: unknown key");
}

TEST(ConfigJson, WrongTypesNameThePathAndWhatCame) {
  EXPECT_EQ(MergeError(R"({"store": {"group_commit_records": "1000"}})"),
            "store.group_commit_records: expected an integer, got a string");
  EXPECT_EQ(MergeError(R"({"store": {"group_commit_records": 1.5}})"),
            "store.group_commit_records: expected an integer, got the number 1.5");
  EXPECT_EQ(MergeError(R"({"device_id": 17})"), "device_id: expected a string, got a number");
  EXPECT_EQ(MergeError(R"({"store": 3})"), "store: expected an object, got a number");
  EXPECT_EQ(MergeError(R"({"ingest": {"subscriptions": {"topic": "a"}}})"),
            "ingest.subscriptions: expected a list, got an object");
  EXPECT_EQ(MergeError(R"([1, 2])"), "(top level): expected an object, got a list");
}

TEST(ConfigJson, OutOfRangeValuesNameTheBound) {
  EXPECT_EQ(MergeError(R"({"store": {"group_commit_records": 0}})"),
            "store.group_commit_records: 0 is below the minimum 1");
  EXPECT_EQ(MergeError(R"({"store": {"group_commit_records": -3}})"),
            "store.group_commit_records: -3 is below the minimum 1");
  EXPECT_EQ(MergeError(R"({"upstream": {"max_inflight": 5000}})"),
            "upstream.max_inflight: 5000 is above the maximum 1024");
  EXPECT_EQ(MergeError(R"({"store": {"quota_bytes": 1000}})"),
            "store.quota_bytes: 1000 is below the minimum 1048576");
  EXPECT_EQ(MergeError(R"({"upstream": {"max_message_bytes": 4294967296}})"),
            "upstream.max_message_bytes: 4294967296 is above the maximum 268435455");
  EXPECT_EQ(
      MergeError(R"({"ingest": {"subscriptions": [{"topic": "a", "sensor_topic_segment": -2}]}})"),
      "ingest.subscriptions[0].sensor_topic_segment: -2 is below the minimum -1");
  EXPECT_EQ(MergeError(R"({"ingest": {"subscriptions": []}})"),
            "ingest.subscriptions: 0 items; allowed 1..64");
}

TEST(ConfigJson, ValuesOutsideTheirSetNameTheChoices) {
  EXPECT_EQ(MergeError(R"({"upstream": {"format": "xml"}})"),
            "upstream.format: 'xml' is not one of protobuf, json");
  EXPECT_EQ(MergeError(R"({"upstream": {"broker": {"mqtt_version": 4}}})"),
            "upstream.broker.mqtt_version: 4 is not one of 3, 5");
}

TEST(ConfigJson, Uint64MayBeWrittenAsAStringAsProto3JsonDoes) {
  AgentConfig c = MustMerge(Defaults(), R"({"store": {"quota_bytes": "2147483648"}})");
  EXPECT_EQ(c.store().quota_bytes(), uint64_t{2} << 30);
}

TEST(ConfigJson, ANewListElementStartsFromElementDefaults) {
  AgentConfig c = MustMerge(
      Defaults(),
      R"({"ingest": {"subscriptions": [{"topic": "a/#"}, {"topic": "b/+/v", "format": "number", "sensor_topic_segment": 1}]}})");
  ASSERT_EQ(c.ingest().subscriptions_size(), 2);
  EXPECT_EQ(c.ingest().subscriptions(0).format(), "json");
  EXPECT_EQ(c.ingest().subscriptions(0).json_fields().value(), "value");
  EXPECT_EQ(c.ingest().subscriptions(1).format(), "number");
  EXPECT_EQ(c.ingest().subscriptions(1).sensor_topic_segment(), 1);
}

TEST(ConfigJson, SyntaxErrorsSayWhere) {
  Result<AgentConfig> r = MergeJson(Defaults(), "{\"device_id\": \"x\",\n  }");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not valid JSON"));
  EXPECT_THAT(r.status().message(), HasSubstr("line 2"));
}

TEST(ConfigBinary, FieldsOnTheWireReplaceTheBase) {
  AgentConfig doc;
  doc.set_device_id("gw-9");
  doc.mutable_store()->set_group_commit_interval_ms(20);
  doc.mutable_ingest()->add_subscriptions()->set_topic("plant/+/temp");
  Result<AgentConfig> r = MergeBinary(Defaults(), doc.SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->device_id(), "gw-9");
  EXPECT_EQ(r->store().group_commit_interval_ms(), 20u);
  EXPECT_EQ(r->store().group_commit_records(), 1000u);
  ASSERT_EQ(r->ingest().subscriptions_size(), 1);
  EXPECT_EQ(r->ingest().subscriptions(0).topic(), "plant/+/temp");
  // Element defaults fill what the wire did not carry.
  EXPECT_EQ(r->ingest().subscriptions(0).format(), "json");
}

TEST(ConfigBinary, AnExplicitZeroIsJudgedNotIgnored) {
  AgentConfig doc;
  doc.mutable_store()->set_group_commit_records(0);
  Result<AgentConfig> r = MergeBinary(Defaults(), doc.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "store.group_commit_records: 0 is below the minimum 1");
}

TEST(ConfigBinary, UnknownFieldNumbersAreErrorsWithTheirPath) {
  AgentConfig doc;
  doc.mutable_upstream()->set_max_inflight(4);
  std::string bytes = doc.SerializeAsString();
  // Append field 42 (varint 7) inside `upstream` (field 5): rebuild it by hand.
  std::string upstream = doc.upstream().SerializeAsString() + std::string("\xd0\x02\x07", 3);
  std::string wire = std::string("\x2a") + static_cast<char>(upstream.size()) + upstream;
  Result<AgentConfig> r = MergeBinary(Defaults(), wire);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "upstream.#42: unknown field");
  EXPECT_TRUE(MergeBinary(Defaults(), bytes).ok());
}

TEST(ConfigBinary, GarbageIsRejected) {
  Result<AgentConfig> r = MergeBinary(Defaults(), std::string("\xff\xff\xff", 3));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("not a valid binary"));
}

TEST(ConfigOverrides, SetScalarsNestedKeysAndListElements) {
  std::vector<Override> o;
  for (const char* s :
       {"device_id=gw-17", "upstream.broker.url=mqtts://b.example:8883",
        "store.quota_bytes=2097152", "ingest.subscriptions[0].topic=plant/#",
        "ingest.subscriptions[1].topic=x/+/y", "ingest.subscriptions[1].sensor_topic_segment=1",
        "upstream.broker.password=a=b"}) {
    Result<Override> p = ParseOverride(s, "--set");
    ASSERT_TRUE(p.ok()) << s;
    o.push_back(p.value());
  }
  Result<AgentConfig> r = ApplyOverrides(Defaults(), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->device_id(), "gw-17");
  EXPECT_EQ(r->store().quota_bytes(), 2097152u);
  ASSERT_EQ(r->ingest().subscriptions_size(), 2);
  EXPECT_EQ(r->ingest().subscriptions(0).topic(), "plant/#");
  EXPECT_EQ(r->ingest().subscriptions(1).topic(), "x/+/y");
  EXPECT_EQ(r->ingest().subscriptions(1).sensor_topic_segment(), 1);
  EXPECT_EQ(r->upstream().broker().password(), "a=b");
}

TEST(ConfigOverrides, ListsAndObjectsTakeJson) {
  Result<AgentConfig> r = ApplyOverrides(
      Defaults(), {{"ingest.subscriptions", R"([{"topic":"a/#"},{"topic":"b/#"}])", "--subscribe"},
                   {"upstream.broker", R"({"url":"mqtt://up:1884","username":"u"})", "--set"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->ingest().subscriptions_size(), 2);
  EXPECT_EQ(r->upstream().broker().url(), "mqtt://up:1884");
  EXPECT_EQ(r->upstream().broker().keepalive_s(), 30u);
}

TEST(ConfigOverrides, ErrorsNameTheOriginAndThePath) {
  EXPECT_EQ(OverrideError("store.group_commit_records=0"),
            "--set: store.group_commit_records: 0 is below the minimum 1");
  EXPECT_EQ(OverrideError("store.quota_bytes=lots"),
            "--set: store.quota_bytes: 'lots' is not an integer");
  EXPECT_EQ(OverrideError("store.quota_bytes=12abc"),
            "--set: store.quota_bytes: '12abc' is not an integer");
  EXPECT_EQ(OverrideError("upstream.brokr.url=mqtt://h"), "--set: upstream.brokr: unknown key");
  EXPECT_EQ(OverrideError("device_id.x=1"), "--set: device_id: is not an object");
  EXPECT_EQ(OverrideError("ingest.subscriptions.topic=a"),
            "--set: ingest.subscriptions: is a list; address an element as "
            "ingest.subscriptions[0]");
  EXPECT_EQ(OverrideError("ingest.subscriptions[3].topic=a"),
            "--set: ingest.subscriptions[3]: index out of range (the list has 1 items; index 1 "
            "appends)");
  EXPECT_EQ(OverrideError("ingest.subscriptions[x].topic=a"),
            "--set: ingest.subscriptions[x].topic: malformed list index in 'subscriptions[x]'");
  EXPECT_EQ(OverrideError("ingest.subscriptions=[{"),
            "--set: ingest.subscriptions: the value is not valid JSON");
  EXPECT_EQ(OverrideError("store..x=1"), "--set: store..x: empty key in path");
  EXPECT_EQ(OverrideError("no-equals-sign"), "--set: expected key=value, got 'no-equals-sign'");
  EXPECT_EQ(OverrideError("=5"), "--set: expected key=value, got '=5'");
}

TEST(ConfigOverrides, EnvironmentNamesMapToPaths) {
  std::vector<Override> o =
      EnvOverrides({"PATH=/usr/bin", "WEIR_DEVICE_ID=gw-3", "WEIR_UPSTREAM__BROKER__URL=mqtt://u:1",
                    "WEIR_INGEST__SUBSCRIPTIONS__0__FORMAT=number"});
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[0].path, "device_id");
  EXPECT_EQ(o[0].origin, "WEIR_DEVICE_ID");
  EXPECT_EQ(o[1].path, "upstream.broker.url");
  EXPECT_EQ(o[2].path, "ingest.subscriptions[0].format");
  EXPECT_EQ(o[2].value, "number");
}

TEST(ConfigOverrides, AMisspelledEnvironmentVariableIsAnError) {
  Result<AgentConfig> r =
      ApplyOverrides(Defaults(), EnvOverrides({"WEIR_UPSTREAM__BROKR__URL=mqtt://u:1"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "WEIR_UPSTREAM__BROKR__URL: upstream.brokr: unknown key");
}

TEST(ConfigLoad, LayersAreDefaultsThenFileThenEnvironmentThenFlags) {
  Sources s;
  s.file_json = R"({"device_id": "from-file", "upstream": {"broker": {"url": "mqtt://f:1883"},
                    "max_inflight": 4, "batch_readings": 50}, "store": {"group_commit_records": 7}})";
  s.environ_entries = {"WEIR_DEVICE_ID=from-env", "WEIR_UPSTREAM__MAX_INFLIGHT=8"};
  s.flags = {{"device_id", "from-flag", "--device"}};
  Result<AgentConfig> r = Load(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->device_id(), "from-flag");                 // flag over env over file
  EXPECT_EQ(r->upstream().max_inflight(), 8u);            // env over file
  EXPECT_EQ(r->upstream().batch_readings(), 50u);         // file over default
  EXPECT_EQ(r->store().group_commit_records(), 7u);       // file
  EXPECT_EQ(r->store().group_commit_interval_ms(), 50u);  // default
}

TEST(ConfigLoad, AFirstRunNeedsNoFile) {
  Sources s;
  s.flags = {{"ingest.local.url", "mqtt://127.0.0.1:1883", "--local"},
             {"ingest.subscriptions", R"([{"topic":"sensors/#"}])", "--subscribe"},
             {"upstream.broker.url", "mqtts://broker.example:8883", "--upstream"},
             {"device_id", "gw-17", "--device"},
             {"store.state_dir", "/var/lib/weir", "--state"},
             {"upstream.format", "json", "--format"}};
  Result<AgentConfig> r = Load(s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->upstream().format(), "json");
}

TEST(ConfigLoad, ErrorsSayWhichLayer) {
  Sources s;
  s.file_name = "/etc/weir/weir.json";
  s.file_json = R"({"store": {"quota_policy": "drop"}})";
  Result<AgentConfig> r = Load(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "/etc/weir/weir.json: store.quota_policy: 'drop' is not one of evict_oldest, "
            "pause_ingest");
  s.file_json = "";
  s.environ_entries = {"WEIR_STORE__GROUP_COMMIT_INTERVAL_MS=0"};
  r = Load(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "WEIR_STORE__GROUP_COMMIT_INTERVAL_MS: store.group_commit_interval_ms: 0 is below the "
            "minimum 1");
}

TEST(ConfigRender, JsonRoundTripsToTheSameConfig) {
  AgentConfig c = MustMerge(Defaults(), R"({"device_id": "gw-1",
      "upstream": {"broker": {"url": "mqtts://b:8883", "username": "u", "password": "s3cret",
                              "cert_file": "/etc/weir/c.pem", "key_file": "/etc/weir/k.pem"}},
      "ingest": {"subscriptions": [{"topic": "a/#"}, {"topic": "b", "format": "line"}]},
      "store": {"quota_bytes": 5000000000}})");
  Result<AgentConfig> back = MergeJson(Defaults(), RenderJson(c, Redact::kNothing));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->SerializeAsString(), c.SerializeAsString());
  EXPECT_EQ(RenderJson(back.value(), Redact::kNothing), RenderJson(c, Redact::kNothing));
}

TEST(ConfigRender, SecretsAreRedactedByDefault) {
  AgentConfig c = MustMerge(Defaults(), R"({"ingest": {"local": {"username": "u",
      "password": "hunter2"}}})");
  const std::string shown = RenderJson(c);
  EXPECT_THAT(shown, Not(HasSubstr("hunter2")));
  EXPECT_THAT(shown, HasSubstr(R"("password": "<redacted>")"));
  EXPECT_THAT(RenderJson(c, Redact::kNothing), HasSubstr("hunter2"));
  // An unset secret is shown as empty, so the reader can tell it is unset.
  EXPECT_THAT(shown, HasSubstr(R"("password": "")"));
}

TEST(ConfigRender, SecretsAreNotEchoedInErrors) {
  std::string long_secret(2000, 'p');
  Result<AgentConfig> r =
      MergeJson(Defaults(), R"({"upstream": {"broker": {"password": ")" + long_secret + R"("}}})");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), Not(HasSubstr("ppp")));
}

TEST(ConfigBinary, TruncatedOrFlippedBytesNeverCrashAndValidResultsPassTheirChecks) {
  Result<AgentConfig> full = MergeJson(Defaults(), R"({"device_id": "gw-1",
      "upstream": {"broker": {"url": "mqtt://u:1883"}},
      "ingest": {"subscriptions": [{"topic": "a/#"}, {"topic": "b/+", "format": "number"}]}})");
  ASSERT_TRUE(full.ok());
  const std::string bytes = full->SerializeAsString();
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string mutated = bytes.substr(0, rng() % (bytes.size() + 1));
    if (!mutated.empty() && round % 2 == 0) {
      mutated[rng() % mutated.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    Result<AgentConfig> r = MergeBinary(Defaults(), mutated);
    // Whatever was accepted went through the per-key checks: only cross-key rules may fail.
    if (r.ok()) {
      Status s = Validate(r.value());
      EXPECT_TRUE(s.ok() || s.message().find("required") != std::string::npos ||
                  s.message().find("duplicates") != std::string::npos ||
                  s.message().find("would take in") != std::string::npos ||
                  s.message().find("is above upstream.backoff_max_ms") != std::string::npos ||
                  s.message().find("when") != std::string::npos ||
                  s.message().find("TLS needs") != std::string::npos)
          << s.message();
    }
  }
}

TEST(ConfigJson, TruncatedDocumentsAreErrorsNotCrashes) {
  const std::string doc = R"({"device_id": "gw-1", "store": {"quota_bytes": 2097152},
      "ingest": {"subscriptions": [{"topic": "a/#", "json_fields": {"time": "t"}}]}})";
  for (size_t n = 0; n < doc.size(); ++n) {
    EXPECT_FALSE(MergeJson(Defaults(), doc.substr(0, n)).ok()) << n;
  }
  EXPECT_TRUE(MergeJson(Defaults(), doc).ok());
}

}  // namespace
}  // namespace weir::config
