// platform/signals: blocked shutdown signals stay pending until the main loop waits for them.
#include "platform/signals.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace weir::platform {
namespace {

using std::chrono::milliseconds;

TEST(Signals, ARaisedSignalIsReturnedByTheWaiter) {
  ASSERT_TRUE(BlockShutdownSignals().ok());
  ASSERT_EQ(::raise(SIGTERM), 0);  // pending, not fatal, because it is blocked
  SignalWaiter waiter;
  auto sig = waiter.Wait(milliseconds(5000));
  ASSERT_TRUE(sig.ok()) << sig.status().ToString();
  ASSERT_TRUE(sig->has_value());
  EXPECT_EQ(**sig, SIGTERM);
}

TEST(Signals, WaitTimesOutWithNothingPending) {
  ASSERT_TRUE(BlockShutdownSignals().ok());
  SignalWaiter waiter;
  const auto start = std::chrono::steady_clock::now();
  auto sig = waiter.Wait(milliseconds(20));
  ASSERT_TRUE(sig.ok());
  EXPECT_FALSE(sig->has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(19));
}

TEST(Signals, PendingSignalsAreReturnedOneByOne) {
  ASSERT_TRUE(BlockShutdownSignals().ok());
  ASSERT_EQ(::raise(SIGHUP), 0);
  ASSERT_EQ(::raise(SIGINT), 0);
  SignalWaiter waiter;
  auto a = waiter.Wait(milliseconds(5000));
  auto b = waiter.Wait(milliseconds(5000));
  ASSERT_TRUE(a.ok() && b.ok() && a->has_value() && b->has_value());
  EXPECT_EQ((**a == SIGHUP && **b == SIGINT) || (**a == SIGINT && **b == SIGHUP), true);
  auto none = waiter.Wait(milliseconds(0));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

// Threads started after BlockShutdownSignals inherit the mask, so none of them can be killed by
// the signal's default action; a signal sent to the process reaches the waiting main thread.
TEST(Signals, ThreadsStartedAfterBlockingInheritTheMask) {
  ASSERT_TRUE(BlockShutdownSignals().ok());
  bool blocked_in_thread = false;
  std::thread sender([&] {
    sigset_t current;
    sigemptyset(&current);
    ::pthread_sigmask(SIG_BLOCK, nullptr, &current);
    blocked_in_thread = sigismember(&current, SIGTERM) == 1 && sigismember(&current, SIGINT) == 1 &&
                        sigismember(&current, SIGHUP) == 1;
    ::kill(::getpid(), SIGTERM);
  });
  SignalWaiter waiter;
  auto sig = waiter.Wait(milliseconds(5000));
  sender.join();
  EXPECT_TRUE(blocked_in_thread);
  ASSERT_TRUE(sig.ok());
  ASSERT_TRUE(sig->has_value());
  EXPECT_EQ(**sig, SIGTERM);
}

}  // namespace
}  // namespace weir::platform
