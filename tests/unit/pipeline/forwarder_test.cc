// The forwarder with the real store thread over a real log file, and the fake MQTT client
// playing the upstream broker: order, the in-flight window, in-order acks, resends after a
// connection loss and a restart, rejections, defects first, splitting under a size cap.
#include "agent/pipeline/forwarder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>

#include "agent/codec/envelope_codec.h"
#include "agent/pipeline/store_stage.h"
#include "tests/support/fake_mqtt_client.h"
#include "tests/support/test_support.h"

namespace weir::pipeline {
namespace {

using weir::testing::FakeMqttClient;
using weir::testing::TempDir;
using weir::testing::WaitFor;

constexpr TimeMicros kT0 = 1'700'000'000'000'000;

class ForwarderTest : public ::testing::Test {
 protected:
  ~ForwarderTest() override { StopAll(); }

  void Start(ForwarderSettings settings = {}, DetectHook* detect = nullptr) {
    store::LogOptions lo;
    lo.path = dir_ / "log.db";
    lo.commit_interval = std::chrono::milliseconds(2);
    lo.synchronous = store::Synchronous::kNormal;
    auto log = store::Log::Open(lo, SystemClock::Instance());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_id_ = (*log)->log_id();
    queue_ = std::make_unique<IngestQueue>(1024);
    auto stage =
        StoreStage::Start(std::move(*log), *queue_, {}, SystemClock::Instance(), detect, [this] {
          if (Forwarder* f = forwarder_ptr_.load()) f->NotifyCommitted();
        });
    ASSERT_TRUE(stage.ok()) << stage.status().ToString();
    stage_ = std::move(*stage);
    client_ = std::make_unique<FakeMqttClient>(1024);
    ForwarderOptions fo;
    fo.device_id = "gw";
    fo.log_id = log_id_;
    fo.boot_epoch = 1;
    fo.data_topic = "weir/gw/data";
    fo.defects_topic = "weir/gw/defects";
    fo.log_path = lo.path;
    fo.settings = settings;
    // The fake broker is reachable at once; tests do not wait out a fleet's reconnect spread.
    fo.settings.reconnect = {std::chrono::milliseconds(1), std::chrono::milliseconds(2),
                             std::chrono::milliseconds(0), std::chrono::milliseconds(10)};
    auto f = Forwarder::Start(fo, *client_, *stage_, SystemClock::Instance());
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    forwarder_ = std::move(*f);
    forwarder_ptr_.store(forwarder_.get());
  }

  void StopAll() {
    forwarder_ptr_.store(nullptr);
    if (forwarder_) forwarder_->Stop(std::chrono::milliseconds(10));
    forwarder_.reset();
    if (stage_) {
      EXPECT_TRUE(stage_->Stop().ok());
    }
    stage_.reset();
    client_.reset();
  }

  void Connect() {
    ASSERT_TRUE(WaitFor([&] { return client_->connecting(); }));
    ASSERT_TRUE(client_->CompleteConnect());
  }

  // Queues `n` readings (one message each) and waits until they are committed.
  // Commits `n` readings as one message, so they land in one chunk however busy the machine is
  // (one item per reading let a loaded store thread commit a short first chunk, and tests that
  // count on messages of batch_readings each saw other ranges).
  void Feed(int n, double value = 1.0) {
    const uint64_t before = stage_->counters().readings_committed;
    IngestItem item;
    for (int i = 0; i < n; ++i) {
      item.readings.push_back({"s", kT0 + fed_ * 1000, value + fed_, 0});
      ++fed_;
    }
    ASSERT_TRUE(queue_->Push(std::move(item)).ok());
    ASSERT_TRUE(WaitFor([&] {
      return stage_->counters().readings_committed == before + static_cast<uint64_t>(n);
    }));
  }

  std::vector<codec::Envelope> Decoded() const {
    std::vector<codec::Envelope> out;
    for (const auto& p : client_->published()) {
      auto e = codec::DecodeEnvelope(p.payload);
      EXPECT_TRUE(e.ok()) << e.status().ToString();
      if (e.ok()) out.push_back(std::move(*e));
    }
    return out;
  }

