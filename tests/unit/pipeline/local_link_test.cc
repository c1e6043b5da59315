#include "agent/pipeline/local_link.h"

#include <gtest/gtest.h>

#include "tests/support/fake_mqtt_client.h"
#include "tests/support/test_support.h"

namespace weir::pipeline {
namespace {

using weir::testing::FakeMqttClient;
using weir::testing::WaitFor;

std::vector<IngestRoute> NumberRoute() {
  codec::ParserConfig config;
  config.format = "number";
  auto parser = codec::MakeParser(config);
  EXPECT_TRUE(parser.ok());
  return {{"s/#", std::shared_ptr<const codec::PayloadParser>(std::move(*parser))}};
}

class LocalLinkTest : public ::testing::Test {
 protected:
  LocalLinkTest() : queue_(8), ingest_(NumberRoute(), 1024, queue_, SystemClock::Instance()) {}
  void Start() {
    auto link = LocalLink::Start(client_, ingest_, queue_,
                                 {std::chrono::milliseconds(1), std::chrono::milliseconds(5)}, 1,
                                 SystemClock::Instance());
    ASSERT_TRUE(link.ok());
    link_ = std::move(*link);
  }
  void Connect() {
    ASSERT_TRUE(WaitFor([&] { return client_.connecting(); }));
    ASSERT_TRUE(client_.CompleteConnect(false));
    ASSERT_TRUE(WaitFor([&] { return link_->state() == LinkState::kConnected; }));
  }
  ~LocalLinkTest() override { link_.reset(); }

  FakeMqttClient client_;
  IngestQueue queue_;
  Ingest ingest_;
  std::unique_ptr<LocalLink> link_;
};

TEST_F(LocalLinkTest, SubscribesOnEveryConnectAndReconnectsAfterALoss) {
  Start();
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_.subscriptions().size() == 1; }));
  EXPECT_EQ(client_.subscriptions()[0].filter, "s/#");
  EXPECT_EQ(client_.subscriptions()[0].qos, 1);
  ASSERT_TRUE(client_.DropConnection());
  Connect();
  ASSERT_TRUE(WaitFor([&] { return client_.subscriptions().size() == 2; }));
  EXPECT_EQ(link_->connects(), 2u);
}

TEST_F(LocalLinkTest, MessagesGoToTheQueueWithoutBlockingEvenPastItsCapacity) {
  Start();
  Connect();
  for (int i = 0; i < 20; ++i) client_.InjectMessage("s/a", std::to_string(i));
  EXPECT_EQ(queue_.size(), 20u);  // nothing dropped, nothing blocked
  EXPECT_TRUE(queue_.saturated());
}

TEST_F(LocalLinkTest, ASaturatedQueueIsCountedAndTheConnectionStays) {
  Start();
  Connect();
  for (int i = 0; i < 8; ++i) client_.InjectMessage("s/a", std::to_string(i));
  ASSERT_TRUE(WaitFor([&] { return link_->saturations() == 1; }));
  EXPECT_EQ(client_.disconnect_calls(), 0);
  EXPECT_TRUE(client_.IsConnected());
  EXPECT_EQ(queue_.size(), 8u);
}

}  // namespace
}  // namespace weir::pipeline
