// Detection in `weir run` through real brokers (issue 4, "How it is checked"): defects are
// published on the local defect topic as their triggering reading arrives, written to the
// defects lane and forwarded ahead of the readings after an upstream outage; `weir simulate`'s
// injected faults raise defects that reach the sink.
//
// The local-topic latency is recorded (RecordProperty, and printed) and only loosely bounded
// here: the target (p99 under 10 ms) is a performance figure, measured on a quiet machine by
// tests/bench/e2e and recorded in BENCHMARKS.md, not asserted by a timed test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "agent/codec/defect_codec.h"
#include "agent/codec/envelope_codec.h"
#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/agent_harness.h"
#include "tests/support/test_support.h"

namespace weir {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::AgentRig;
using testing::WaitFor;
using Steady = std::chrono::steady_clock;

// A Paho client for the test itself: records messages with their arrival time.
class TestClient {
 public:
  struct Message {
    std::string topic;
    std::string payload;
    Steady::time_point at;
  };

  static std::unique_ptr<TestClient> Connect(const std::string& url, const std::string& id,
                                             bool persistent) {
    auto c = std::unique_ptr<TestClient>(new TestClient());
    transport::MqttOptions o;
    o.url = url;
    o.client_id = id;
    o.clean_session = !persistent;
    o.max_inflight = 1000;
    auto client = transport::NewPahoMqttClient(o);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) return nullptr;
    c->client_ = std::move(*client);
    TestClient* raw = c.get();
    transport::MqttCallbacks cb;
    cb.on_connected = [raw](bool) { raw->connected_ = true; };
    cb.on_connection_lost = [raw](const Status&) { raw->connected_ = false; };
    cb.on_subscribed = [raw](const Status& s) { raw->subscribed_ = s.ok(); };
    cb.on_message = [raw](const transport::InboundMessage& m) {
      std::lock_guard lock(raw->mu_);
      raw->messages_.push_back({std::string(m.topic), std::string(m.payload), Steady::now()});
    };
    c->client_->SetCallbacks(std::move(cb));
    if (!c->Reconnect()) return nullptr;
    return c;
  }
  bool Reconnect() {
    if (!client_->Connect().ok()) return false;
    return WaitFor([&] { return connected_.load(); }, seconds(10));
  }
  bool Subscribe(const std::string& filter) {
    subscribed_ = false;
    if (!client_->Subscribe({{filter, 1}}).ok()) return false;
    return WaitFor([&] { return subscribed_.load(); }, seconds(10));
  }
  bool Publish(const std::string& topic, const std::string& payload) {
    return WaitFor([&] { return client_->Publish(topic, payload, 1, false).ok(); }, seconds(5));
  }
  std::vector<Message> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }

 private:
  TestClient() = default;
  std::unique_ptr<transport::MqttClient> client_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> subscribed_{false};
  mutable std::mutex mu_;
  std::vector<Message> messages_;
};

const char* kLimitsRule =
    R"(detect.rules=[{"pattern":"boiler*","limits":{"enabled":true,"max":90},)"
    R"("auto":{"enabled":false},"holdoff_s":0}])";

