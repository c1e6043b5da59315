// The Paho MqttClient against a real mosquitto on loopback: round trips, persistent sessions,
// broker crashes and restarts, the in-flight window, packet size limits, MQTT 5 and TLS.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "agent/transport/paho_mqtt_client.h"
#include "tests/integration/mqtt_recorder.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/test_support.h"

namespace weir::transport {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using weir::testing::MosquittoOptions;
using weir::testing::MqttRecorder;
using weir::testing::WaitFor;

// A client with its recorder; the recorder outlives the client that calls into it.
struct Peer {
  std::unique_ptr<MqttRecorder> recorder = std::make_unique<MqttRecorder>();
  std::unique_ptr<MqttClient> client;
};

MqttOptions Options(const std::string& url, const std::string& client_id) {
  MqttOptions o;
  o.url = url;
  o.client_id = client_id;
  o.keepalive = seconds(5);
  o.connect_timeout = seconds(5);
  return o;
}

Result<Peer> MakePeer(const MqttOptions& options) {
  Peer peer;
  WEIR_ASSIGN_OR_RETURN(peer.client, NewPahoMqttClient(options));
  peer.client->SetCallbacks(peer.recorder->Callbacks());
  return peer;
}

// Starts a connect and waits for its outcome: success, or the failure reported.
::testing::AssertionResult ConnectAndWait(Peer& peer) {
  const int connected_before = peer.recorder->connected();
  const size_t lost_before = peer.recorder->lost().size();
  if (Status s = peer.client->Connect(); !s.ok()) {
    return ::testing::AssertionFailure() << "Connect(): " << s.ToString();
  }
  if (!WaitFor([&] {
        return peer.recorder->connected() > connected_before ||
               peer.recorder->lost().size() > lost_before;
      })) {
    return ::testing::AssertionFailure() << "no connect outcome within the deadline";
  }
  if (peer.recorder->connected() > connected_before) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "connect failed: " << peer.recorder->lost().back().ToString();
}

::testing::AssertionResult SubscribeAndWait(Peer& peer, const std::string& filter) {
  const size_t before = peer.recorder->subscribed().size();
  if (Status s = peer.client->Subscribe({{filter, 1}}); !s.ok()) {
    return ::testing::AssertionFailure() << "Subscribe(): " << s.ToString();
  }
  if (!WaitFor([&] { return peer.recorder->subscribed().size() > before; })) {
    return ::testing::AssertionFailure() << "no SUBACK within the deadline";
  }
  const Status result = peer.recorder->subscribed().back();
  if (!result.ok()) return ::testing::AssertionFailure() << result.ToString();
  return ::testing::AssertionSuccess();
}

// Publishes `count` QoS 1 messages "<prefix><i>", waiting for room whenever the in-flight window
// is full. Returns the tokens in publish order.
std::vector<PublishToken> PublishMany(Peer& peer, const std::string& topic,
                                      const std::string& prefix, int count) {
  std::vector<PublishToken> tokens;
  for (int i = 0; i < count; ++i) {
    Result<PublishToken> token = peer.client->Publish(topic, prefix + std::to_string(i), 1, false);
    if (!token.ok() && token.status().code() == StatusCode::kResourceExhausted) {
      WaitFor([&] { return peer.client->InflightCount() < 8; });
      --i;
      continue;
    }
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    if (!token.ok()) break;
    tokens.push_back(*token);
  }
  return tokens;
}

TEST(TransportBrokerTest, Qos1RoundTripArrivesInOrderAndEveryPublishIsAcknowledgedOnce) {
  WEIR_START_BROKER_OR_SKIP(broker, MosquittoOptions{});
  auto sub = MakePeer(Options(broker->url(), "rt-sub"));
  auto pub = MakePeer([&] {
    MqttOptions o = Options(broker->url(), "rt-pub");
    o.max_inflight = 16;  // small, so the test crosses the window many times
    return o;
  }());
  ASSERT_TRUE(sub.ok() && pub.ok());
  ASSERT_TRUE(ConnectAndWait(*sub));
  ASSERT_TRUE(SubscribeAndWait(*sub, "rt/#"));
  ASSERT_TRUE(ConnectAndWait(*pub));

  constexpr int kCount = 500;
  const std::vector<PublishToken> tokens = PublishMany(*pub, "rt/a", "m", kCount);
  ASSERT_EQ(tokens.size(), static_cast<size_t>(kCount));
  ASSERT_TRUE(WaitFor([&] {
    return sub->recorder->message_count() == kCount && pub->recorder->delivered_count() == kCount;
  })) << "received "
      << sub->recorder->message_count() << ", delivered " << pub->recorder->delivered_count();

  const auto delivered = pub->recorder->delivered();
  for (PublishToken token : tokens) {
    ASSERT_EQ(delivered.count(token), 1u);
    ASSERT_EQ(delivered.at(token).size(), 1u) << "token " << token << " reported twice";
    EXPECT_TRUE(delivered.at(token)[0].ok()) << delivered.at(token)[0].ToString();
  }
  const auto messages = sub->recorder->messages();
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(messages[i].payload, "m" + std::to_string(i));
    EXPECT_EQ(messages[i].topic, "rt/a");
    EXPECT_EQ(messages[i].qos, 1);
  }
  EXPECT_EQ(pub->client->InflightCount(), 0);
}

