// platform/sd_notify: messages reach a real datagram socket standing in for systemd.
#include "platform/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "tests/support/test_support.h"

namespace weir::platform {
namespace {

using std::chrono::microseconds;

// A bound AF_UNIX datagram socket playing systemd's part.
class FakeSystemd {
 public:
  // `name` is a filesystem path or "@abstract".
  explicit FakeSystemd(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~FakeSystemd() { ::close(fd_); }
  bool bound() const { return bound_; }

  // The next datagram, or "<none>" if none arrives within five seconds.
  std::string Receive() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return "<none>";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_;
  bool bound_ = false;
};

TEST(SdNotify, SendsStateMessagesToAPathSocket) {
  weir::testing::TempDir dir;
  const std::string path = (dir / "notify").string();
  FakeSystemd systemd(path);
  ASSERT_TRUE(systemd.bound());
  SystemdNotifier notifier(path, std::nullopt);
  ASSERT_TRUE(notifier.enabled());
  ASSERT_TRUE(notifier.Ready().ok());
  EXPECT_EQ(systemd.Receive(), "READY=1");
  ASSERT_TRUE(notifier.Watchdog().ok());
  EXPECT_EQ(systemd.Receive(), "WATCHDOG=1");
  ASSERT_TRUE(notifier.SetStatus("forwarding\n3 pending").ok());
  EXPECT_EQ(systemd.Receive(), "STATUS=forwarding 3 pending");
  ASSERT_TRUE(notifier.Stopping().ok());
  EXPECT_EQ(systemd.Receive(), "STOPPING=1");
}

TEST(SdNotify, SendsToAnAbstractNamespaceSocket) {
  const std::string name = "@weir-sd-notify-test-" + std::to_string(::getpid());
  FakeSystemd systemd(name);
  ASSERT_TRUE(systemd.bound());
  SystemdNotifier notifier(name, std::nullopt);
  ASSERT_TRUE(notifier.Ready().ok());
  EXPECT_EQ(systemd.Receive(), "READY=1");
}

TEST(SdNotify, FromEnvironmentReadsSocketAndWatchdog) {
  weir::testing::TempDir dir;
  const std::string path = (dir / "notify").string();
  FakeSystemd systemd(path);
  ASSERT_TRUE(systemd.bound());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  const SystemdNotifier notifier = SystemdNotifier::FromEnvironment();
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  ASSERT_TRUE(notifier.Ready().ok());
  EXPECT_EQ(systemd.Receive(), "READY=1");
  ASSERT_TRUE(notifier.watchdog_interval().has_value());
  EXPECT_EQ(*notifier.watchdog_interval(), microseconds(30'000'000));
}

TEST(SdNotify, WatchdogMeantForAnotherPidIsIgnored) {
  ::setenv("WATCHDOG_USEC", "1000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  const SystemdNotifier other = SystemdNotifier::FromEnvironment();
  ::unsetenv("WATCHDOG_PID");
  const SystemdNotifier mine = SystemdNotifier::FromEnvironment();
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_FALSE(other.watchdog_interval().has_value());
  ASSERT_TRUE(mine.watchdog_interval().has_value());
  EXPECT_EQ(*mine.watchdog_interval(), microseconds(1'000'000));
}

TEST(SdNotify, WithoutSystemdEveryCallIsASuccessfulNoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
  const SystemdNotifier notifier = SystemdNotifier::FromEnvironment();
  EXPECT_FALSE(notifier.enabled());
  EXPECT_FALSE(notifier.watchdog_interval().has_value());
  EXPECT_TRUE(notifier.Ready().ok());
  EXPECT_TRUE(notifier.Watchdog().ok());
}

TEST(SdNotify, ASocketNobodyListensOnIsAnErrorNamingIt) {
  weir::testing::TempDir dir;
  const std::string path = (dir / "gone").string();
  const Status s = SystemdNotifier(path, std::nullopt).Ready();
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST(SdNotify, ARelativeSocketNameIsInvalid) {
  EXPECT_EQ(SystemdNotifier("relative/path", std::nullopt).Ready().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weir::platform