  // Acknowledges every pending publish until `readings` sequences of the readings lane are acked.
  void AckUntilAcked(uint64_t seq) {
    ASSERT_TRUE(WaitFor([&] {
      client_->AckAll();
      return stage_->acked(Lane::kReadings) >= seq;
    })) << "acked "
        << stage_->acked(Lane::kReadings);
  }

  // The envelope published with `token`.
  codec::Envelope PublishedEnvelope(transport::PublishToken token) const {
    for (const auto& p : client_->published()) {
      if (p.token != token) continue;
      auto e = codec::DecodeEnvelope(p.payload);
      EXPECT_TRUE(e.ok()) << e.status().ToString();
      return e.ok() ? *e : codec::Envelope();
    }
    ADD_FAILURE() << "no message with token " << token;
    return {};
  }

  // Waits until a message published after the first `after` messages covers `first_seq`, and
  // returns its token (0 on timeout).
  transport::PublishToken WaitForPublished(size_t after, uint64_t first_seq) const {
    transport::PublishToken token = 0;
    WaitFor([&] {
      const auto published = client_->published();
      for (size_t i = after; i < published.size(); ++i) {
        auto e = codec::DecodeEnvelope(published[i].payload);
        if (e.ok() && e->first_seq == first_seq) token = published[i].token;
      }
      return token != 0;
    });
    return token;
  }

  std::vector<store::StoredDeadLetter> DeadLetters() {
    auto reader = store::LogReader::Open(dir_ / "log.db");
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return {};
    auto letters = (*reader)->ReadDeadLetters(0, 100);
    EXPECT_TRUE(letters.ok()) << letters.status().ToString();
    return letters.ok() ? *letters : std::vector<store::StoredDeadLetter>{};
  }

  TempDir dir_;
  LogId log_id_;
  std::unique_ptr<IngestQueue> queue_;
  std::unique_ptr<StoreStage> stage_;
  std::unique_ptr<FakeMqttClient> client_;
  std::unique_ptr<Forwarder> forwarder_;
  std::atomic<Forwarder*> forwarder_ptr_{nullptr};
  int64_t fed_ = 0;
};

ForwarderSettings Small(int inflight, size_t batch) {
  ForwarderSettings s;
  s.max_inflight = inflight;
  s.batch_readings = batch;
  s.backoff = {std::chrono::milliseconds(1), std::chrono::milliseconds(5)};
  return s;
}

// Checks that envelopes of one lane form one contiguous, ordered chain from prev_seq 0.
void ExpectContiguousReadings(const std::vector<codec::Envelope>& envelopes, uint64_t last) {
  uint64_t expect_prev = 0;
  for (const auto& e : envelopes) {
    if (e.lane != Lane::kReadings) continue;
    EXPECT_EQ(e.prev_seq, expect_prev);
    EXPECT_EQ(e.first_seq, expect_prev + 1);
    EXPECT_EQ(e.readings.size(), e.last_seq - e.first_seq + 1);
    for (size_t i = 0; i < e.readings.size(); ++i) {
      // Reading n (0-based) has value 1 + n and sequence n + 1 (no defects in these tests).
      EXPECT_DOUBLE_EQ(e.readings[i].value, static_cast<double>(e.first_seq + i));
    }
    expect_prev = e.last_seq;
  }
  EXPECT_EQ(expect_prev, last);
}

TEST_F(ForwarderTest, ForwardsCommittedReadingsInOrderAndMovesTheCursorOnAcks) {
  Start(Small(4, 100));
  Feed(1000);
  Connect();
  AckUntilAcked(1000);
  auto envelopes = Decoded();
  // One envelope per stored chunk (chunks follow the group commits), at most 100 readings each.
  ASSERT_GE(envelopes.size(), 10u);
  ASSERT_FALSE(log_id_.empty());
  for (const auto& e : envelopes) {
    EXPECT_LE(e.readings.size(), 100u);
    EXPECT_EQ(e.device_id, "gw");
    EXPECT_EQ(e.log_id, log_id_);  // the identity of this log, in every envelope
    EXPECT_EQ(e.boot_epoch, 1u);
  }
  ExpectContiguousReadings(envelopes, 1000);
  for (const auto& p : client_->published()) {
    EXPECT_EQ(p.topic, "weir/gw/data");
    EXPECT_EQ(p.qos, 1);
  }
  EXPECT_EQ(forwarder_->counters().readings_acked, 1000u);
}

TEST_F(ForwarderTest, TheInflightWindowBoundsUnacknowledgedMessages) {
  Start(Small(3, 10));
  Feed(100);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->published().size() == 3; }));
  EXPECT_EQ(client_->pending().size(), 3u);
  ASSERT_TRUE(client_->Ack(client_->pending().front()));
  ASSERT_TRUE(WaitFor([&] { return client_->published().size() == 4; }));
  EXPECT_EQ(client_->pending().size(), 3u);
}

