// `weir run` end to end (issue 3, "How it is checked"): two real mosquitto brokers (local and
// upstream), the real binary as agent, `weir simulate` as the sensors and `weir sink` as the
// oracle. Each scenario is one test; each waits on what the programs report (status.json, the
// sink's report, the log), with deadlines, never on fixed sleeps.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/record.h"
#include "agent/store/log.h"
#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/agent_harness.h"
#include "tests/integration/mqtt_recorder.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::AgentRig;
using testing::Diagnostics;
using testing::JsonCount;
using testing::RigOptions;
using testing::SimulateArgs;
using testing::WaitFor;
using testing::WriteFileBytes;

// What the log holds in the readings lane: every reading's sequence, and the records that gap
// rows announce as evicted.
struct LogContent {
  std::vector<uint64_t> reading_seqs;  // increasing
  uint64_t evicted_records = 0;
  uint64_t encoded_bytes = 0;  // chunk blob bytes (LogStats)
};

Result<LogContent> ReadLogContent(const std::filesystem::path& path) {
  WEIR_ASSIGN_OR_RETURN(auto reader, store::LogReader::Open(path));
  LogContent content;
  uint64_t after = 0;
  for (;;) {
    store::ReadQuery q;
    q.lane = Lane::kReadings;
    q.after_seq = after;
    q.max_records = 1000;
    q.decode = false;
    q.with_blob = false;
    WEIR_ASSIGN_OR_RETURN(auto rows, reader->Read(q));
    const uint64_t before = after;
    for (const store::StoredRecord& r : rows) {
      if (r.kind == store::RecordKind::kReadings) {
        // A chunk straddling after_seq comes back whole; skip what was already counted.
        for (uint64_t s = std::max(r.first_seq, after + 1); s <= r.last_seq; ++s) {
          content.reading_seqs.push_back(s);
        }
      } else if (r.kind == store::RecordKind::kGap && r.last_seq > after) {
        content.evicted_records += r.count;
      }
      after = std::max(after, r.last_seq);
    }
    if (rows.empty() || after == before) break;
  }
  WEIR_ASSIGN_OR_RETURN(const store::LogStats stats, reader->Stats());
  content.encoded_bytes = stats.encoded_bytes;
  return content;
}

