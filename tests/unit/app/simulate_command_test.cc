// `weir simulate` as the real binary against a real mosquitto: every reading arrives once,
// parses, and counts up per sensor; bad flags exit 2 naming the flag.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/codec/payload_parser.h"
#include "agent/core/clock.h"
#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/mqtt_recorder.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir {
namespace {

using testing::MqttRecorder;
using testing::RunProgram;
using testing::WaitFor;
using testing::WeirBinary;

struct Subscriber {
  std::unique_ptr<MqttRecorder> recorder = std::make_unique<MqttRecorder>();
  std::unique_ptr<transport::MqttClient> client;
};

// A connected client subscribed to `filter` (QoS 1); fails the test otherwise.
void Subscribe(const std::string& url, const std::string& filter, Subscriber* sub) {
  transport::MqttOptions o;
  o.url = url;
  o.client_id = "simulate-test-sub";
  auto client = transport::NewPahoMqttClient(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  sub->client = std::move(*client);
  sub->client->SetCallbacks(sub->recorder->Callbacks());
  ASSERT_TRUE(sub->client->Connect().ok());
  ASSERT_TRUE(WaitFor([&] { return sub->recorder->connected() == 1; }));
  ASSERT_TRUE(sub->client->Subscribe({{filter, 1}}).ok());
  ASSERT_TRUE(WaitFor([&] { return sub->recorder->subscribed().size() == 1; }));
  ASSERT_TRUE(sub->recorder->subscribed()[0].ok());
}

TEST(SimulateCommand, EveryReadingArrivesOnceAndCountsUpPerSensor) {
  WEIR_START_BROKER_OR_SKIP(broker, {});
  Subscriber sub;
  ASSERT_NO_FATAL_FAILURE(Subscribe(broker->url(), "sensors/#", &sub));

  const auto result = RunProgram({WeirBinary().string(), "simulate", "--broker", broker->url(),
                                  "--sensors", "10", "--count", "2000", "--rate", "20000",
                                  "--faults", "spike,stuck,step,drift", "--fault-rate", "0.01"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("published 2000, failed 0"), std::string::npos) << result.err;
  ASSERT_TRUE(WaitFor([&] { return sub.recorder->message_count() >= 2000; }))
      << sub.recorder->message_count();

  auto parser = codec::MakeJsonParser({});
  ASSERT_TRUE(parser.ok());
  const codec::ParseContext ctx{"", SystemClock::Instance().WallMicros()};
  std::map<std::string, int64_t> last_n;
  std::set<std::pair<std::string, int64_t>> seen;
  const auto messages = sub.recorder->messages();
  EXPECT_EQ(messages.size(), 2000u);
  for (const auto& m : messages) {
    std::vector<Reading> readings;
    ASSERT_TRUE((*parser)->Parse(m.payload, ctx, &readings).ok()) << m.payload;
    ASSERT_EQ(readings.size(), 1u);
    EXPECT_EQ(m.topic, "sensors/" + readings[0].sensor);
    const int64_t n = nlohmann::json::parse(m.payload).at("n").get<int64_t>();
    EXPECT_TRUE(seen.insert({readings[0].sensor, n}).second) << "duplicate " << m.payload;
    auto [it, first] = last_n.try_emplace(readings[0].sensor, n);
    if (!first) {
      EXPECT_GT(n, it->second) << m.payload;
      it->second = n;
    }
  }
  EXPECT_EQ(last_n.size(), 10u);
}

TEST(SimulateCommand, NumberAndLinePayloadsParseWithTheirParsers) {
  WEIR_START_BROKER_OR_SKIP(broker, {});
  Subscriber sub;
  ASSERT_NO_FATAL_FAILURE(Subscribe(broker->url(), "sensors/#", &sub));
  size_t expected = 0;
  for (const std::string format : {"number", "line"}) {
    const auto result =
        RunProgram({WeirBinary().string(), "simulate", "--broker", broker->url(), "--sensors", "4",
                    "--count", "20", "--rate", "5000", "--format", format});
    ASSERT_EQ(result.exit_code, 0) << format << ": " << result.err;
    expected += 20;
    ASSERT_TRUE(WaitFor([&] { return sub.recorder->message_count() >= expected; }));
    codec::ParserConfig config;
    config.format = format;
    config.sensor_topic_segment = 1;  // sensors/<id>
    auto parser = codec::MakeParser(config);
    ASSERT_TRUE(parser.ok());
    const codec::ParseContext now{"", SystemClock::Instance().WallMicros()};
    const auto messages = sub.recorder->messages();
    for (size_t i = expected - 20; i < expected; ++i) {
      const codec::ParseContext ctx{messages[i].topic, now.now_us};
      std::vector<Reading> readings;
      ASSERT_TRUE((*parser)->Parse(messages[i].payload, ctx, &readings).ok())
          << messages[i].payload;
      ASSERT_EQ(readings.size(), 1u) << messages[i].payload;
      const std::string topic_id = messages[i].topic.substr(std::string("sensors/").size());
      EXPECT_EQ(readings[0].sensor, format == "line" ? topic_id + ".value" : topic_id);
    }
  }
}

// --batch: readings travel as JSON arrays (the last batch holds what is left of --count), every
// reading once, and the summary counts readings, not messages.
TEST(SimulateCommand, BatchesCarryEveryReadingOnceAsJsonArrays) {
  WEIR_START_BROKER_OR_SKIP(broker, {});
  Subscriber sub;
  ASSERT_NO_FATAL_FAILURE(Subscribe(broker->url(), "sensors/#", &sub));
  const auto result =
      RunProgram({WeirBinary().string(), "simulate", "--broker", broker->url(), "--sensors", "10",
                  "--count", "1020", "--rate", "50000", "--batch", "50"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("published 1020, failed 0"), std::string::npos) << result.err;
  ASSERT_TRUE(WaitFor([&] { return sub.recorder->message_count() >= 21; }));

  auto parser = codec::MakeJsonParser({});
  ASSERT_TRUE(parser.ok());
  const codec::ParseContext ctx{"", SystemClock::Instance().WallMicros()};
  std::set<std::pair<std::string, int64_t>> seen;
  const auto messages = sub.recorder->messages();
  ASSERT_EQ(messages.size(), 21u);
  for (size_t i = 0; i < messages.size(); ++i) {
    std::vector<Reading> readings;
    ASSERT_TRUE((*parser)->Parse(messages[i].payload, ctx, &readings).ok());
    EXPECT_EQ(readings.size(), i + 1 < messages.size() ? 50u : 20u);
    EXPECT_EQ(messages[i].topic, "sensors/" + readings.front().sensor);
    for (const auto& element : nlohmann::json::parse(messages[i].payload)) {
      EXPECT_TRUE(seen.insert({element.at("sensor"), element.at("n").get<int64_t>()}).second)
          << "duplicate " << element.dump();
    }
  }
  EXPECT_EQ(seen.size(), 1020u);
}

TEST(SimulateCommand, PublishingIsPacedToTheRate) {
  WEIR_START_BROKER_OR_SKIP(broker, {});
  const auto start = std::chrono::steady_clock::now();
  const auto result = RunProgram({WeirBinary().string(), "simulate", "--broker", broker->url(),
                                  "--sensors", "5", "--count", "1000", "--rate", "2000"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // 1000 readings at 2000/s cannot take less than half a second (the last is due at 0.4995 s).
  EXPECT_GE(elapsed, std::chrono::milliseconds(499));
}

TEST(SimulateCommand, SigtermStopsCleanlyAndPrintsTotals) {
  WEIR_START_BROKER_OR_SKIP(broker, {});
  Subscriber sub;
  ASSERT_NO_FATAL_FAILURE(Subscribe(broker->url(), "sensors/#", &sub));
  testing::TempDir dir;
  testing::Subprocess sim({WeirBinary().string(), "simulate", "--broker", broker->url(),
                           "--sensors", "5", "--rate", "500", "--duration", "60s"},
                          "/dev/null", dir / "err.txt");
  ASSERT_TRUE(WaitFor([&] { return sub.recorder->message_count() >= 10; }));
  sim.Signal(SIGTERM);
  EXPECT_EQ(sim.Wait(std::chrono::seconds(10)), 130);
  const std::string err = testing::ReadFileBytes(dir / "err.txt");
  EXPECT_NE(err.find("published "), std::string::npos) << err;
  EXPECT_NE(err.find("failed 0"), std::string::npos) << err;
}

TEST(SimulateCommand, DryRunWritesJsonLinesAndFaultRecords) {
  testing::TempDir dir;
  const auto result = RunProgram({WeirBinary().string(), "simulate", "--dry-run", "-o",
                                  (dir / "out.jsonl").string(), "--count", "5000", "--sensors", "5",
                                  "--faults", "dropout", "--fault-rate", "0.05", "--faults-out",
                                  (dir / "faults.jsonl").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string out = testing::ReadFileBytes(dir / "out.jsonl");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 5000);
  const std::string faults = testing::ReadFileBytes(dir / "faults.jsonl");
  ASSERT_FALSE(faults.empty());
  const auto first = nlohmann::json::parse(faults.substr(0, faults.find('\n')));
  EXPECT_EQ(first.at("kind"), "dropout");
  EXPECT_TRUE(first.contains("sensor") && first.contains("start") && first.contains("end"));
}

TEST(SimulateCommand, BadFlagsExitTwoNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--rate", "0"}, "--rate"},
      {{"--sensors", "0"}, "--sensors"},
      {{"--format", "xml"}, "--format"},
      {{"--faults", "wobble"}, "--faults"},
      {{"--duration", "soon"}, "--duration"},
      {{"--qos", "3"}, "--qos"},
      {{"--count", "5", "--duration", "1s"}, "--count"},
      {{"--batch", "0"}, "--batch"},
      {{"--batch", "1001"}, "--batch"},
      {{"--batch", "5", "--format", "number"}, "--batch"},
  };
  for (const auto& [flags, name] : cases) {
    std::vector<std::string> argv = {WeirBinary().string(), "simulate", "--broker",
                                     "mqtt://127.0.0.1:1"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const auto result = RunProgram(argv, std::chrono::seconds(10));
    EXPECT_EQ(result.exit_code, 2) << flags[0] << ": " << result.err;
    EXPECT_NE(result.err.find(name), std::string::npos) << result.err;
  }
}

}  // namespace
}  // namespace weir