TEST_F(ForwarderTest, TheCursorAdvancesOnlyOverAPrefixOfAcknowledgedMessages) {
  Start(Small(4, 10));
  Feed(40);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->pending().size() == 4; }));
  const auto pending = client_->pending();
  ASSERT_TRUE(client_->Ack(pending[1]));
  ASSERT_TRUE(client_->Ack(pending[2]));
  ASSERT_TRUE(WaitFor([&] { return forwarder_->counters().messages_acked == 2; }));
  EXPECT_EQ(stage_->acked(Lane::kReadings), 0u);  // message 1 is still out
  ASSERT_TRUE(client_->Ack(pending[0]));
  ASSERT_TRUE(WaitFor([&] { return stage_->acked(Lane::kReadings) == 30; }));
}

TEST_F(ForwarderTest, AfterAConnectionLossEverythingUnacknowledgedIsResentInOrder) {
  Start(Small(5, 10));
  Feed(50);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->pending().size() == 5; }));
  const auto pending = client_->pending();
  ASSERT_TRUE(client_->Ack(pending[0]));
  ASSERT_TRUE(client_->Ack(pending[1]));
  ASSERT_TRUE(WaitFor([&] { return stage_->acked(Lane::kReadings) == 20; }));
  ASSERT_TRUE(client_->DropConnection());
  const size_t before = client_->published().size();
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->published().size() >= before + 3; }));
  auto resent = codec::DecodeEnvelope(client_->published()[before].payload);
  ASSERT_TRUE(resent.ok());
  EXPECT_EQ(resent->first_seq, 21u);
  EXPECT_EQ(resent->prev_seq, 20u);
  AckUntilAcked(50);
  // What the upstream acknowledged, in order, is the whole range exactly once.
  auto all = Decoded();
  std::vector<codec::Envelope> acked(all.begin(), all.begin() + 2);
  acked.insert(acked.end(), all.begin() + static_cast<ptrdiff_t>(before), all.end());
  ExpectContiguousReadings(acked, 50);
  EXPECT_GE(forwarder_->counters().resends, 3u);
}

TEST_F(ForwarderTest, ARestartResendsFromThePersistedCursor) {
  Start(Small(2, 10));
  Feed(30);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->pending().size() == 2; }));
  for (auto token : client_->pending()) ASSERT_TRUE(client_->Ack(token));
  ASSERT_TRUE(WaitFor([&] { return stage_->acked(Lane::kReadings) == 20; }));
  StopAll();  // the store persists the ack at its last commit

  Start(Small(2, 10));
  Connect();
  ASSERT_TRUE(WaitFor([&] { return !client_->published().empty(); }));
  auto first = codec::DecodeEnvelope(client_->published()[0].payload);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->first_seq, 21u);
  EXPECT_EQ(first->last_seq, 30u);
}

