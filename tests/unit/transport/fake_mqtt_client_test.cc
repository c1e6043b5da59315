// The fake MqttClient keeps the contract of the real one (mqtt_client.h), so code tested against
// it behaves the same against Paho.
#include "tests/support/fake_mqtt_client.h"

#include <gtest/gtest.h>

#include <map>

namespace weir::testing {
namespace {

using transport::PublishToken;

struct Seen {
  int connected = 0;
  bool session_present = false;
  std::vector<Status> lost;
  std::vector<std::pair<PublishToken, Status>> delivered;
  std::vector<std::string> messages;
};

transport::MqttCallbacks Record(Seen& seen) {
  transport::MqttCallbacks c;
  c.on_connected = [&seen](bool present) {
    ++seen.connected;
    seen.session_present = present;
  };
  c.on_connection_lost = [&seen](const Status& s) { seen.lost.push_back(s); };
  c.on_delivered = [&seen](PublishToken t, const Status& s) { seen.delivered.push_back({t, s}); };
  c.on_message = [&seen](const transport::InboundMessage& m) {
    seen.messages.push_back(std::string(m.topic) + "=" + std::string(m.payload));
  };
  return c;
}

TEST(TransportFakeClientTest, ConnectIsCompletedByTheTestNotByTheCall) {
  Seen seen;
  FakeMqttClient fake;
  fake.SetCallbacks(Record(seen));
  ASSERT_TRUE(fake.Connect().ok());
  EXPECT_EQ(seen.connected, 0);
  EXPECT_TRUE(fake.connecting());
  EXPECT_EQ(fake.Connect().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(fake.CompleteConnect(/*session_present=*/true));
  EXPECT_EQ(seen.connected, 1);
  EXPECT_TRUE(seen.session_present);
  EXPECT_TRUE(fake.IsConnected());
}

TEST(TransportFakeClientTest, DroppedConnectionFailsPendingPublishesInOrderThenReportsLost) {
  Seen seen;
  FakeMqttClient fake;
  fake.SetCallbacks(Record(seen));
  ASSERT_TRUE(fake.Connect().ok());
  fake.CompleteConnect();
  auto a = fake.Publish("t", "a", 1, false);
  auto b = fake.Publish("t", "b", 1, false);
  auto c = fake.Publish("t", "c", 1, false);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_TRUE(fake.Ack(*b));

  ASSERT_TRUE(fake.DropConnection());
  ASSERT_EQ(seen.delivered.size(), 3u);
  EXPECT_EQ(seen.delivered[0], std::make_pair(*b, Status::Ok()));
  EXPECT_EQ(seen.delivered[1].first, *a);
  EXPECT_EQ(seen.delivered[1].second.code(), StatusCode::kUnavailable);
  EXPECT_EQ(seen.delivered[2].first, *c);
  ASSERT_EQ(seen.lost.size(), 1u);
  EXPECT_EQ(fake.Publish("t", "d", 1, false).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(fake.Ack(*a));  // reported once only
  EXPECT_EQ(fake.published().size(), 3u);
}

TEST(TransportFakeClientTest, TheInflightWindowIsEnforced) {
  FakeMqttClient fake(/*max_inflight=*/2);
  ASSERT_TRUE(fake.Connect().ok());
  fake.CompleteConnect();
  ASSERT_TRUE(fake.Publish("t", "1", 1, false).ok());
  ASSERT_TRUE(fake.Publish("t", "2", 1, false).ok());
  EXPECT_EQ(fake.Publish("t", "3", 1, false).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(fake.AckAll(), 2);
  EXPECT_TRUE(fake.Publish("t", "3", 1, false).ok());
}

TEST(TransportFakeClientTest, SubscriptionsAreRecordedAndMessagesInjected) {
  Seen seen;
  FakeMqttClient fake;
  fake.SetCallbacks(Record(seen));
  EXPECT_EQ(fake.Subscribe({{"s/#", 1}}).code(), StatusCode::kUnavailable);
  ASSERT_TRUE(fake.Connect().ok());
  fake.CompleteConnect();
  ASSERT_TRUE(fake.Subscribe({{"s/#", 1}}).ok());
  EXPECT_EQ(fake.AnswerSubscribes(), 1);
  ASSERT_EQ(fake.subscriptions().size(), 1u);
  EXPECT_EQ(fake.subscriptions()[0].filter, "s/#");
  fake.InjectMessage("s/1", "42");
  EXPECT_EQ(seen.messages, std::vector<std::string>{"s/1=42"});
}

TEST(TransportFakeClientTest, DisconnectCancelsPendingPublishes) {
  Seen seen;
  FakeMqttClient fake;
  fake.SetCallbacks(Record(seen));
  ASSERT_TRUE(fake.Connect().ok());
  fake.CompleteConnect();
  ASSERT_TRUE(fake.Publish("t", "x", 1, false).ok());
  ASSERT_TRUE(fake.Disconnect(std::chrono::milliseconds(10)).ok());
  ASSERT_EQ(seen.delivered.size(), 1u);
  EXPECT_EQ(seen.delivered[0].second.code(), StatusCode::kCancelled);
  EXPECT_TRUE(seen.lost.empty());
}

}  // namespace
}  // namespace weir::testing