// The oracle's verdict on the readings lane: nothing lost without an explicit gap record, nothing
// out of order, nothing it could not decode or had to drop itself.
void ExpectNoHolesNoReordering(const json& report) {
  ASSERT_FALSE(report.empty()) << "the sink did not write a final report";
  const json& lane = report["lanes"]["readings"];
  EXPECT_EQ(JsonCount(lane, "/order_violations"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/silent_gaps"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/undecodable"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/queue_overflow"), 0u) << report.dump(2);
}

// ---- 1. Steady flow at several rates ----

struct Flow {
  double rate;
  int sensors;
  int seconds;
  int batch = 1;  // readings per MQTT message (JSON arrays when > 1)
};

void PrintTo(const Flow& f, std::ostream* os) {
  *os << f.rate << "/s from " << f.sensors << " sensors for " << f.seconds << " s, " << f.batch
      << " per message";
}

class AgentSteadyFlow : public ::testing::TestWithParam<Flow> {};

TEST_P(AgentSteadyFlow, EveryReadingIsDeliveredOnceAndInOrder) {
  const Flow flow = GetParam();
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();

  const uint64_t n = static_cast<uint64_t>(flow.rate) * flow.seconds;
  const auto sim =
      rig->Simulate({.count = n, .rate = flow.rate, .sensors = flow.sensors, .batch = flow.batch});
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  ASSERT_EQ(sim.published, n) << sim.err;

  ASSERT_TRUE(rig->WaitForSinkDelivered(n, seconds(30))) << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  const json& lane = report["lanes"]["readings"];
  EXPECT_EQ(JsonCount(lane, "/delivered"), n);
  EXPECT_EQ(JsonCount(lane, "/duplicates"), 0u);
  EXPECT_EQ(JsonCount(lane, "/evicted_records"), 0u);

  const json status = rig->AgentStatus();
  EXPECT_EQ(status.value("state", ""), "stopped");
  EXPECT_EQ(JsonCount(status, "/ingest/readings"), n);
  EXPECT_EQ(JsonCount(status, "/ingest/rejected"), 0u);
  EXPECT_EQ(JsonCount(status, "/store/readings_committed"), n);

  // Arrival order at the sink is sequence order, and every reading kept its sensor and value.
  const std::vector<json> readings = rig->SinkReadings();
  ASSERT_EQ(readings.size(), n);
  std::map<std::string, int64_t> last_time;
  for (size_t i = 0; i < readings.size(); ++i) {
    if (i > 0) {
      ASSERT_LT(JsonCount(readings[i - 1], "/seq"), JsonCount(readings[i], "/seq"));
    }
    // simulate stamps each sensor's readings with increasing event times.
    const std::string sensor = readings[i].value("sensor", "");
    const int64_t t = readings[i].value("time_us", int64_t{0});
    auto [it, first] = last_time.try_emplace(sensor, t);
    if (!first) {
      ASSERT_LT(it->second, t) << "sensor " << sensor << " out of order at seq "
                               << readings[i]["seq"];
      it->second = t;
    }
  }
  EXPECT_EQ(last_time.size(), static_cast<size_t>(flow.sensors));
}

INSTANTIATE_TEST_SUITE_P(
    Rates, AgentSteadyFlow,
    ::testing::Values(Flow{200, 50, 3}, Flow{2000, 200, 3}, Flow{10000, 500, 3},
                      // The throughput path: batched payloads.
                      Flow{30000, 1000, 3, 30}),
    [](const auto& p) {
      return std::to_string(static_cast<int>(p.param.rate)) + "PerSecond" +
             (p.param.batch > 1 ? "In" + std::to_string(p.param.batch) + "ReadingMessages" : "");
    });

// ---- 2. Upstream outage of 30 s while readings keep coming ----

TEST(AgentIntegration, ThirtySecondUpstreamOutageLosesAndReordersNothing) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();

  // 40 s of readings: about 1 s before the outage, 30 s during, the rest after it.
  const SimulateArgs args{.count = 20000, .rate = 500, .sensors = 50};
  auto sim = rig->SimulateInBackground(args);
  ASSERT_TRUE(rig->WaitForSinkDelivered(200, seconds(10))) << Diagnostics(*rig);

  ASSERT_TRUE(rig->upstream().Stop().ok());
  const uint64_t committed_at_cut = rig->StatusCount("/store/readings_committed");
  const bool held = testing::HoldFor(seconds(30), [&] { return rig->agent_running(); });
  ASSERT_TRUE(held) << "weir run exited during the outage" << Diagnostics(*rig);
  ASSERT_TRUE(sim->running()) << "simulate finished before the outage ended";
  // During the outage the agent kept accepting and committing, and holds a backlog.
  const json during = rig->AgentStatus();
  EXPECT_NE(during["forward"].value("upstream", ""), "connected") << during.dump(2);
  EXPECT_GT(JsonCount(during, "/store/readings_committed"), committed_at_cut + 10000)
      << during.dump(2);
  EXPECT_GT(JsonCount(during, "/forward/backlog_rows"), 0u) << during.dump(2);

  ASSERT_TRUE(rig->upstream().Restart().ok());
  const int sim_exit = sim->Wait(seconds(60));
  const auto summary = rig->SimulateSummary(sim_exit);
  ASSERT_EQ(sim_exit, 0) << summary.err;
  ASSERT_EQ(summary.published, args.count) << summary.err;

  ASSERT_TRUE(rig->WaitForSinkDelivered(args.count, seconds(60))) << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), args.count) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/evicted_records"), 0u);
  EXPECT_GE(rig->StatusCount("/forward/connection_losses"), 1u);
}

// ---- 3. SIGKILL during an outage, restart on the same state dir ----