TEST(TransportBrokerTest, PublishWhileDisconnectedIsUnavailableAndNotSentLater) {
  WEIR_START_BROKER_OR_SKIP(broker, MosquittoOptions{});
  auto sub = MakePeer(Options(broker->url(), "off-sub"));
  auto pub = MakePeer(Options(broker->url(), "off-pub"));
  ASSERT_TRUE(sub.ok() && pub.ok());

  EXPECT_EQ(pub->client->Publish("off/a", "never", 1, false).status().code(),
            StatusCode::kUnavailable);
  ASSERT_TRUE(ConnectAndWait(*pub));
  ASSERT_TRUE(pub->client->Disconnect(seconds(2)).ok());
  EXPECT_FALSE(pub->client->IsConnected());
  EXPECT_EQ(pub->client->Publish("off/a", "never", 1, false).status().code(),
            StatusCode::kUnavailable);

  // Nothing was buffered: after reconnecting only the new message reaches a subscriber.
  ASSERT_TRUE(ConnectAndWait(*sub));
  ASSERT_TRUE(SubscribeAndWait(*sub, "off/#"));
  ASSERT_TRUE(ConnectAndWait(*pub));
  ASSERT_TRUE(pub->client->Publish("off/a", "after", 1, false).ok());
  ASSERT_TRUE(WaitFor([&] { return sub->recorder->message_count() >= 1; }));
  EXPECT_TRUE(WaitFor([&] { return pub->recorder->delivered_count() == 1; }));
  const auto messages = sub->recorder->messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, "after");
}

TEST(TransportBrokerTest, PersistentSessionReceivesWhatWasPublishedWhileAway) {
  WEIR_START_BROKER_OR_SKIP(broker, MosquittoOptions{});
  MqttOptions sub_options = Options(broker->url(), "persist-sub");
  sub_options.clean_session = false;
  auto sub = MakePeer(sub_options);
  auto pub = MakePeer(Options(broker->url(), "persist-pub"));
  ASSERT_TRUE(sub.ok() && pub.ok());

  ASSERT_TRUE(ConnectAndWait(*sub));
  ASSERT_TRUE(SubscribeAndWait(*sub, "persist/#"));
  ASSERT_TRUE(sub->client->Disconnect(seconds(2)).ok());

  ASSERT_TRUE(ConnectAndWait(*pub));
  ASSERT_EQ(PublishMany(*pub, "persist/x", "away", 20).size(), 20u);
  ASSERT_TRUE(WaitFor([&] { return pub->recorder->delivered_count() == 20; }));

  ASSERT_TRUE(ConnectAndWait(*sub));
  EXPECT_TRUE(sub->recorder->session_present());
  ASSERT_TRUE(WaitFor([&] { return sub->recorder->message_count() == 20; }))
      << sub->recorder->message_count();
  const auto messages = sub->recorder->messages();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(messages[i].payload, "away" + std::to_string(i));
}

