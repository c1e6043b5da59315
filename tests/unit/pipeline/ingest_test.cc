#include "agent/pipeline/ingest.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_support.h"

namespace weir::pipeline {
namespace {

using weir::testing::FakeClock;

constexpr TimeMicros kNow = 1'700'000'000'000'000;

std::shared_ptr<const codec::PayloadParser> Parser(const std::string& format) {
  codec::ParserConfig config;
  config.format = format;
  config.sensor_topic_segment = codec::kWholeTopic;
  auto parser = codec::MakeParser(config);
  EXPECT_TRUE(parser.ok());
  return std::shared_ptr<const codec::PayloadParser>(std::move(*parser));
}

class IngestTest : public ::testing::Test {
 protected:
  IngestTest() : clock_(kNow), queue_(64), ingest_(Routes(), 64 * 1024, queue_, clock_) {}
  static std::vector<IngestRoute> Routes() {
    return {{"sensors/#", Parser("json")}, {"plain/+", Parser("number")}};
  }
  IngestItem Deliver(const std::string& topic, const std::string& payload) {
    ingest_.OnMessage({topic, payload, 1, false});
    auto item = queue_.TryPop();
    EXPECT_TRUE(item.has_value());
    return item ? std::move(*item) : IngestItem{};
  }

  FakeClock clock_;
  IngestQueue queue_;
  Ingest ingest_;
};

TEST_F(IngestTest, DefaultJsonPayloadBecomesAReading) {
  IngestItem item =
      Deliver("sensors/boiler", R"({"sensor": "boiler.temp", "ts": 1700000000000, "value": 71.5})");
  ASSERT_EQ(item.readings.size(), 1u);
  EXPECT_EQ(item.readings[0].sensor, "boiler.temp");
  EXPECT_EQ(item.readings[0].time_us, 1'700'000'000'000'000);
  EXPECT_DOUBLE_EQ(item.readings[0].value, 71.5);
  EXPECT_FALSE(item.dead_letter.has_value());
  EXPECT_EQ(ingest_.readings(), 1u);
}

TEST_F(IngestTest, TheFirstMatchingRouteChoosesTheParser) {
  IngestItem item = Deliver("plain/pump", "2.5");
  ASSERT_EQ(item.readings.size(), 1u);
  EXPECT_EQ(item.readings[0].sensor, "plain/pump");
  EXPECT_EQ(item.readings[0].time_us, kNow);  // stamped at arrival
}

TEST_F(IngestTest, BadPayloadsBecomeDeadLettersWithTheirReason) {
  struct Case {
    std::string topic;
    std::string payload;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"sensors/a", "{not json", "malformed"},
      {"sensors/a", R"({"sensor": "a", "ts": 1700000000000})", "malformed"},
      {"sensors/a", R"({"sensor": "a", "ts": 1700000000000, "value": "x"})", "malformed"},
      {"plain/a", "inf", "not_finite"},
      {"sensors/a", R"({"sensor": "a", "ts": 1000, "value": 1})", "bad_time"},
      {"sensors/a", R"({"sensor": "", "ts": 1700000000000, "value": 1})", "bad_sensor"},
      {"sensors/a", std::string(70000, 'x'), "too_large"},
      {"elsewhere/a", "1", "no_route"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.code + ": " + c.payload.substr(0, 60));
    IngestItem item = Deliver(c.topic, c.payload);
    EXPECT_TRUE(item.readings.empty());
    ASSERT_TRUE(item.dead_letter.has_value());
    EXPECT_EQ(item.dead_letter->reason_code, c.code);
    EXPECT_EQ(item.dead_letter->topic, c.topic);
    EXPECT_EQ(item.dead_letter->source, "ingest");
    EXPECT_EQ(item.dead_letter->payload_bytes, c.payload.size());
    EXPECT_EQ(item.dead_letter->payload_head, c.payload.substr(0, store::kDeadLetterHeadBytes));
    EXPECT_FALSE(item.dead_letter->reason.empty());
  }
  const auto by_reason = ingest_.RejectedByReason();
  EXPECT_EQ(by_reason.at("malformed"), 3u);
  EXPECT_EQ(by_reason.at("too_large"), 1u);
  EXPECT_EQ(ingest_.rejected(), cases.size());
  EXPECT_EQ(ingest_.readings(), 0u);
}

TEST_F(IngestTest, ReloadedRoutesApplyToTheNextMessage) {
  ingest_.SetRoutes({{"other/#", Parser("number")}}, 1024);
  EXPECT_EQ(ingest_.Filters(), std::vector<std::string>{"other/#"});
  EXPECT_EQ(Deliver("sensors/a", R"({"sensor":"a","value":1})").dead_letter->reason_code,
            "no_route");
  EXPECT_EQ(Deliver("other/x", "3").readings.size(), 1u);
}

TEST_F(IngestTest, AClosedQueueCountsTheMessageAsDroppedAtShutdown) {
  queue_.Close();
  ingest_.OnMessage({"plain/a", "1", 1, false});
  EXPECT_EQ(ingest_.dropped_at_shutdown(), 1u);
}

}  // namespace
}  // namespace weir::pipeline