TEST(AgentIntegration, KillDuringOutageThenRestartDeliversEverythingCommitted) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  const std::vector<std::string> flags = {"--set", "store.group_commit_interval_ms=50"};
  ASSERT_TRUE(rig->StartAgent(flags)) << rig->AgentStderr();

  auto sim = rig->SimulateInBackground({.count = 16000, .rate = 2000, .sensors = 100});
  ASSERT_TRUE(rig->WaitForSinkDelivered(500, seconds(10))) << Diagnostics(*rig);
  ASSERT_TRUE(rig->upstream().Stop().ok());
  const uint64_t at_cut = rig->StatusCount("/store/readings_committed");
  ASSERT_TRUE(WaitFor(
      [&] { return rig->StatusCount("/store/readings_committed") >= at_cut + 4000; }, seconds(15)))
      << Diagnostics(*rig);
  ASSERT_TRUE(sim->running()) << "kill while readings are still arriving";
  rig->KillAgent();

  // What the kill left committed: the guarantee covers exactly this (Paho acknowledged the last
  // group-commit interval's messages before they were committed).
  auto at_kill = ReadLogContent(rig->log_path());
  ASSERT_TRUE(at_kill.ok()) << at_kill.status().ToString();
  ASSERT_GE(at_kill->reading_seqs.size(), at_cut + 4000);

  ASSERT_TRUE(rig->StartAgent(flags)) << rig->AgentStderr();
  const int sim_exit = sim->Wait(seconds(60));
  ASSERT_EQ(sim_exit, 0) << rig->SimulateSummary(sim_exit).err;
  ASSERT_TRUE(rig->upstream().Restart().ok());

  // Everything the second run committed plus everything the first run left in the log.
  ASSERT_TRUE(WaitFor(
      [&] {
        return rig->SinkDelivered() >=
               at_kill->reading_seqs.size() + rig->StatusCount("/store/readings_committed");
      },
      seconds(60)))
      << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);

  auto final_log = ReadLogContent(rig->log_path());
  ASSERT_TRUE(final_log.ok()) << final_log.status().ToString();
  const std::vector<uint64_t> sink_seqs = rig->SinkSequences();
  const std::set<uint64_t> delivered(sink_seqs.begin(), sink_seqs.end());
  // The sink writes each (device, seq) once; a resend shows only in its duplicate counter, so
  // every duplicate it saw carried a sequence it already had.
  EXPECT_EQ(delivered.size(), sink_seqs.size());
  for (uint64_t seq : at_kill->reading_seqs) {
    ASSERT_TRUE(delivered.count(seq)) << "committed before the kill, never delivered: seq " << seq;
  }
  EXPECT_EQ(delivered,
            std::set<uint64_t>(final_log->reading_seqs.begin(), final_log->reading_seqs.end()));
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), final_log->reading_seqs.size());
  EXPECT_EQ(JsonCount(report, "/restarts"), 1u) << report.dump(2);
}

// ---- 4. Local broker restarted ----

TEST(AgentIntegration, IngestResumesOnItsOwnAfterTheLocalBrokerRestarts) {
  RigOptions options = AgentRig::DefaultOptions();
  // Without persistence the restarted broker has forgotten weir's session and subscriptions:
  // the agent must notice and subscribe again.
  options.local.persistence = false;
  WEIR_START_RIG_OR_SKIP(rig, options);
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();
  const auto first = rig->Simulate({.count = 1000, .rate = 2000, .sensors = 20});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_TRUE(rig->WaitForSinkDelivered(1000, seconds(20))) << Diagnostics(*rig);

  // status.json is rewritten once a second: wait until it shows the first 1,000.
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/ingest/readings") == 1000; }));
  const uint64_t before = 1000;

  ASSERT_TRUE(rig->local().Restart().ok());
  // Probe with single readings until one is ingested again. Probes sent before the agent
  // subscribed again go nowhere (the broker has no subscriber for them); that is not weir's loss.
  auto next_probe = std::chrono::steady_clock::now();
  uint64_t probe_seed = 100;
  const bool resumed = WaitFor(
      [&] {
        if (std::chrono::steady_clock::now() >= next_probe) {
          rig->Simulate({.count = 1,
                         .rate = 1000,
                         .sensors = 1,
                         .seed = probe_seed++,
                         .client_id = "it-probe"});
          next_probe = std::chrono::steady_clock::now() + milliseconds(250);
        }
        return rig->StatusCount("/ingest/readings") > before;
      },
      seconds(30));
  ASSERT_TRUE(resumed) << "no reading ingested within 30 s of the local broker's restart"
                       << Diagnostics(*rig);

  // From now on every reading published is delivered.
  const auto second = rig->Simulate({.count = 2000, .rate = 2000, .sensors = 20, .seed = 8});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  ASSERT_TRUE(
      WaitFor([&] { return rig->StatusCount("/ingest/readings") >= before + 2001; }, seconds(20)))
      << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const uint64_t ingested = rig->StatusCount("/ingest/readings");
  ASSERT_TRUE(rig->WaitForSinkDelivered(ingested, seconds(20))) << Diagnostics(*rig);
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), ingested);
  EXPECT_GE(ingested, 3001u);
}

