// Worker: the body runs on a named thread, waits end early on stop, and destruction joins.
#include "agent/core/worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#ifdef __linux__
#include <pthread.h>
#endif

#include "platform/thread_name.h"
#include "tests/support/test_support.h"

namespace weir {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(Worker, RunsTheBodyOnItsOwnNamedThread) {
  platform::UseKernelThreadNames();  // what `weir` installs at start (platform/thread_name.h)
  std::atomic<bool> ran{false};
  std::string thread_name;
  auto worker = Worker::Start("weir-store-writer-long", [&](Worker&) {
#ifdef __linux__
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof(buf));
    thread_name = buf;
#endif
    ran = true;
  });
  ASSERT_TRUE(worker.ok());
  (*worker)->Join();
  EXPECT_TRUE(ran);
  EXPECT_EQ((*worker)->name(), "weir-store-writer-long");
#ifdef __linux__
  EXPECT_EQ(thread_name, "weir-store-writ");  // truncated to the kernel's 15 characters
#endif
}

TEST(Worker, StopInterruptsALongWait) {
  std::atomic<bool> waiting{false};
  std::atomic<int> wait_result{-1};
  auto worker = Worker::Start("backoff", [&](Worker& self) {
    waiting = true;
    wait_result = self.WaitFor(hours(1)) ? 1 : 0;
  });
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE(testing::WaitFor([&] { return waiting.load(); }));
  const auto start = steady_clock::now();
  (*worker)->RequestStop();
  (*worker)->Join();
  EXPECT_EQ(wait_result, 0);  // returned early, reporting the stop
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Worker, WaitForReturnsTrueWhenTheTimePasses) {
  std::atomic<int> wait_result{-1};
  auto worker = Worker::Start("short", [&](Worker& self) {
    const auto start = steady_clock::now();
    const bool full = self.WaitFor(milliseconds(10));
    wait_result = full && steady_clock::now() - start >= milliseconds(10) ? 1 : 0;
  });
  ASSERT_TRUE(worker.ok());
  (*worker)->Join();
  EXPECT_EQ(wait_result, 1);
}

TEST(Worker, WaitUntilWakesOnNotifyWhenThePredicateHolds) {
  std::atomic<bool> go{false};
  std::atomic<int> wait_result{-1};
  auto worker = Worker::Start("waiter", [&](Worker& self) {
    wait_result = self.WaitUntil([&] { return go.load(); }, steady_clock::now() + hours(1));
  });
  ASSERT_TRUE(worker.ok());
  go = true;
  (*worker)->Notify();
  ASSERT_TRUE(testing::WaitFor([&] { return wait_result.load() != -1; }));
  EXPECT_EQ(wait_result, 1);
  EXPECT_FALSE((*worker)->stop_requested());
}

TEST(Worker, WaitUntilReturnsFalseAtTheDeadline) {
  std::atomic<int> wait_result{-1};
  auto worker = Worker::Start("deadline", [&](Worker& self) {
    wait_result = self.WaitUntil([] { return false; }, steady_clock::now() + milliseconds(10));
  });
  ASSERT_TRUE(worker.ok());
  (*worker)->Join();
  EXPECT_EQ(wait_result, 0);
}

TEST(Worker, DestructionStopsAndJoinsALoopingBody) {
  std::atomic<int> iterations{0};
  std::atomic<bool> exited{false};
  {
    auto worker = Worker::Start("loop", [&](Worker& self) {
      while (!self.stop_requested()) {
        ++iterations;
        self.WaitFor(hours(1));
      }
      exited = true;
    });
    ASSERT_TRUE(worker.ok());
    ASSERT_TRUE(testing::WaitFor([&] { return iterations.load() > 0; }));
  }
  EXPECT_TRUE(exited);  // the destructor returned only after the body did
  EXPECT_EQ(iterations, 1);
}

TEST(Worker, StopBeforeTheBodyWaitsIsNotLost) {
  std::atomic<bool> release{false};
  std::atomic<int> wait_result{-1};
  auto worker = Worker::Start("early", [&](Worker& self) {
    while (!release.load()) std::this_thread::yield();
    wait_result = self.WaitFor(hours(1)) ? 1 : 0;
  });
  ASSERT_TRUE(worker.ok());
  (*worker)->RequestStop();
  release = true;
  (*worker)->Join();
  EXPECT_EQ(wait_result, 0);
}

// The watchdog's view: a body blocked outside the Worker's waits (a syscall, a lock, here a
// future) is busy since it left its last wait; a body waiting in WaitFor/WaitUntil is idle.
TEST(Worker, BusySinceMarksWorkOutsideTheWorkersWaits) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> phase{0};
  const auto before = steady_clock::now();
  auto worker = Worker::Start("busy", [&](Worker& w) {
    phase.store(1);
    released.wait();  // "stuck": not a Worker wait
    phase.store(2);
    w.WaitFor(hours(1));  // idle until stopped
  });
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE(testing::WaitFor([&] { return phase.load() == 1; }));
  const auto since = (*worker)->busy_since();
  ASSERT_TRUE(since.has_value());
  EXPECT_GE(*since, before);
  EXPECT_LE(*since, steady_clock::now());
  release.set_value();
  EXPECT_TRUE(testing::WaitFor([&] { return !(*worker)->busy_since().has_value(); }))
      << "a body waiting in WaitFor is idle, not stuck";
  (*worker)->RequestStop();
  (*worker)->Join();
  EXPECT_FALSE((*worker)->busy_since().has_value()) << "a finished body is not busy";
}

TEST(Worker, BeatRestartsTheBusyStretch) {
  std::atomic<int> beats{0};
  std::atomic<bool> go_on{true};
  auto worker = Worker::Start("beat", [&](Worker& w) {
    while (go_on.load()) {
      w.Beat();
      beats.fetch_add(1);
      std::this_thread::yield();
    }
  });
  ASSERT_TRUE(worker.ok());
  ASSERT_TRUE(testing::WaitFor([&] { return beats.load() > 10; }));
  const auto first = (*worker)->busy_since();
  ASSERT_TRUE(first.has_value());
  const int seen = beats.load();
  ASSERT_TRUE(testing::WaitFor([&] { return beats.load() > seen + 10; }));
  const auto later = (*worker)->busy_since();
  ASSERT_TRUE(later.has_value());
  EXPECT_GT(*later, *first) << "a beating body is never busy for long";
  go_on.store(false);
}

}  // namespace
}  // namespace weir