TEST(TransportBrokerTest, BrokerCrashFailsPendingPublishesOnceAndReconnectStartsAFreshSession) {
  WEIR_START_BROKER_OR_SKIP(broker, MosquittoOptions{});
  MqttOptions options = Options(broker->url(), "crash-client");
  options.clean_session = false;
  auto peer = MakePeer(options);
  ASSERT_TRUE(peer.ok());
  ASSERT_TRUE(ConnectAndWait(*peer));
  ASSERT_TRUE(SubscribeAndWait(*peer, "crash/#"));

  // A hung broker keeps the socket open, so these stay unacknowledged until it dies.
  ASSERT_TRUE(broker->Pause().ok());
  std::vector<PublishToken> tokens;
  for (int i = 0; i < 10; ++i) {
    auto token = peer->client->Publish("crash/a", "p" + std::to_string(i), 1, false);
    ASSERT_TRUE(token.ok()) << token.status().ToString();
    tokens.push_back(*token);
  }
  ASSERT_TRUE(broker->Kill().ok());

  ASSERT_TRUE(WaitFor([&] { return peer->recorder->lost().size() == 1; }));
  EXPECT_EQ(peer->recorder->lost()[0].code(), StatusCode::kUnavailable);
  EXPECT_FALSE(peer->client->IsConnected());
  EXPECT_EQ(peer->client->InflightCount(), 0);
  const auto delivered = peer->recorder->delivered();
  for (PublishToken token : tokens) {
    ASSERT_EQ(delivered.count(token), 1u);
    ASSERT_EQ(delivered.at(token).size(), 1u);
    EXPECT_EQ(delivered.at(token)[0].code(), StatusCode::kUnavailable);
  }
  EXPECT_EQ(peer->client->Publish("crash/a", "x", 1, false).status().code(),
            StatusCode::kUnavailable);

  // While the broker is down a connect attempt fails and says so.
  EXPECT_FALSE(ConnectAndWait(*peer));
  EXPECT_EQ(peer->recorder->lost().back().code(), StatusCode::kUnavailable);

  // Back up without persistence: connected, but the session is gone, so subscribe again.
  ASSERT_TRUE(broker->Restart().ok()) << broker->LogTail();
  ASSERT_TRUE(ConnectAndWait(*peer));
  EXPECT_FALSE(peer->recorder->session_present());
  ASSERT_TRUE(SubscribeAndWait(*peer, "crash/#"));
  ASSERT_TRUE(peer->client->Publish("crash/a", "again", 1, false).ok());
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->message_count() == 1; }));
  EXPECT_EQ(peer->recorder->messages()[0].payload, "again");
  // Late completions from the dead connection are never reported a second time.
  for (const auto& [token, reports] : peer->recorder->delivered()) {
    EXPECT_EQ(reports.size(), 1u) << "token " << token;
  }
}

TEST(TransportBrokerTest, GracefulBrokerRestartWithPersistenceResumesTheSession) {
  MosquittoOptions broker_options;
  broker_options.persistence = true;
  WEIR_START_BROKER_OR_SKIP(broker, broker_options);
  MqttOptions options = Options(broker->url(), "resume-client");
  options.clean_session = false;
  auto peer = MakePeer(options);
  auto pub = MakePeer(Options(broker->url(), "resume-pub"));
  ASSERT_TRUE(peer.ok() && pub.ok());
  ASSERT_TRUE(ConnectAndWait(*peer));
  ASSERT_TRUE(SubscribeAndWait(*peer, "resume/#"));

  ASSERT_TRUE(broker->Stop().ok());
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->lost().size() == 1; }));
  ASSERT_TRUE(broker->Restart().ok()) << broker->LogTail();

  ASSERT_TRUE(ConnectAndWait(*peer));
  EXPECT_TRUE(peer->recorder->session_present());
  // No new Subscribe(): the restored session still routes the topic to us.
  ASSERT_TRUE(ConnectAndWait(*pub));
  ASSERT_TRUE(pub->client->Publish("resume/a", "kept", 1, false).ok());
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->message_count() == 1; }));
  EXPECT_EQ(peer->recorder->messages()[0].payload, "kept");
}

MosquittoOptions PacketLimitedBroker() {
  MosquittoOptions o;
  o.max_packet_size = 2048;
  return o;
}

// A payload whose PUBLISH packet (QoS 1, MQTT 3.1.1 unless v5) is exactly `packet` bytes:
// fixed header 1 + length 2 (for packets of 128..16383 bytes) + topic length 2 + topic +
// packet id 2 (+ empty properties 1).
std::string PayloadForPacket(size_t packet, const std::string& topic, bool v5) {
  return std::string(packet - 1 - 2 - 2 - topic.size() - 2 - (v5 ? 1 : 0), 'p');
}

TEST(TransportBrokerTest, Mqtt311OversizedPublishWithoutALimitCostsTheConnection) {
  WEIR_START_BROKER_OR_SKIP(broker, PacketLimitedBroker());
  auto peer = MakePeer(Options(broker->url(), "big-pub"));
  ASSERT_TRUE(peer.ok());
  ASSERT_TRUE(ConnectAndWait(*peer));

  // MQTT 3.1.1 has no way to say "too large": mosquitto drops the connection, and the publish
  // is reported failed through on_delivered rather than silently lost.
  auto big = peer->client->Publish("big/a", std::string(8192, 'b'), 1, false);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->delivered_count() == 1; }));
  EXPECT_EQ(peer->recorder->delivered().at(*big)[0].code(), StatusCode::kUnavailable);
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->lost().size() == 1; }));
  EXPECT_FALSE(peer->client->IsConnected());
}

