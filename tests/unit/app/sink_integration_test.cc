// `weir sink` end to end: the real binary against a real mosquitto. A test client publishes
// envelopes in both forms, including a resend, a silent hole, an explicit gap record, a defect and
// a message that is not an envelope; the sink's report must count each exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/codec/envelope_codec.h"
#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/mqtt_recorder.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir::app {
namespace {

using std::chrono::seconds;
using weir::testing::WaitFor;

constexpr int64_t kT0 = 1'700'000'000'000'000;

codec::Envelope Readings(uint64_t first, uint64_t last, uint64_t prev) {
  codec::Envelope e;
  e.device_id = "gw-9";
  e.boot_epoch = 1;
  e.lane = Lane::kReadings;
  e.first_seq = first;
  e.last_seq = last;
  e.prev_seq = prev;
  for (uint64_t s = first; s <= last; ++s) {
    e.readings.push_back({"line.temp", kT0 + static_cast<int64_t>(s) * 1000, 20.5, 0});
  }
  return e;
}

nlohmann::json ReadReport(const std::filesystem::path& path) {
  const std::string text = weir::testing::ReadFileBytes(path);
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

TEST(SinkIntegration, ReportCountsDuplicatesGapsAndDefectsFromARealBroker) {
  WEIR_START_BROKER_OR_SKIP(broker, {});
  weir::testing::TempDir dir;
  const auto report = dir / "report.json";
  const auto out = dir / "readings.jsonl";
  weir::testing::Subprocess sink({weir::testing::WeirBinary().string(), "sink", "--broker",
                                  broker->url(), "--until-idle", "3s", "--report", report.string(),
                                  "--out", out.string(), "--client-id", "sink-test", "--quiet"},
                                 dir / "sink.out", dir / "sink.err");
  ASSERT_TRUE(WaitFor([&] { return ReadReport(report).value("subscribed", false); }))
      << weir::testing::ReadFileBytes(dir / "sink.err");

  transport::MqttOptions mo;
  mo.url = broker->url();
  mo.client_id = "sink-test-publisher";
  auto client = transport::NewPahoMqttClient(mo);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  weir::testing::MqttRecorder recorder;
  (*client)->SetCallbacks(recorder.Callbacks());
  ASSERT_TRUE((*client)->Connect().ok());
  ASSERT_TRUE(WaitFor([&] { return recorder.connected() > 0; }));

  codec::Envelope gap;
  gap.device_id = "gw-9";
  gap.boot_epoch = 1;
  gap.first_seq = 41;
  gap.last_seq = 50;
  gap.prev_seq = 40;
  gap.gap = codec::EnvelopeGap{41, 50, 10, kT0, kT0, "quota"};
  codec::Envelope defect;
  defect.device_id = "gw-9";
  defect.boot_epoch = 1;
  defect.lane = Lane::kDefects;
  defect.first_seq = 60;
  defect.last_seq = 60;
  defect.defects = {Defect{}};
  defect.defects[0].sensor = "line.temp";
  defect.defects[0].detector = "auto";
  defect.defect_seqs = {60};

  struct Message {
    codec::Envelope envelope;
    codec::EnvelopeFormat format;
    const char* topic;
  };
  const std::vector<Message> messages = {
      {Readings(1, 10, 0), codec::EnvelopeFormat::kBinary, "weir/gw-9/data"},
      {Readings(11, 20, 10), codec::EnvelopeFormat::kJson, "weir/gw-9/data"},
      {Readings(11, 20, 10), codec::EnvelopeFormat::kBinary, "weir/gw-9/data"},  // resend
      {Readings(31, 40, 30), codec::EnvelopeFormat::kBinary, "weir/gw-9/data"},  // hole 21..30
      {gap, codec::EnvelopeFormat::kJson, "weir/gw-9/data"},
      {Readings(51, 55, 50), codec::EnvelopeFormat::kJson, "weir/gw-9/data"},
      {defect, codec::EnvelopeFormat::kBinary, "weir/gw-9/defects"},
  };
  int published = 0;
  for (const Message& m : messages) {
    auto bytes = codec::EncodeEnvelope(m.envelope, m.format);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    ASSERT_TRUE((*client)->Publish(m.topic, *bytes, 1, false).ok());
    ++published;
  }
  ASSERT_TRUE((*client)->Publish("weir/gw-9/data", "not an envelope", 1, false).ok());
  ++published;
  ASSERT_TRUE(WaitFor([&] { return recorder.delivered_count() == size_t(published); }));
  (void)(*client)->Disconnect(std::chrono::milliseconds(1000));

  ASSERT_EQ(sink.Wait(seconds(30)), 0) << weir::testing::ReadFileBytes(dir / "sink.err");
  const nlohmann::json r = ReadReport(report);
  ASSERT_TRUE(r.value("final", false)) << r.dump(2);
  const nlohmann::json& readings = r["lanes"]["readings"];
  EXPECT_EQ(readings["delivered"], 35) << r.dump(2);
  EXPECT_EQ(readings["duplicates"], 10);
  EXPECT_EQ(readings["silent_gaps"], 1);
  EXPECT_EQ(readings["evicted_gaps"], 1);
  EXPECT_EQ(readings["evicted_records"], 10);
  EXPECT_EQ(readings["order_violations"], 0);
  EXPECT_EQ(r["lanes"]["defects"]["delivered"], 1);
  EXPECT_EQ(r["undecodable"], 1);
  ASSERT_EQ(r["gaps"].size(), 2u);
  EXPECT_EQ(r["gaps"][0]["kind"], "evicted");
  EXPECT_EQ(r["gaps"][1]["kind"], "silent");
  EXPECT_EQ(r["gaps"][1]["first_seq"], 21);
  EXPECT_EQ(r["gaps"][1]["last_seq"], 30);

  // Every delivered record is one line of the output, duplicates excluded.
  const std::string lines = weir::testing::ReadFileBytes(out);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 36);
}

}  // namespace
}  // namespace weir::app