// ---- 5. A flood of malformed payloads among good ones ----

struct FloodMessage {
  std::string payload;
  std::string reason_code;  // empty for a good reading
};

// 2,000 messages on sensors/flood; every tenth is bad, cycling through six kinds of bad: broken
// JSON, NaN as a string, no value, 100 KB, a time in 1970, an overflowing number.
std::vector<FloodMessage> MakeFlood() {
  const int64_t now_ms = SystemClock::Instance().WallMicros() / 1000;
  std::vector<FloodMessage> flood;
  for (int i = 0; i < 2000; ++i) {
    const std::string sensor = "\"sensor\":\"flood-" + std::to_string(i % 20) + "\"";
    const std::string ts = "\"ts\":" + std::to_string(now_ms + i);
    if (i % 10 != 9) {
      flood.push_back({"{" + sensor + "," + ts + ",\"value\":" + std::to_string(i) + "}", ""});
      continue;
    }
    const std::string tag = ",\"i\":" + std::to_string(i);  // keeps each bad payload distinct
    switch ((i / 10) % 6) {
      case 0:
        flood.push_back({"{" + sensor + tag + "," + ts + ",\"value\":", "malformed"});
        break;
      case 1:
        flood.push_back({"{" + sensor + tag + "," + ts + ",\"value\":\"NaN\"}", "malformed"});
        break;
      case 2:
        flood.push_back({"{" + sensor + tag + "," + ts + "}", "malformed"});
        break;
      case 3:
        flood.push_back({"{" + sensor + tag + "," + ts + ",\"value\":1,\"pad\":\"" +
                             std::string(100 * 1024, 'x') + "\"}",
                         "too_large"});
        break;
      case 4:
        flood.push_back({"{" + sensor + tag + ",\"ts\":1000,\"value\":1}", "bad_time"});
        break;
      case 5:
        // JSON has no NaN or infinity; the overflowing literal is refused by the JSON parser.
        flood.push_back({"{" + sensor + tag + "," + ts + ",\"value\":1e999}", "malformed"});
        break;
    }
  }
  return flood;
}