TEST_F(ForwarderTest, ARefusedMessageNarrowsItsLaneToItselfUntilItIsAccepted) {
  Start(Small(4, 10));
  Feed(60);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->pending().size() == 4; }));
  // Four messages in flight. Their ranges depend on how the store grouped its commits (under
  // load the first chunk may be short), so the test reads them instead of assuming 1..10 etc.
  const auto first = client_->pending();
  const codec::Envelope refused = PublishedEnvelope(first[1]);
  const uint64_t first_acked = PublishedEnvelope(first[0]).last_seq;
  const uint64_t last_in_flight = PublishedEnvelope(first[3]).last_seq;
  const size_t sent_before = client_->published().size();
  ASSERT_TRUE(client_->Ack(first[1], FailedPrecondition("broker: not authorized")));
  // What was already in flight behind it may overtake it; nothing new is published meanwhile.
  ASSERT_TRUE(client_->Ack(first[0]));
  ASSERT_TRUE(client_->Ack(first[2]));
  ASSERT_TRUE(client_->Ack(first[3]));
  const transport::PublishToken retry = WaitForPublished(sent_before, refused.first_seq);
  ASSERT_NE(retry, 0u);
  ASSERT_TRUE(WaitFor([&] { return stage_->acked(Lane::kReadings) == first_acked; }));
  EXPECT_EQ(client_->published().size(), sent_before + 1);  // the retry alone
  EXPECT_EQ(client_->pending(), std::vector<transport::PublishToken>{retry});
  const codec::Envelope again = PublishedEnvelope(retry);
  EXPECT_EQ(again.first_seq, refused.first_seq);
  EXPECT_EQ(again.last_seq, refused.last_seq);
  EXPECT_EQ(again.prev_seq, first_acked);  // what a consumer holding the overtakers waits for
  // Accepted: the cursor jumps over what overtook it and the window opens again.
  ASSERT_TRUE(client_->Ack(retry));
  ASSERT_TRUE(WaitFor([&] { return stage_->acked(Lane::kReadings) >= last_in_flight; }));
  AckUntilAcked(60);
  const auto all = Decoded();
  std::set<uint64_t> ranges;
  for (const codec::Envelope& e : all) ranges.insert(e.first_seq);
  for (size_t i = sent_before + 1; i < all.size(); ++i) EXPECT_GT(all[i].first_seq, last_in_flight);
  const auto c = forwarder_->counters();
  EXPECT_EQ(c.rejections, 1u);
  EXPECT_EQ(c.dead_letters, 0u);
  EXPECT_EQ(c.readings_acked, 60u);  // every reading once: nothing behind it was sent twice
  EXPECT_EQ(client_->published().size(), ranges.size() + 1);  // each range once, plus the retry
}

TEST_F(ForwarderTest, AfterMaxAttemptsTheRefusedRangeGoesUpAsARejectedGapAndItsMessageIsKept) {
  ForwarderSettings s = Small(4, 10);
  s.max_attempts = 2;
  s.format = codec::EnvelopeFormat::kJson;  // 10 readings: well over 256 bytes
  Start(s);
  Feed(30);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->pending().size() == 3; }));
  const auto first = client_->pending();
  const std::string refused_bytes = client_->published()[0].payload;
  ASSERT_GT(refused_bytes.size(), store::kDeadLetterHeadBytes);
  ASSERT_TRUE(client_->Ack(first[0], OutOfRange("broker: packet too large")));
  ASSERT_TRUE(client_->Ack(first[1]));
  ASSERT_TRUE(client_->Ack(first[2]));
  const transport::PublishToken retry = WaitForPublished(3, 1);
  ASSERT_NE(retry, 0u);
  EXPECT_FALSE(PublishedEnvelope(retry).gap.has_value());
  ASSERT_TRUE(client_->Ack(retry, OutOfRange("broker: packet too large")));
  // Given up: a gap envelope in its place, the lane still held to it.
  const transport::PublishToken gap_token = WaitForPublished(4, 1);
  ASSERT_NE(gap_token, 0u);
  const codec::Envelope gap = PublishedEnvelope(gap_token);
  ASSERT_TRUE(gap.gap.has_value());
  EXPECT_EQ(gap.first_seq, 1u);
  EXPECT_EQ(gap.last_seq, 10u);
  EXPECT_EQ(gap.prev_seq, 0u);
  EXPECT_EQ(gap.log_id, log_id_);
  EXPECT_EQ(gap.gap->records, 10u);
  EXPECT_EQ(codec::GapReasonKind(gap.gap->reason), "rejected");
  EXPECT_EQ(gap.gap->oldest_time_us, kT0);
  EXPECT_EQ(gap.gap->newest_time_us, kT0 + 9000);
  EXPECT_EQ(stage_->acked(Lane::kReadings), 0u);
  EXPECT_EQ(client_->published().size(), 5u);
  ASSERT_TRUE(client_->Ack(gap_token));
  AckUntilAcked(30);
  const auto c = forwarder_->counters();
  EXPECT_EQ(c.rejections, 2u);
  EXPECT_EQ(c.dead_letters, 1u);
  EXPECT_EQ(c.rejected_gaps, 1u);
  EXPECT_EQ(c.readings_acked, 20u);
  StopAll();
  const auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 1u);
  const store::DeadLetter& letter = letters[0].letter;
  EXPECT_EQ(letter.source, "upstream");
  EXPECT_EQ(letter.reason_code, "rejected");
  EXPECT_EQ(letter.topic, "weir/gw/data");
  EXPECT_EQ(letter.payload_bytes, refused_bytes.size());
  EXPECT_EQ(letter.payload_head, refused_bytes);  // the whole message, not its first bytes
  auto kept = codec::DecodeEnvelope(letter.payload_head);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->readings.size(), 10u);
}

