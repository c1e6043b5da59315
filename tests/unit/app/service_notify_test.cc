// ServiceNotifier against a fake systemd: an AF_UNIX datagram socket bound by the test, given to
// the notifier as NOTIFY_SOCKET. Time is a fake clock; notifications are synchronous datagrams,
// so "nothing was sent" is checked without waiting.
#include "agent/app/service_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace weir::app {
namespace {

using pipeline::LinkState;
using std::chrono::seconds;

class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~FakeSystemd() { ::close(fd_); }
  bool bound() const { return bound_; }
  // Every datagram queued so far (the notifier's sends complete before they return).
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    pollfd p{fd_, POLLIN, 0};
    while (::poll(&p, 1, 0) == 1) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0) break;
      out.emplace_back(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // How many of the queued datagrams are exactly `message`.
  int Count(const std::string& message) {
    int n = 0;
    for (const std::string& m : Take()) n += m == message ? 1 : 0;
    return n;
  }

 private:
  int fd_;
  bool bound_ = false;
};

class ServiceNotifyTest : public ::testing::Test {
 protected:
  ServiceNotifyTest()
      : path_((dir_ / "notify").string()),
        systemd_(path_),
        notifier_(platform::SystemdNotifier(path_, std::chrono::seconds(20)), clock_) {}

  static ServiceHealth Healthy() {
    ServiceHealth h;
    h.local = LinkState::kConnected;
    h.local_attempted = true;
    h.upstream = LinkState::kConnected;
    h.upstream_attempted = true;
    return h;
  }

  weir::testing::TempDir dir_;
  std::string path_;
  FakeSystemd systemd_;
  weir::testing::FakeClock clock_;
  ServiceNotifier notifier_;
};

TEST_F(ServiceNotifyTest, ReadyOnlyAfterBothConnectionsWereAttempted) {
  ASSERT_TRUE(systemd_.bound());
  ServiceHealth h;
  h.local_attempted = true;  // upstream still connecting
  h.upstream = LinkState::kConnecting;
  notifier_.Update(h);
  std::vector<std::string> sent = systemd_.Take();
  EXPECT_EQ(std::count(sent.begin(), sent.end(), "READY=1"), 0);
  EXPECT_FALSE(notifier_.ready_sent());
  EXPECT_EQ(notifier_.NextUpdateIn(std::chrono::milliseconds(1000)),
            std::chrono::milliseconds(100));

  h.upstream = LinkState::kDisconnected;  // the first attempt failed: still "started"
  h.upstream_attempted = true;
  h.last_error = "connect refused";
  notifier_.Update(h);
  sent = systemd_.Take();
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0], "READY=1");
  EXPECT_TRUE(notifier_.ready_sent());
  notifier_.Update(h);
  EXPECT_EQ(systemd_.Count("READY=1"), 0) << "READY=1 is sent once";
}

TEST_F(ServiceNotifyTest, StatusLineCarriesConnectionsAndBacklogAndIsSentWhenItChanges) {
  ServiceHealth h = Healthy();
  h.upstream = LinkState::kDisconnected;
  h.last_error = "connect refused";
  h.backlog_rows = 1200;
  h.oldest_unsent_age_s = 35.2;
  notifier_.Update(h);
  const std::string line =
      "STATUS=local connected, upstream disconnected (connect refused); backlog 1200 records, "
      "oldest 35 s";
  EXPECT_EQ(systemd_.Count(line), 1);
  notifier_.Update(h);
  EXPECT_EQ(systemd_.Count(line), 0) << "an unchanged status is not sent again";
  h.backlog_rows = 0;
  h.upstream = LinkState::kConnected;
  notifier_.Update(h);
  EXPECT_EQ(systemd_.Count("STATUS=local connected, upstream connected; backlog 0 records"), 1);
}

TEST_F(ServiceNotifyTest, WatchdogPingsEveryQuarterIntervalWhileStagesProgress) {
  EXPECT_EQ(notifier_.stall_limit(), seconds(10));
  notifier_.Update(Healthy());
  EXPECT_EQ(systemd_.Count("WATCHDOG=1"), 1);
  EXPECT_EQ(notifier_.NextUpdateIn(std::chrono::milliseconds(60000)),
            std::chrono::milliseconds(5000));
  clock_.Advance(seconds(2));
  notifier_.Update(Healthy());
  EXPECT_EQ(systemd_.Count("WATCHDOG=1"), 0) << "not due yet";
  clock_.Advance(seconds(3));
  notifier_.Update(Healthy());
  EXPECT_EQ(systemd_.Count("WATCHDOG=1"), 1);
}

TEST_F(ServiceNotifyTest, AStuckStageStopsThePingsAndTheyResumeWhenItMovesAgain) {
  notifier_.Update(Healthy());
  EXPECT_EQ(systemd_.Count("WATCHDOG=1"), 1);
  ServiceHealth stuck = Healthy();
  stuck.stalled = "store";
  for (int i = 0; i < 10; ++i) {  // 50 s: well past the 20 s watchdog interval
    clock_.Advance(seconds(5));
    notifier_.Update(stuck);
  }
  const std::vector<std::string> sent = systemd_.Take();
  EXPECT_EQ(std::count(sent.begin(), sent.end(), "WATCHDOG=1"), 0);
  EXPECT_EQ(std::count(sent.begin(), sent.end(),
                       "STATUS=local connected, upstream connected; backlog 0 records; store "
                       "thread stuck"),
            1);
  notifier_.Update(Healthy());
  EXPECT_EQ(systemd_.Count("WATCHDOG=1"), 1);
}

TEST_F(ServiceNotifyTest, NoWatchdogPingBeforeReady) {
  ServiceHealth h = Healthy();
  h.upstream_attempted = false;
  notifier_.Update(h);
  EXPECT_EQ(systemd_.Count("WATCHDOG=1"), 0);
}

TEST_F(ServiceNotifyTest, StoppingSaysSo) {
  notifier_.Stopping("draining");
  EXPECT_EQ(systemd_.Count("STOPPING=1\nSTATUS=draining"), 1);
}

TEST(ServiceNotify, WithoutNotifySocketNothingIsSentAndTheLoopKeepsItsPace) {
  weir::testing::FakeClock clock;
  ServiceNotifier notifier(platform::SystemdNotifier("", std::nullopt), clock);
  ServiceHealth h;
  notifier.Update(h);
  notifier.Stopping("draining");
  EXPECT_FALSE(notifier.ready_sent());
  EXPECT_EQ(notifier.NextUpdateIn(std::chrono::milliseconds(1000)),
            std::chrono::milliseconds(1000));
  EXPECT_EQ(notifier.stall_limit(), Clock::Duration::max());
}

}  // namespace
}  // namespace weir::app
