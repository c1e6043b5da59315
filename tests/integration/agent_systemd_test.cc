// `weir run` under a fake systemd (issue 11): the real binary with NOTIFY_SOCKET pointing at a
// datagram socket this test binds, and WATCHDOG_USEC set, against two real mosquitto brokers.
// It must say READY=1 after connecting, keep STATUS= current, ping the watchdog while idle and
// while the upstream is down (idle is not stuck), and say STOPPING=1 on SIGTERM.
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "tests/integration/agent_harness.h"
#include "tests/support/test_support.h"

namespace weir {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::AgentRig;

// The systemd side of the notify protocol: a bound AF_UNIX datagram socket.
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

  // Receives until a message satisfying `match` arrives or `timeout` passes; every message is
  // kept in messages(). True when one matched.
  bool WaitFor(const std::function<bool(const std::string&)>& match, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0) return false;
      messages_.emplace_back(buf, static_cast<size_t>(n));
      if (match(messages_.back())) return true;
    }
  }
  bool WaitFor(const std::string& exact, milliseconds timeout) {
    return WaitFor([&](const std::string& m) { return m == exact; }, timeout);
  }
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  int fd_;
  bool bound_ = false;
  std::vector<std::string> messages_;
};

// Sets the systemd variables for the agent the rig starts, and clears them afterwards.
class SystemdEnvironment {
 public:
  SystemdEnvironment(const std::string& socket, std::chrono::microseconds watchdog) {
    ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
    ::setenv("WATCHDOG_USEC", std::to_string(watchdog.count()).c_str(), 1);
  }
  ~SystemdEnvironment() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
  }
};

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(AgentSystemd, ReadyStatusWatchdogAndStoppingReachSystemd) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  const std::string socket = (rig->dir() / "notify").string();
  FakeSystemd systemd(socket);
  ASSERT_TRUE(systemd.bound());
  // 2 s: pings every 500 ms, a stage busy for 1 s without waiting counts as stuck.
  SystemdEnvironment env(socket, seconds(2));
  ASSERT_TRUE(rig->StartAgent()) << rig->AgentStderr();

  ASSERT_TRUE(systemd.WaitFor("READY=1", seconds(20))) << rig->AgentStderr();
  EXPECT_TRUE(systemd.WaitFor(
      [](const std::string& m) {
        return StartsWith(m, "STATUS=local connected, upstream connected; backlog ");
      },
      seconds(20)));
  // Idle (no readings at all) is healthy: the pings keep coming.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(systemd.WaitFor("WATCHDOG=1", seconds(5))) << "ping " << i;
  }

  // The upstream goes away: the status says so and the pings go on, since waiting for a broker
  // is not a stuck thread.
  ASSERT_TRUE(rig->upstream().Stop().ok());
  EXPECT_TRUE(systemd.WaitFor(
      [](const std::string& m) { return StartsWith(m, "STATUS=local connected, upstream disc"); },
      seconds(20)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(systemd.WaitFor("WATCHDOG=1", seconds(5))) << "ping " << i << " with upstream down";
  }

  EXPECT_EQ(rig->StopAgent(), 0);
  EXPECT_EQ(rig->AgentStderr().find("made no progress"), std::string::npos) << rig->AgentStderr();
  EXPECT_TRUE(systemd.WaitFor([](const std::string& m) { return StartsWith(m, "STOPPING=1"); },
                              seconds(5)));
}

}  // namespace
}  // namespace weir