TEST_F(ForwarderTest, ARangeGivenUpIsSentAsItsGapAgainAfterAReconnect) {
  ForwarderSettings s = Small(2, 10);
  s.max_attempts = 1;
  Start(s);
  Feed(20);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->pending().size() == 2; }));
  ASSERT_TRUE(client_->Ack(client_->pending()[0], FailedPrecondition("broker: not authorized")));
  ASSERT_NE(WaitForPublished(2, 1), 0u);  // the gap
  ASSERT_TRUE(client_->DropConnection());
  const size_t before = client_->published().size();
  Connect();
  const transport::PublishToken again = WaitForPublished(before, 1);
  ASSERT_NE(again, 0u);
  EXPECT_TRUE(PublishedEnvelope(again).gap.has_value());  // not the refused readings again
  AckUntilAcked(20);
  EXPECT_EQ(forwarder_->counters().dead_letters, 1u);
}

TEST_F(ForwarderTest, RefusalsAreCountedAcrossReconnects) {
  // Some brokers drop the connection right after refusing (mosquitto 2.0.11 with
  // max_queued_messages 0): the count must go on, or the lane would retry forever.
  ForwarderSettings s = Small(4, 10);
  s.max_attempts = 2;
  Start(s);
  Feed(30);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_->pending().size() >= 2; }));
  const codec::Envelope refused = PublishedEnvelope(client_->pending()[0]);
  ASSERT_TRUE(client_->Ack(client_->pending()[0], OutOfRange("broker: packet too large")));
  ASSERT_TRUE(client_->DropConnection());
  const size_t before = client_->published().size();
  Connect();
  // After the reconnect the lane is narrowed to it at once: it alone is sent.
  const transport::PublishToken again = WaitForPublished(before, refused.first_seq);
  ASSERT_NE(again, 0u);
  EXPECT_EQ(client_->published().size(), before + 1);
  ASSERT_TRUE(client_->Ack(again, OutOfRange("broker: packet too large")));
  const transport::PublishToken gap = WaitForPublished(before + 1, refused.first_seq);
  ASSERT_NE(gap, 0u);
  EXPECT_TRUE(PublishedEnvelope(gap).gap.has_value());
  AckUntilAcked(30);
  EXPECT_EQ(forwarder_->counters().rejections, 2u);
  EXPECT_EQ(forwarder_->counters().dead_letters, 1u);
}

