// Issue 10, items 4 and 6, end to end with the real binary and real mosquitto brokers:
//  - a wiped state directory starts a new log with a new log id, and the sink receives the new
//    log's readings (whose sequences restart at 1) as new data, none dropped as duplicates;
//  - an upstream (MQTT 5) that refuses one message in the middle of a lane (mosquitto's
//    message_size_limit: 2.0.11 answers such a PUBLISH with PUBACK reason 0x95 and keeps the
//    connection): the sink's output is in order, the refused reading arrives as a "rejected" gap
//    in its place, everything else is delivered, and the whole message is in the dead letters.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/codec/envelope_codec.h"
#include "agent/core/clock.h"
#include "agent/store/log.h"
#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/agent_harness.h"
#include "tests/integration/mqtt_recorder.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::AgentRig;
using testing::JsonCount;
using testing::RigOptions;
using testing::SimulateArgs;
using testing::WaitFor;

// `weir log stats --json` of the agent's log.
json LogStats(const AgentRig& rig) {
  const auto r = testing::RunProgram(
      {testing::WeirBinary().string(), "log", "stats", "--log", rig.log_path().string(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json::object() : j;
}

TEST(UpstreamIdentityFault, AWipedStateDirectoryStartsANewLogWhoseReadingsAreNotDuplicates) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();
  SimulateArgs first;
  first.count = 500;
  first.rate = 2000;
  first.client_id = "it-sim-1";
  ASSERT_EQ(rig->Simulate(first).published, 500u);
  ASSERT_TRUE(rig->WaitForSinkDelivered(500, seconds(30))) << rig->SinkReport().dump(2);
  const std::string old_id = LogStats(*rig).value("log_id", "");
  ASSERT_EQ(old_id.size(), 32u);
  EXPECT_EQ(rig->AgentStatus().value("log_id", ""), old_id);  // status.json names it too
  ASSERT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();

  // The SD card is replaced: nothing of the state directory survives (log, .seq, boot epoch).
  for (const auto& entry : std::filesystem::directory_iterator(rig->state_dir())) {
    std::filesystem::remove_all(entry.path());
  }
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();
  const std::string new_id = LogStats(*rig).value("log_id", "");
  ASSERT_EQ(new_id.size(), 32u);
  EXPECT_NE(new_id, old_id);
  SimulateArgs second = first;
  second.count = 300;
  second.seed = 8;
  second.client_id = "it-sim-2";
  ASSERT_EQ(rig->Simulate(second).published, 300u);
  ASSERT_TRUE(rig->WaitForSinkDelivered(800, seconds(30))) << rig->SinkReport().dump(2);
  ASSERT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();

  const json report = rig->StopSink();
  ASSERT_FALSE(report.empty());
  const json& lane = report["lanes"]["readings"];
  EXPECT_EQ(JsonCount(lane, "/delivered"), 800u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/duplicates"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/silent_gaps"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/order_violations"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/devices"), 1u);
  EXPECT_EQ(JsonCount(report, "/logs"), 2u);
  // Each log's readings, in its own sequence space from 1.
  std::map<std::string, std::vector<uint64_t>> by_log;
  for (const json& r : rig->SinkReadings()) {
    by_log[r.value("log_id", "")].push_back(JsonCount(r, "/seq"));
  }
  ASSERT_EQ(by_log.size(), 2u);
  ASSERT_EQ(by_log[old_id].size(), 500u);
  ASSERT_EQ(by_log[new_id].size(), 300u);
  EXPECT_EQ(by_log[old_id].front(), 1u);
  EXPECT_EQ(by_log[new_id].front(), 1u);  // the same sequences again, and not duplicates
}

// A sensor id of `n` bytes that zstd cannot shrink much (so its one-reading envelope stays
// above the broker's limit).
std::string IncompressibleSensor(size_t n) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:";
  std::string s = "big/";
  uint32_t x = 2463534242u;
  while (s.size() < n) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s.push_back(kChars[x % (sizeof(kChars) - 1)]);
  }
  return s;
}

std::string JsonReading(const std::string& sensor, int64_t time_us, double value) {
  return json{{"sensor", sensor}, {"ts", static_cast<double>(time_us) / 1000.0}, {"value", value}}
      .dump();
}