TEST(AgentIntegration, MalformedFloodIsDeadLetteredWithReasonsAndGoodReadingsAllArrive) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();

  const std::vector<FloodMessage> flood = MakeFlood();
  std::map<std::string, uint64_t> bad_by_reason;
  std::map<std::string, const FloodMessage*> bad_by_head;
  uint64_t good = 0;
  for (const FloodMessage& m : flood) {
    if (m.reason_code.empty()) {
      ++good;
    } else {
      ++bad_by_reason[m.reason_code];
      bad_by_head[m.payload.substr(0, store::kDeadLetterHeadBytes)] = &m;
    }
  }
  ASSERT_EQ(bad_by_head.size(), flood.size() - good);

  transport::MqttOptions mo;
  mo.url = rig->local().url();
  mo.client_id = "it-flood";
  auto client = transport::NewPahoMqttClient(mo);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  testing::MqttRecorder recorder;
  (*client)->SetCallbacks(recorder.Callbacks());
  ASSERT_TRUE((*client)->Connect().ok());
  ASSERT_TRUE(WaitFor([&] { return recorder.connected() > 0; }));
  for (size_t i = 0; i < flood.size(); ++i) {
    // Keep at most 50 publishes unacknowledged (the client allows 64 in flight).
    ASSERT_TRUE(WaitFor([&] { return recorder.delivered_count() + 50 > i; }));
    const auto token = (*client)->Publish("sensors/flood", flood[i].payload, 1, false);
    ASSERT_TRUE(token.ok()) << "message " << i << ": " << token.status().ToString();
  }
  ASSERT_TRUE(WaitFor([&] { return recorder.delivered_count() == flood.size(); }, seconds(30)));
  (void)(*client)->Disconnect(milliseconds(1000));

  ASSERT_TRUE(rig->WaitForSinkDelivered(good, seconds(30))) << Diagnostics(*rig);
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/ingest/rejected") >= flood.size() - good; },
                      seconds(10)))
      << Diagnostics(*rig);
  const json status = rig->AgentStatus();
  EXPECT_EQ(JsonCount(status, "/ingest/readings"), good) << status.dump(2);
  EXPECT_EQ(JsonCount(status, "/ingest/rejected"), flood.size() - good) << status.dump(2);
  for (const auto& [reason, count] : bad_by_reason) {
    EXPECT_EQ(JsonCount(status, "/ingest/rejected_by_reason/" + reason), count) << reason << "\n"
                                                                                << status.dump(2);
  }
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), good);

  // Every good reading arrived with its value (value i for message i; bad ones never do).
  std::set<int64_t> values;
  for (const json& r : rig->SinkReadings()) values.insert(r.value("value", int64_t{-1}));
  EXPECT_EQ(values.size(), good);
  for (size_t i = 0; i < flood.size(); ++i) {
    if (flood[i].reason_code.empty()) {
      ASSERT_TRUE(values.count(static_cast<int64_t>(i))) << "good reading " << i << " missing";
    }
  }

  // Every bad payload is in the dead-letter table with its reason.
  const auto letters =
      testing::RunProgram({testing::WeirBinary().string(), "log", "dead-letters", "--log",
                           rig->log_path().string(), "--json", "--limit", "0"});
  ASSERT_EQ(letters.exit_code, 0) << letters.err;
  const json dl = json::parse(letters.out, nullptr, false);
  ASSERT_TRUE(dl.is_object()) << letters.out;
  ASSERT_EQ(dl["letters"].size(), flood.size() - good) << dl["stats"].dump(2);
  std::set<std::string> seen;
  for (const json& letter : dl["letters"]) {
    EXPECT_EQ(letter.value("source", ""), "ingest");
    EXPECT_EQ(letter.value("topic", ""), "sensors/flood");
    EXPECT_FALSE(letter.value("reason", "").empty()) << letter.dump();
    const std::string head = letter.value("payload_head", "");
    const auto it = bad_by_head.find(head);
    ASSERT_NE(it, bad_by_head.end()) << "a dead letter that was not one of ours: " << letter.dump();
    EXPECT_EQ(letter.value("reason_code", ""), it->second->reason_code) << letter.dump();
    EXPECT_EQ(JsonCount(letter, "/payload_bytes"), it->second->payload.size());
    seen.insert(head);
  }
  EXPECT_EQ(seen.size(), bad_by_head.size());
  for (const auto& [reason, count] : bad_by_reason) {
    EXPECT_EQ(JsonCount(dl, "/stats/by_reason/" + reason), count) << reason;
  }
}

// ---- 6. Upstream message-size limit smaller than a batch ----

class AgentMessageSizeLimit : public ::testing::TestWithParam<std::string> {};

TEST_P(AgentMessageSizeLimit, BatchesAreSplitToFitAndNothingIsLost) {
  RigOptions options = AgentRig::DefaultOptions();
  // The upstream drops a client that sends a larger packet: one oversized batch would cut the
  // agent off (and it would resend it forever).
  options.upstream.max_packet_size = 2048 + 512;
  WEIR_START_RIG_OR_SKIP(rig, options);
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent({"--format", GetParam(), "--set", "upstream.max_message_bytes=2048",
                               "--set", "upstream.batch_readings=1000"}))
      << rig->AgentStderr();

  // A backlog first, so that the forwarder reads full batches of 1,000 readings.
  ASSERT_TRUE(rig->upstream().Stop().ok());
  const SimulateArgs args{.count = 10000, .rate = 10000, .sensors = 100};
  const auto sim = rig->Simulate(args);
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/store/readings_committed") >= args.count; },
                      seconds(20)))
      << Diagnostics(*rig);
  ASSERT_TRUE(rig->WaitForFreshStatus());
  const uint64_t losses_in_outage = rig->StatusCount("/forward/connection_losses");
  ASSERT_TRUE(rig->upstream().Restart().ok());

  ASSERT_TRUE(rig->WaitForSinkDelivered(args.count, seconds(60))) << Diagnostics(*rig);
  ASSERT_TRUE(rig->WaitForFreshStatus());
  // No message exceeded the broker's limit: it never dropped the agent after the restart.
  EXPECT_EQ(rig->StatusCount("/forward/connection_losses"), losses_in_outage) << Diagnostics(*rig);
  EXPECT_EQ(rig->StatusCount("/forward/dead_letters"), 0u);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), args.count);

  // The batches were split: at least one message per 2,048 bytes of the stored encoding (both
  // envelope forms carry at least that), and more than one per 1,000-reading batch.
  auto log = ReadLogContent(rig->log_path());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  const uint64_t envelopes = JsonCount(report, "/lanes/readings/envelopes");
  RecordProperty("envelopes", std::to_string(envelopes));
  RecordProperty("encoded_bytes", std::to_string(log->encoded_bytes));
  EXPECT_GE(envelopes, log->encoded_bytes / 2048) << "encoded bytes " << log->encoded_bytes;
  EXPECT_GT(envelopes, args.count / 1000) << "encoded bytes " << log->encoded_bytes;
}