TEST_F(ForwarderTest, ARecordThatFitsNoMessageGoesUpAsARejectedGap) {
  ForwarderSettings s = Small(4, 1);
  s.max_message_bytes = codec::kMinEnvelopeCapBytes;
  Start(s);
  Feed(3);
  std::string sensor;  // 2,000 bytes that zstd cannot shrink much
  uint32_t x = 12345;
  for (int i = 0; i < 2000; ++i) {
    x = x * 1103515245u + 12345u;
    sensor.push_back(static_cast<char>('a' + (x >> 16) % 26));
  }
  IngestItem big;
  big.readings.push_back({sensor, kT0 + 5000, 1.0, 0});
  ASSERT_TRUE(queue_->Push(std::move(big)).ok());
  ASSERT_TRUE(WaitFor([&] { return stage_->counters().readings_committed == 4; }));
  Connect();
  AckUntilAcked(4);
  const auto all = Decoded();
  ASSERT_EQ(all.size(), 4u);
  ASSERT_TRUE(all[3].gap.has_value());
  EXPECT_EQ(all[3].first_seq, 4u);
  EXPECT_EQ(all[3].prev_seq, 3u);
  EXPECT_EQ(codec::GapReasonKind(all[3].gap->reason), "rejected");
  StopAll();
  const auto letters = DeadLetters();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].letter.reason_code, "too_large");
  EXPECT_EQ(letters[0].letter.payload_head.size(), letters[0].letter.payload_bytes);
  EXPECT_GT(letters[0].letter.payload_bytes, codec::kMinEnvelopeCapBytes);
}

// Every reading above 1000 raises a defect.
class AboveLimit final : public DetectHook {
 public:
  void OnReadings(std::vector<Reading>& readings, Clock::TimePoint,
                  std::vector<Defect>* defects) override {
    for (const Reading& r : readings) {
      if (r.value > 1000) {
        Defect d;
        d.sensor = r.sensor;
        d.detector = "limits";
        d.window_start_us = d.window_end_us = d.detected_at_us = r.time_us;
        d.score = 1;
        d.message = "above 1000";
        defects->push_back(d);
      }
    }
  }
  void OnTick(std::vector<Reading>*, std::vector<Defect>*) override {}
};

TEST_F(ForwarderTest, DefectsAreSentAheadOfReadings) {
  AboveLimit detect;
  Start(Small(1, 100), &detect);
  Feed(150);
  Feed(1, 5000);  // one defect, committed after 150 readings
  Connect();
  ASSERT_TRUE(WaitFor([&] { return !client_->published().empty(); }));
  EXPECT_EQ(client_->published()[0].topic, "weir/gw/defects");
  auto defects = codec::DecodeEnvelope(client_->published()[0].payload);
  ASSERT_TRUE(defects.ok());
  ASSERT_EQ(defects->defects.size(), 1u);
  EXPECT_EQ(defects->defects[0].message, "above 1000");
  ASSERT_TRUE(WaitFor([&] {
    client_->AckAll();
    return forwarder_->counters().readings_acked == 151;
  }));
  StopAll();  // before `detect` goes away
}

TEST_F(ForwarderTest, BatchesAreSplitUnderTheMessageCapAndNothingIsLost) {
  ForwarderSettings s = Small(8, 1000);
  s.max_message_bytes = codec::kMinEnvelopeCapBytes;
  s.format = codec::EnvelopeFormat::kJson;
  Start(s);
  Feed(500);
  Connect();
  AckUntilAcked(500);
  for (const auto& p : client_->published()) EXPECT_LE(p.payload.size(), s.max_message_bytes);
  auto envelopes = Decoded();
  EXPECT_GT(envelopes.size(), 5u);
  ExpectContiguousReadings(envelopes, 500);
}

TEST_F(ForwarderTest, DrainWaitsUntilEverythingCommittedIsAcknowledged) {
  Start(Small(4, 10));
  Feed(40);
  Connect();
  ASSERT_TRUE(WaitFor([&] { return forwarder_->counters().state == LinkState::kConnected; }));
  std::atomic<bool> drained{false};
  std::thread drain([&] {
    drained = forwarder_->Drain(std::chrono::steady_clock::now() + std::chrono::seconds(20));
  });
  AckUntilAcked(40);
  drain.join();
  EXPECT_TRUE(drained.load());
}

TEST_F(ForwarderTest, DrainWithoutTheUpstreamSaysNotDrained) {
  Start(Small(4, 10));
  Feed(10);  // committed, never sent: the upstream refuses the connection
  ASSERT_TRUE(WaitFor([&] { return client_->connecting(); }));
  ASSERT_TRUE(client_->FailConnect());
  EXPECT_FALSE(
      forwarder_->Drain(std::chrono::steady_clock::now() + std::chrono::milliseconds(200)));
}

}  // namespace
}  // namespace weir::pipeline