std::string ReadingJson(const std::string& sensor, int64_t ts_ms, double value) {
  return json{{"sensor", sensor}, {"ts", ts_ms}, {"value", value}}.dump();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

TEST(AgentDetect, DefectsArePublishedLocallyAtOnceAndForwardedAheadOfReadings) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  const std::string defects_topic = std::string("weir/") + AgentRig::kDevice + "/defects";
  auto local_sub = TestClient::Connect(rig->local().url(), "it-local-defects", false);
  ASSERT_NE(local_sub, nullptr);
  ASSERT_TRUE(local_sub->Subscribe(defects_topic));
  // Upstream observer with a persistent session, so it sees the upstream's order after a restart.
  auto up_sub = TestClient::Connect(rig->upstream().url(), "it-upstream-order", true);
  ASSERT_NE(up_sub, nullptr);
  ASSERT_TRUE(up_sub->Subscribe(std::string("weir/") + AgentRig::kDevice + "/#"));
  // Incidents off: this test wants one defect (and its latency) per hot reading.
  ASSERT_TRUE(rig->StartAgent({"--set", kLimitsRule, "--set", "detect.incident_close_after_s=0"}))
      << rig->AgentStderr();
  auto pub = TestClient::Connect(rig->local().url(), "it-sensor", false);
  ASSERT_NE(pub, nullptr);

  // The upstream is down while a boiler overheats now and then.
  ASSERT_TRUE(rig->upstream().Stop().ok());
  constexpr int kHot = 40;
  const int64_t t0_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::map<int64_t, Steady::time_point> hot_sent;  // ts of each hot reading -> publish time
  int64_t ts = t0_ms;
  for (int i = 0; i < kHot; ++i) {
    for (int k = 0; k < 9; ++k)
      ASSERT_TRUE(pub->Publish("sensors/boiler", ReadingJson("boiler.temp", ++ts, 70)));
    ++ts;
    // One defect at a time, so its latency is not queueing behind the previous one.
    const size_t seen = local_sub->messages().size();
    hot_sent[ts] = Steady::now();
    ASSERT_TRUE(pub->Publish("sensors/boiler", ReadingJson("boiler.temp", ts, 95)));
    ASSERT_TRUE(WaitFor([&] { return local_sub->messages().size() > seen; }, seconds(10)))
        << "no local defect for the hot reading " << i;
  }
  const uint64_t total_readings = static_cast<uint64_t>(kHot) * 10;
  ASSERT_TRUE(
      WaitFor([&] { return rig->StatusCount("/store/readings_committed") >= total_readings; },
              seconds(20)));

  // Every local defect names the reading that triggered it; its latency from publish to receipt.
  std::vector<double> latency_ms;
  for (const auto& m : local_sub->messages()) {
    EXPECT_EQ(m.topic, defects_topic);
    const json d = json::parse(m.payload);
    EXPECT_EQ(d["sensor"], "boiler.temp");
    const int64_t at_ms = d["detected_at_us"].get<int64_t>() / 1000;
    auto it = hot_sent.find(at_ms);
    ASSERT_NE(it, hot_sent.end()) << m.payload;
    latency_ms.push_back(std::chrono::duration<double, std::milli>(m.at - it->second).count());
  }
  ASSERT_EQ(latency_ms.size(), static_cast<size_t>(kHot));
  const double p50 = Percentile(latency_ms, 0.5), p99 = Percentile(latency_ms, 0.99);
  std::printf(
      "local defect latency (publish of the reading to receipt of the defect): p50 %.2f ms, "
      "p99 %.2f ms over %d defects\n",
      p50, p99, kHot);
  ::testing::Test::RecordProperty("local_defect_latency_p99_ms", std::to_string(p99));
  std::printf("inside the agent (message arrival to local publish): %s\n",
              rig->AgentStatus()["detect"].dump().c_str());
  // Loose bounds that still catch a regression such as Nagle's algorithm coming back (a 40 ms
  // delayed ACK on every defect; agent/transport/tcp_nodelay.h).
  EXPECT_LT(p50, 20.0) << "local defects are far slower than their target (p99 10 ms)";
  EXPECT_LT(p99, 1000.0);
  EXPECT_EQ(rig->AgentStatus()["detect"].value("published_local", 0), static_cast<uint64_t>(kHot));

  // Upstream back: the defects lane goes first.
  ASSERT_TRUE(rig->upstream().Restart().ok());
  ASSERT_TRUE(up_sub->Reconnect());
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/forward/readings_acked") >= total_readings; },
                      seconds(30)));
  ASSERT_TRUE(WaitFor(
      [&] {
        size_t readings = 0;
        for (const auto& m : up_sub->messages()) readings += m.topic.ends_with("/data") ? 1 : 0;
        return readings > 0;
      },
      seconds(10)));
  // The data lanes only: fleet control's status and reported state share the prefix.
  std::vector<TestClient::Message> upstream;
  for (const auto& m : up_sub->messages()) {
    if (m.topic == defects_topic || m.topic.ends_with("/data")) upstream.push_back(m);
  }
  ASSERT_FALSE(upstream.empty());
  EXPECT_EQ(upstream.front().topic, defects_topic) << "the first message after the outage";
  EXPECT_EQ(rig->StatusCount("/forward/defects_acked"), static_cast<uint64_t>(kHot));
}

TEST(AgentDetect, SimulatedFaultsRaiseDefectsThatReachTheSink) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent());  // default detection: `auto` on every sensor
  testing::SimulateArgs args;
  args.count = 30000;
  args.rate = 5000;
  args.sensors = 20;
  args.faults = "spike,stuck,drift";
  args.fault_rate = 0.005;
  auto result = rig->Simulate(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ASSERT_TRUE(rig->WaitForSinkDelivered(args.count, seconds(60)));
  ASSERT_TRUE(
      WaitFor([&] { return rig->StatusCount("/store/defects_committed") > 0; }, seconds(10)))
      << "injected faults raised no defect";
  ASSERT_TRUE(WaitFor(
      [&] {
        return testing::JsonCount(rig->SinkReport(), "/lanes/defects/delivered") ==
               rig->StatusCount("/store/defects_committed");
      },
      seconds(20)));
  EXPECT_EQ(testing::JsonCount(rig->SinkReport(), "/lanes/defects/order_violations"), 0u);
  EXPECT_EQ(testing::JsonCount(rig->SinkReport(), "/lanes/readings/order_violations"), 0u);
}