INSTANTIATE_TEST_SUITE_P(Formats, AgentMessageSizeLimit, ::testing::Values("json", "protobuf"),
                         [](const auto& p) { return p.param; });

// ---- 7. Disk quota reached during a long outage ----

TEST(AgentIntegration, QuotaEvictOldestSendsAnExplicitGapAndNothingElseIsMissing) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent(
      {"--set", "store.quota_bytes=1048576", "--set", "store.quota_policy=evict_oldest"}))
      << rig->AgentStderr();
  ASSERT_TRUE(rig->upstream().Stop().ok());

  // Readings until the log has had to evict, then a little more.
  auto sim = rig->SimulateInBackground({.count = 2'000'000, .rate = 20000, .sensors = 200});
  auto evicted = [&] {
    auto reader = store::LogReader::Open(rig->log_path());
    if (!reader.ok()) return uint64_t{0};
    auto stats = (*reader)->Stats();
    return stats.ok() ? stats->evictions.readings_evicted : 0;
  };
  auto next_look = std::chrono::steady_clock::now();
  const bool overflowed = WaitFor(
      [&] {
        if (!sim->running()) return true;
        // Opening the log is not free: look twice a second.
        if (std::chrono::steady_clock::now() < next_look) return false;
        next_look = std::chrono::steady_clock::now() + milliseconds(500);
        return evicted() > 0;
      },
      seconds(60));
  sim->Signal(SIGTERM);
  sim->Wait(seconds(10));
  ASSERT_TRUE(overflowed && evicted() > 0)
      << "the 1 MiB quota was never reached" << Diagnostics(*rig);
  ASSERT_TRUE(rig->agent_running()) << rig->AgentStderr();

  // Every reading that simulate got acknowledged is committed (then kept or evicted).
  ASSERT_TRUE(rig->WaitForFreshStatus());
  const uint64_t ingested = rig->StatusCount("/ingest/readings");
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/store/readings_committed") == ingested; },
                      seconds(10)));
  ASSERT_TRUE(rig->upstream().Restart().ok());

  ASSERT_TRUE(WaitFor(
      [&] {
        return JsonCount(rig->SinkReport(), "/lanes/readings/delivered") +
                   JsonCount(rig->SinkReport(), "/lanes/readings/evicted_records") >=
               ingested;
      },
      seconds(60)))
      << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  const json& lane = report["lanes"]["readings"];
  EXPECT_GE(JsonCount(lane, "/evicted_gaps"), 1u) << report.dump(2);
  EXPECT_GT(JsonCount(lane, "/evicted_records"), 0u) << report.dump(2);
  // Nothing else missing: delivered plus announced-evicted is everything ingested, exactly.
  EXPECT_EQ(JsonCount(lane, "/delivered") + JsonCount(lane, "/evicted_records"), ingested)
      << report.dump(2);
  ASSERT_FALSE(report["gaps"].empty());
  EXPECT_EQ(report["gaps"][0].value("kind", ""), "evicted") << report.dump(2);
}