// Publishes `payloads` to the local broker at QoS 1, in order, and waits for every PUBACK.
void PublishInOrder(AgentRig& rig, const std::vector<std::string>& payloads) {
  transport::MqttOptions o;
  o.url = rig.local().url();
  o.client_id = "it-refusal-sensors";
  o.max_inflight = 1;  // one at a time: the local broker keeps the order exactly
  auto client = transport::NewPahoMqttClient(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  testing::MqttRecorder recorder;
  (*client)->SetCallbacks(recorder.Callbacks());
  ASSERT_TRUE((*client)->Connect().ok());
  ASSERT_TRUE(WaitFor([&] { return recorder.connected() > 0; }));
  for (size_t i = 0; i < payloads.size(); ++i) {
    ASSERT_TRUE(WaitFor([&] { return (*client)->InflightCount() == 0; }));
    auto token = (*client)->Publish("sensors/it", payloads[i], 1, false);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
  }
  ASSERT_TRUE(WaitFor([&] { return (*client)->InflightCount() == 0; }));
  ASSERT_TRUE((*client)->Disconnect(milliseconds(1000)).ok());
}

// The refusal scenario. `drop_after_refusal`: keep the harness's "max_queued_messages 0", with
// which mosquitto 2.0.11 drops the connection of an MQTT 5 client right after sending it a
// PUBACK with reason 0x95 (checked by hand with mosquitto_pub -V 5 -d); without it the broker
// refuses and keeps the connection.
void RunRefusalScenario(bool drop_after_refusal) {
  RigOptions options = AgentRig::DefaultOptions();
  if (!drop_after_refusal) options.upstream.extra_config = {"max_queued_messages 1000000"};
  // Normal one-reading envelopes are ~100 bytes; the big one is ~350.
  options.upstream.extra_config.push_back("message_size_limit 200");
  WEIR_START_RIG_OR_SKIP(rig, options);
  // Reconnects after refusals take about 2 s each here: a window that outlasts three of them.
  ASSERT_TRUE(rig->StartSink({"--reorder-window", "30s"}));
  ASSERT_TRUE(rig->StartAgent({"--set", "upstream.broker.mqtt_version=5", "--set",
                               "upstream.batch_readings=1", "--set", "upstream.max_attempts=3"}))
      << rig->AgentStderr();
  const int64_t t0 = SystemClock::Instance().WallMicros() - 60'000'000;
  const std::string big = IncompressibleSensor(256);
  std::vector<std::string> payloads;
  for (int i = 0; i < 401; ++i) {
    const std::string sensor = i == 200 ? big : "it/s" + std::to_string(i % 7);
    payloads.push_back(JsonReading(sensor, t0 + i * 1000, i));
  }
  PublishInOrder(*rig, payloads);
  ASSERT_TRUE(WaitFor(
      [&] {
        return rig->SinkDelivered() >= 400 &&
               JsonCount(rig->SinkReport(), "/lanes/readings/rejected_records") >= 1;
      },
      seconds(60)))
      << rig->SinkReport().dump(2) << rig->AgentStderr() << rig->upstream().LogTail();
  ASSERT_TRUE(rig->WaitForFreshStatus());
  ASSERT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ASSERT_FALSE(report.empty());
  // What overtook the refused message (already in flight behind it) and was put back in order.
  ::testing::Test::RecordProperty("reorder", report["reorder"].dump());
  std::cout << "sink reorder: " << report["reorder"].dump() << "\n";
  const json& lane = report["lanes"]["readings"];
  EXPECT_EQ(JsonCount(lane, "/delivered"), 400u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/rejected_records"), 1u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/silent_gaps"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/order_violations"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/reorder/holding"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/reorder/released_unfilled"), 0u) << report.dump(2);
  ASSERT_EQ(report["gaps"].size(), 1u) << report.dump(2);
  const json& gap = report["gaps"][0];
  EXPECT_EQ(gap.value("kind", ""), "rejected");
  const uint64_t gap_seq = JsonCount(gap, "/first_seq");
  EXPECT_EQ(JsonCount(gap, "/last_seq"), gap_seq);

  // The sink's output: every other reading, in sequence order, the refused one missing exactly
  // where the gap says.
  std::vector<uint64_t> seqs = rig->SinkSequences();
  ASSERT_EQ(seqs.size(), 400u);
  for (size_t i = 1; i < seqs.size(); ++i) ASSERT_LT(seqs[i - 1], seqs[i]) << "at " << i;
  EXPECT_EQ(std::count(seqs.begin(), seqs.end(), gap_seq), 0);
  std::set<std::string> sensors;
  for (const json& r : rig->SinkReadings()) sensors.insert(r.value("sensor", ""));
  EXPECT_EQ(sensors.count(big), 0u);

  // The whole refused message is in the dead letters.
  auto reader = store::LogReader::Open(rig->log_path());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto letters = (*reader)->ReadDeadLetters(0, 100);
  ASSERT_TRUE(letters.ok()) << letters.status().ToString();
  ASSERT_EQ(letters->size(), 1u);
  const store::DeadLetter& letter = (*letters)[0].letter;
  EXPECT_EQ(letter.source, "upstream");
  EXPECT_EQ(letter.reason_code, "rejected");
  EXPECT_EQ(letter.payload_head.size(), letter.payload_bytes);
  EXPECT_GT(letter.payload_bytes, 200u);
  auto kept = codec::DecodeEnvelope(letter.payload_head);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_EQ(kept->readings.size(), 1u);
  EXPECT_EQ(kept->readings[0].sensor, big);
  EXPECT_EQ(kept->first_seq, gap_seq);
}

TEST(UpstreamIdentityFault, ARefusedMessageArrivesAsARejectedGapInOrderAndIsKeptWhole) {
  RunRefusalScenario(/*drop_after_refusal=*/false);
}

TEST(UpstreamIdentityFault, ABrokerThatDropsTheConnectionAfterRefusingStillEndsInARejectedGap) {
  RunRefusalScenario(/*drop_after_refusal=*/true);
}

}  // namespace
}  // namespace weir
