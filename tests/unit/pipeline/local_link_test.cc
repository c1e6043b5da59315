#include "agent/pipeline/local_link.h"

#include <gtest/gtest.h>

#include <atomic>

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
  LocalLinkTest()
      : journal_(OpenJournal(dir_)),
        queue_(IngestQueue::kMinBudgetBytes),
        ingest_(NumberRoute(), 1024, queue_, SystemClock::Instance(), journal_.get()) {}
  static std::unique_ptr<store::IntakeJournal> OpenJournal(const weir::testing::TempDir& dir) {
    auto journal = store::IntakeJournal::Open({.dir = dir.path() / "intake"}, 0);
    EXPECT_TRUE(journal.ok()) << journal.status().ToString();
    return journal.ok() ? std::move(*journal) : nullptr;
  }
  void Start(JournalLimit limit = {}) {
    auto link = LocalLink::Start(client_, ingest_, queue_,
                                 {std::chrono::milliseconds(1), std::chrono::milliseconds(5)}, 1,
                                 SystemClock::Instance(), std::move(limit));
    ASSERT_TRUE(link.ok());
    link_ = std::move(*link);
  }
  void Connect() {
    ASSERT_TRUE(WaitFor([&] { return client_.connecting(); }));
    ASSERT_TRUE(client_.CompleteConnect(false));
    ASSERT_TRUE(WaitFor([&] { return link_->state() == LinkState::kConnected; }));
  }
  ~LocalLinkTest() override { link_.reset(); }

  weir::testing::TempDir dir_;
  std::unique_ptr<store::IntakeJournal> journal_;
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

TEST_F(LocalLinkTest, PastTheMemoryBudgetMessagesWaitInTheJournalWithoutBlocking) {
  Start();
  Connect();
  int sent = 0;
  while (!queue_.over_budget() && sent < 100000)
    client_.InjectMessage("s/a", std::to_string(sent++));
  ASSERT_TRUE(queue_.over_budget());
  const size_t parsed = queue_.size();
  for (int i = 0; i < 500; ++i) client_.InjectMessage("s/a", std::to_string(sent++));
  EXPECT_EQ(queue_.size(), parsed + 1);  // one run item holds the 500 numbers
  EXPECT_EQ(queue_.spilled_messages(), 500u);
  EXPECT_EQ(journal_->last_number(), static_cast<uint64_t>(sent));  // every message journaled
  EXPECT_EQ(ingest_.messages(), static_cast<uint64_t>(sent));
}

TEST_F(LocalLinkTest, ASpillIsCountedAndTheConnectionStays) {
  Start();
  Connect();
  int sent = 0;
  while (queue_.spilled_messages() == 0 && sent < 100000) {
    client_.InjectMessage("s/a", std::to_string(sent++));
  }
  ASSERT_TRUE(WaitFor([&] { return link_->saturations() == 1; }));
  EXPECT_EQ(client_.disconnect_calls(), 0);
  EXPECT_TRUE(client_.IsConnected());
}

TEST_F(LocalLinkTest, AJournalOverItsCapPausesTheLocalConnectionUntilItIsBelowHalf) {
  std::atomic<uint64_t> journal_bytes{0};
  Start({[&] { return journal_bytes.load(); }, 1000});
  Connect();
  journal_bytes = 1001;
  ASSERT_TRUE(WaitFor([&] { return link_->paused() && client_.disconnect_calls() == 1; }));
  EXPECT_EQ(link_->state(), LinkState::kDisconnected);
  journal_bytes = 600;  // below the cap, above half: still paused
  EXPECT_FALSE(WaitFor([&] { return client_.connecting(); }, std::chrono::milliseconds(300)));
  journal_bytes = 500;
  ASSERT_TRUE(WaitFor([&] { return client_.connecting(); }));
  EXPECT_FALSE(link_->paused());
  EXPECT_EQ(link_->pauses(), 1u);
}

TEST_F(LocalLinkTest, ADiskAtItsReservePausesTheLocalConnectionUntilThereIsRoom) {
  std::atomic<bool> disk_low{false};
  Start({[] { return uint64_t{0}; }, 1000, [&] { return disk_low.load(); }});
  Connect();
  disk_low = true;
  ASSERT_TRUE(WaitFor([&] { return link_->paused() && client_.disconnect_calls() == 1; }));
  disk_low = false;
  ASSERT_TRUE(WaitFor([&] { return client_.connecting(); }));
  EXPECT_FALSE(link_->paused());
}

TEST_F(LocalLinkTest, ARedeliveryOfAJournaledMessageAfterAReconnectIsDropped) {
  Start();
  Connect();
  client_.InjectMessage("s/a", "1");
  client_.InjectMessage("s/a", "2");  // journaled; its PUBACK is lost with the connection
  ASSERT_TRUE(client_.DropConnection());
  Connect();
  client_.InjectMessage("s/a", "2", 1, false, /*duplicate=*/true);  // the broker sends it again
  client_.InjectMessage("s/a", "3", 1, false, /*duplicate=*/true);  // never received before
  EXPECT_EQ(journal_->last_number(), 3u);
  EXPECT_EQ(ingest_.redeliveries_dropped(), 1u);
  EXPECT_EQ(queue_.size(), 3u);
}

}  // namespace
}  // namespace weir::pipeline