TEST(AgentIntegration, QuotaPauseIngestPausesThenResumesWithoutAGap) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent(
      {"--set", "store.quota_bytes=1048576", "--set", "store.quota_policy=pause_ingest"}))
      << rig->AgentStderr();
  ASSERT_TRUE(rig->upstream().Stop().ok());

  auto sim = rig->SimulateInBackground({.count = 2'000'000, .rate = 20000, .sensors = 200});
  const bool paused =
      WaitFor([&] { return !sim->running() || rig->AgentStatus()["store"].value("paused", false); },
              seconds(60));
  sim->Signal(SIGTERM);
  const int sim_exit = sim->Wait(seconds(10));
  ASSERT_TRUE(paused && rig->AgentStatus()["store"].value("paused", false))
      << "ingest never paused at the 1 MiB quota" << Diagnostics(*rig);
  // Stopped by our signal (130) or finished. `published` counts the acknowledged publishes; up to
  // simulate's in-flight window (1,000) more may have reached the broker unacknowledged.
  const auto summary = rig->SimulateSummary(sim_exit);
  ASSERT_GT(summary.published, 0u) << summary.err;
  EXPECT_EQ(summary.failed, 0u) << summary.err;
  constexpr uint64_t kSimulateInflight = 1000;

  ASSERT_TRUE(rig->upstream().Restart().ok());
  // The backlog drains, the quota frees up, ingest resumes and takes what the local broker held.
  ASSERT_TRUE(
      WaitFor([&] { return rig->AgentStatus()["forward"].value("upstream", "") == "connected"; },
              seconds(30)))
      << "the forwarder did not reconnect to the restarted upstream while ingest was paused"
      << Diagnostics(*rig);
  ASSERT_TRUE(rig->WaitForSinkDelivered(summary.published, seconds(60))) << Diagnostics(*rig);
  ASSERT_TRUE(
      WaitFor([&] { return !rig->AgentStatus()["store"].value("paused", true); }, seconds(10)));
  // Settled: nothing queued or unsent, and the sink has every committed reading.
  ASSERT_TRUE(WaitFor(
      [&] {
        const json s = rig->AgentStatus();
        return JsonCount(s, "/ingest/queue_depth") == 0 &&
               JsonCount(s, "/forward/backlog_rows") == 0 &&
               rig->SinkDelivered() == JsonCount(s, "/store/readings_committed");
      },
      seconds(30)))
      << Diagnostics(*rig);
  EXPECT_GT(rig->StatusCount("/store/paused_ms"), 0u);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json status = rig->AgentStatus();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  const json& lane = report["lanes"]["readings"];
  const uint64_t delivered = JsonCount(lane, "/delivered");
  // Nothing the broker took was lost: every acknowledged publish arrived, at most the
  // unacknowledged ones on top, and everything ingested was delivered.
  EXPECT_GE(delivered, summary.published) << report.dump(2);
  EXPECT_LE(delivered, summary.published + kSimulateInflight) << report.dump(2);
  EXPECT_EQ(delivered, JsonCount(status, "/ingest/readings")) << status.dump(2);
  EXPECT_EQ(delivered, JsonCount(status, "/store/readings_committed")) << status.dump(2);
  EXPECT_EQ(JsonCount(lane, "/evicted_gaps"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(lane, "/evicted_records"), 0u) << report.dump(2);
}

// ---- 8. Signals, the instance lock, bad flags ----

TEST(AgentIntegration, SigtermDrainsTheBacklogAndExitsZero) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();
  const auto sim = rig->Simulate({.count = 20000, .rate = 20000, .sensors = 100});
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  // SIGTERM right away, whatever is still queued or unsent.
  EXPECT_EQ(rig->StopAgent(seconds(20)), 0) << rig->AgentStderr();
  const json status = rig->AgentStatus();
  EXPECT_EQ(status.value("state", ""), "stopped") << status.dump(2);
  const uint64_t committed = JsonCount(status, "/store/readings_committed");
  EXPECT_EQ(committed, JsonCount(status, "/ingest/readings")) << status.dump(2);
  EXPECT_EQ(JsonCount(status, "/forward/backlog_rows"), 0u) << status.dump(2);

  // Everything committed was delivered before the exit (the upstream was up).
  ASSERT_TRUE(rig->WaitForSinkDelivered(committed, seconds(10))) << Diagnostics(*rig);
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), committed);
  auto log = ReadLogContent(rig->log_path());
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(log->reading_seqs.size(), committed);
}