TEST(TransportBrokerTest, Mqtt311ConfiguredPacketLimitRejectsOversizedPublishLocally) {
  WEIR_START_BROKER_OR_SKIP(broker, PacketLimitedBroker());
  MqttOptions options = Options(broker->url(), "limit-pub");
  options.max_packet_bytes = 2048;
  auto peer = MakePeer(options);
  ASSERT_TRUE(peer.ok());
  ASSERT_TRUE(ConnectAndWait(*peer));

  const std::string topic = "big/a";
  EXPECT_EQ(
      peer->client->Publish(topic, PayloadForPacket(2049, topic, false), 1, false).status().code(),
      StatusCode::kOutOfRange);
  auto fits = peer->client->Publish(topic, PayloadForPacket(2048, topic, false), 1, false);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->delivered_count() == 1; }));
  EXPECT_TRUE(peer->recorder->delivered().at(*fits)[0].ok());
  EXPECT_TRUE(peer->client->IsConnected());
  EXPECT_TRUE(peer->recorder->lost().empty());
}

TEST(TransportBrokerTest, Mqtt5BrokerPacketLimitIsHonouredWithoutConfiguration) {
  WEIR_START_BROKER_OR_SKIP(broker, PacketLimitedBroker());
  MqttOptions options = Options(broker->url(), "big5-pub");
  options.version = MqttVersion::kV5;
  auto peer = MakePeer(options);
  ASSERT_TRUE(peer.ok());
  ASSERT_TRUE(ConnectAndWait(*peer));

  const std::string topic = "big/a";
  const Status too_big =
      peer->client->Publish(topic, PayloadForPacket(2049, topic, true), 1, false).status();
  EXPECT_EQ(too_big.code(), StatusCode::kOutOfRange) << too_big.ToString();
  auto fits = peer->client->Publish(topic, PayloadForPacket(2048, topic, true), 1, false);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->delivered_count() == 1; }));
  EXPECT_TRUE(peer->recorder->delivered().at(*fits)[0].ok())
      << peer->recorder->delivered().at(*fits)[0].ToString();
  EXPECT_TRUE(peer->client->IsConnected());
}

TEST(TransportBrokerTest, Mqtt5ClientRoundTripsAndResumesItsSession) {
  WEIR_START_BROKER_OR_SKIP(broker, MosquittoOptions{});
  MqttOptions options = Options(broker->url(), "v5-sub");
  options.version = MqttVersion::kV5;
  options.clean_session = false;
  options.session_expiry = seconds(60);
  auto sub = MakePeer(options);
  MqttOptions pub_options = Options(broker->url(), "v5-pub");
  pub_options.version = MqttVersion::kV5;
  auto pub = MakePeer(pub_options);
  ASSERT_TRUE(sub.ok() && pub.ok());

  ASSERT_TRUE(ConnectAndWait(*sub));
  EXPECT_FALSE(sub->recorder->session_present());
  ASSERT_TRUE(SubscribeAndWait(*sub, "v5/#"));
  ASSERT_TRUE(sub->client->Disconnect(seconds(2)).ok());

  ASSERT_TRUE(ConnectAndWait(*pub));
  ASSERT_EQ(PublishMany(*pub, "v5/a", "five", 10).size(), 10u);
  ASSERT_TRUE(WaitFor([&] { return pub->recorder->delivered_count() == 10; }));
  for (const auto& [token, reports] : pub->recorder->delivered()) {
    EXPECT_TRUE(reports[0].ok()) << reports[0].ToString();
  }

  ASSERT_TRUE(ConnectAndWait(*sub));
  EXPECT_TRUE(sub->recorder->session_present());
  ASSERT_TRUE(WaitFor([&] { return sub->recorder->message_count() == 10; }));
  EXPECT_EQ(sub->recorder->messages()[9].payload, "five9");
}