// Issue 14: a multivariate group in `weir run`. Three sensors of machine m1 follow one factor;
// after learning, m1.c runs against it (a broken correlation, every value within its range).
// The group's incident reaches the local defect topic and the upstream as an `open` and a
// `close` record with the same id, the open one naming m1.c first; status counts it.
TEST(AgentDetect, AGroupIncidentOpensAndClosesLocallyAndUpstream) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  const std::string defects_topic = std::string("weir/") + AgentRig::kDevice + "/defects";
  auto local_sub = TestClient::Connect(rig->local().url(), "it-local-group", false);
  ASSERT_NE(local_sub, nullptr);
  ASSERT_TRUE(local_sub->Subscribe(defects_topic));
  auto up_sub = TestClient::Connect(rig->upstream().url(), "it-upstream-group", false);
  ASSERT_NE(up_sub, nullptr);
  ASSERT_TRUE(up_sub->Subscribe(defects_topic));
  ASSERT_TRUE(rig->StartAgent(
      {"--set",
       R"(detect.groups=[{"name":"m1","sensors":"m1.*","interval_ms":100,"staleness_ms":500,)"
       R"("learn_rows":60}])",
       "--set", "detect.incident_close_after_s=1", "--set",
       R"(detect.rules=[{"pattern":"m1.*","auto":{"enabled":false}}])"}))
      << rig->AgentStderr();
  auto pub = TestClient::Connect(rig->local().url(), "it-machine", false);
  ASSERT_NE(pub, nullptr);

  // 10 rows/s in real time (event time = wall time, as a live machine): 8 s learning and
  // normal, 2 s broken, 3 s normal again.
  std::mt19937_64 rng(17);
  std::normal_distribution<double> noise(0, 0.05);
  const auto start = Steady::now();
  const int64_t t0_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (int i = 0; i < 130; ++i) {
    std::this_thread::sleep_until(start + milliseconds(100 * i));  // pacing the machine
    const double f = std::sin(i / 5.0) + 0.3 * noise(rng) * 6;
    const bool broken = i >= 80 && i < 100;
    const int64_t ts = t0_ms + 100 * i;
    ASSERT_TRUE(pub->Publish("sensors/m1", ReadingJson("m1.a", ts, f + noise(rng))));
    ASSERT_TRUE(pub->Publish("sensors/m1", ReadingJson("m1.b", ts, 2 * f + 10 + noise(rng))));
    ASSERT_TRUE(
        pub->Publish("sensors/m1", ReadingJson("m1.c", ts, (broken ? -f : f) + noise(rng))));
  }
  auto group_records = [&](const std::vector<TestClient::Message>& ms) {
    std::vector<json> out;
    for (const auto& m : ms) {
      const json d = json::parse(m.payload, nullptr, false);
      if (d.is_object() && d.value("sensor", "") == "m1") out.push_back(d);
    }
    return out;
  };
  ASSERT_TRUE(
      WaitFor([&] { return group_records(local_sub->messages()).size() >= 2; }, seconds(20)))
      << "local group records: " << group_records(local_sub->messages()).size();
  const std::vector<json> local = group_records(local_sub->messages());
  ASSERT_EQ(local.size(), 2u) << local.back().dump();
  EXPECT_EQ(local[0]["phase"], "open");
  EXPECT_EQ(local[1]["phase"], "close");
  EXPECT_EQ(local[0]["incident_id"], local[1]["incident_id"]);
  EXPECT_EQ(local[0]["detector"], "m1.mspc");
  ASSERT_FALSE(local[0]["contributions"].empty());
  EXPECT_EQ(local[0]["contributions"][0]["sensor"], "m1.c") << local[0].dump();
  const int64_t opened_ms = local[0]["detected_at_us"].get<int64_t>() / 1000;
  EXPECT_GE(opened_ms, t0_ms + 8000) << "not before the break";

  // Upstream: the same two records in defects envelopes.
  std::vector<Defect> upstream;
  ASSERT_TRUE(WaitFor(
      [&] {
        upstream.clear();
        for (const auto& m : up_sub->messages()) {
          auto e = codec::DecodeEnvelope(m.payload);
          if (!e.ok()) continue;
          for (const Defect& d : e->defects) {
            if (d.sensor == "m1") upstream.push_back(d);
          }
        }
        return upstream.size() >= 2;
      },
      seconds(20)));
  ASSERT_EQ(upstream.size(), 2u);
  EXPECT_EQ(upstream[0].phase, IncidentPhase::kOpen);
  EXPECT_EQ(upstream[1].phase, IncidentPhase::kClose);
  EXPECT_EQ(upstream[0].incident_id, upstream[1].incident_id);
  EXPECT_EQ(codec::FormatIncidentId(upstream[0].incident_id), local[0]["incident_id"]);
  EXPECT_EQ(upstream[0].contributions.at(0).sensor, "m1.c");
  ASSERT_TRUE(
      WaitFor([&] { return rig->StatusCount("/detect/incidents_closed") >= 1; }, seconds(10)));
  EXPECT_EQ(rig->StatusCount("/detect/incidents_open"), 0u);
}

}  // namespace
}  // namespace weir