// SIGHUP re-reads the config file and applies what is live (here a detection rule) without a
// restart; a config that does not validate is refused and the agent goes on with the old one.
TEST(AgentIntegration, SighupReloadsDetectionAndABadConfigIsRefusedWithoutStopping) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  const auto config = rig->dir() / "weir.json";
  auto write_rule = [&](const std::string& pattern, const std::string& max) {
    WriteFileBytes(config, R"({"detect": {"rules": [{"pattern": ")" + pattern +
                               R"(", "limits": {"enabled": true, "max": )" + max +
                               R"(}, "auto": {"enabled": false}}]}})");
  };
  write_rule("none-such*", "0");  // matches no simulated sensor: no defects
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent({"--config", config.string()})) << rig->AgentStderr();
  const int pid = static_cast<int>(JsonCount(rig->AgentStatus(), "/pid"));

  uint64_t published = 0;
  auto publish = [&](uint64_t seed) {
    const auto sim = rig->Simulate({.count = 500, .rate = 5000, .sensors = 50, .seed = seed});
    ASSERT_EQ(sim.exit_code, 0) << sim.err;
    published += sim.published;
    ASSERT_TRUE(rig->WaitForSinkDelivered(published, seconds(30))) << Diagnostics(*rig);
  };
  ASSERT_NO_FATAL_FAILURE(publish(1));
  ASSERT_TRUE(rig->WaitForFreshStatus());
  EXPECT_EQ(JsonCount(rig->AgentStatus(), "/detect/defects"), 0u);

  // Every simulated value is above -1e9: each of the 50 sensors raises a limits defect (the
  // hold-off keeps it to one per sensor).
  write_rule("s*", "-1e9");
  rig->SignalAgent(SIGHUP);
  ASSERT_TRUE(
      WaitFor([&] { return JsonCount(rig->AgentStatus(), "/reload/applied") == 1; }, seconds(10)))
      << Diagnostics(*rig);
  ASSERT_NO_FATAL_FAILURE(publish(2));
  ASSERT_TRUE(
      WaitFor([&] { return JsonCount(rig->AgentStatus(), "/detect/defects") >= 50; }, seconds(10)))
      << Diagnostics(*rig);

  // A value of the wrong type: refused, the agent keeps running and delivering.
  WriteFileBytes(config, R"({"detect": {"rules": [{"pattern": "s*", "limits": {"max": "hot"}}]}})");
  rig->SignalAgent(SIGHUP);
  ASSERT_TRUE(
      WaitFor([&] { return JsonCount(rig->AgentStatus(), "/reload/refused") == 1; }, seconds(10)))
      << Diagnostics(*rig);
  EXPECT_NE(rig->AgentStatus()["reload"].value("last_error", "").find("detect.rules[0].limits.max"),
            std::string::npos)
      << rig->AgentStatus().dump(2);
  EXPECT_EQ(JsonCount(rig->AgentStatus(), "/reload/applied"), 1u);
  ASSERT_NO_FATAL_FAILURE(publish(3));
  const json status = rig->AgentStatus();
  EXPECT_EQ(status.value("state", ""), "running");
  EXPECT_EQ(JsonCount(status, "/pid"), static_cast<uint64_t>(pid));

  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  const json report = rig->StopSink();
  ExpectNoHolesNoReordering(report);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), published);
  EXPECT_GE(JsonCount(report, "/lanes/defects/delivered"), 50u) << report.dump(2);
}

TEST(AgentIntegration, SecondInstanceOnTheSameStateDirExitsThree) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();
  const auto second = testing::RunProgram(rig->AgentArgv(), seconds(20));
  EXPECT_EQ(second.exit_code, 3) << second.err;
  EXPECT_FALSE(second.err.empty());
  // The first one is unharmed.
  EXPECT_TRUE(rig->agent_running());
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
}

TEST(AgentIntegration, BadFlagsExitTwoNamingTheFlag) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  struct Case {
    std::vector<std::string> extra;
    std::string named;
  };
  const std::vector<Case> cases = {
      {{"--set", "store.quota_bytes=12"}, "store.quota_bytes"},
      {{"--set", "store.quota_policy=drop"}, "store.quota_policy"},
      {{"--set", "upstream.brokr.url=mqtt://x"}, "upstream.brokr"},
      {{"--format", "xml"}, "upstream.format"},
      {{"--set", "device_id=gw/17"}, "device_id"},
      {{"--no-such-flag"}, "--no-such-flag"},
  };
  for (const Case& c : cases) {
    const auto r = testing::RunProgram(rig->AgentArgv(c.extra), seconds(20));
    EXPECT_EQ(r.exit_code, 2) << c.named << ": " << r.err;
    EXPECT_NE(r.err.find(c.named), std::string::npos) << c.named << " not named in: " << r.err;
  }
  // Nothing was started on the state dir by a refused config.
  EXPECT_FALSE(std::filesystem::exists(rig->state_dir() / "status.json"));
}

}  // namespace
}  // namespace weir