TEST(TransportBrokerTest, LastWillIsPublishedWhenTheConnectionEndsWithoutDisconnect) {
  WEIR_START_BROKER_OR_SKIP(broker, MosquittoOptions{});
  auto watcher = MakePeer(Options(broker->url(), "will-watcher"));
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE(ConnectAndWait(*watcher));
  ASSERT_TRUE(SubscribeAndWait(*watcher, "will/#"));

  MqttOptions options = Options(broker->url(), "will-client");
  options.last_will = LastWill{.topic = "will/status", .payload = "offline", .qos = 1};
  auto first = MakePeer(options);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(ConnectAndWait(*first));

  // A second client with the same id takes the session over: the broker closes the first
  // connection without a DISCONNECT from it, as after a crash or a network cut.
  MqttOptions same_id = options;
  same_id.last_will.reset();
  auto second = MakePeer(same_id);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(ConnectAndWait(*second));

  ASSERT_TRUE(WaitFor([&] { return first->recorder->lost().size() == 1; }));
  EXPECT_EQ(first->recorder->lost()[0].code(), StatusCode::kUnavailable);
  ASSERT_TRUE(WaitFor([&] { return watcher->recorder->message_count() == 1; }));
  const auto will = watcher->recorder->messages()[0];
  EXPECT_EQ(will.topic, "will/status");
  EXPECT_EQ(will.payload, "offline");
}

TEST(TransportBrokerTest, ConnectToAStoppedBrokerReportsUnavailable) {
  WEIR_START_BROKER_OR_SKIP(broker, MosquittoOptions{});
  ASSERT_TRUE(broker->Stop().ok());
  auto peer = MakePeer(Options(broker->url(), "nobody-home"));
  ASSERT_TRUE(peer.ok());
  EXPECT_FALSE(ConnectAndWait(*peer));
  ASSERT_EQ(peer->recorder->lost().size(), 1u);
  EXPECT_EQ(peer->recorder->lost()[0].code(), StatusCode::kUnavailable);
  EXPECT_FALSE(peer->client->IsConnected());
  // A second attempt may start once the first has failed.
  EXPECT_TRUE(peer->client->Connect().ok());
}

MosquittoOptions TlsBroker(bool require_client_certificate) {
  MosquittoOptions o;
  o.tls = true;
  o.require_client_certificate = require_client_certificate;
  return o;
}

TEST(TransportBrokerTest, TlsConnectsWhenTheBrokerCertificateVerifies) {
  WEIR_START_BROKER_OR_SKIP(broker, TlsBroker(false));
  MqttOptions options = Options(broker->tls_url(), "tls-ok");
  options.tls = TlsOptions{.ca_file = broker->certificates().ca_file.string()};
  auto peer = MakePeer(options);
  ASSERT_TRUE(peer.ok()) << peer.status().ToString();
  ASSERT_TRUE(ConnectAndWait(*peer)) << broker->LogTail();
  ASSERT_TRUE(SubscribeAndWait(*peer, "tls/#"));
  ASSERT_TRUE(peer->client->Publish("tls/a", "secret", 1, false).ok());
  ASSERT_TRUE(WaitFor([&] { return peer->recorder->message_count() == 1; }));
  EXPECT_EQ(peer->recorder->messages()[0].payload, "secret");
}

TEST(TransportBrokerTest, TlsRefusesABrokerItCannotVerify) {
  WEIR_START_BROKER_OR_SKIP(broker, TlsBroker(false));
  MqttOptions options = Options(broker->tls_url(), "tls-untrusted");
  // A certificate that is not the CA which signed the broker's: verification must fail.
  options.tls = TlsOptions{.ca_file = broker->certificates().client_cert.string()};
  auto peer = MakePeer(options);
  ASSERT_TRUE(peer.ok());
  EXPECT_FALSE(ConnectAndWait(*peer));
  ASSERT_EQ(peer->recorder->lost().size(), 1u);
  EXPECT_FALSE(peer->recorder->lost()[0].ok());
  EXPECT_EQ(peer->recorder->connected(), 0);
}

TEST(TransportBrokerTest, TlsClientCertificateIsPresentedWhenTheBrokerRequiresOne) {
  WEIR_START_BROKER_OR_SKIP(broker, TlsBroker(true));
  const auto& certs = broker->certificates();
  MqttOptions without = Options(broker->tls_url(), "tls-anon");
  without.tls = TlsOptions{.ca_file = certs.ca_file.string()};
  auto anonymous = MakePeer(without);
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE(ConnectAndWait(*anonymous));

  MqttOptions with = without;
  with.client_id = "tls-cert";
  with.tls->cert_file = certs.client_cert.string();
  with.tls->key_file = certs.client_key.string();
  auto identified = MakePeer(with);
  ASSERT_TRUE(identified.ok());
  EXPECT_TRUE(ConnectAndWait(*identified)) << broker->LogTail();
}

}  // namespace
}  // namespace weir::transport
