// Worker: a named, long-lived thread with a stop flag and interruptible waits, so that shutdown
// never waits out a backoff sleep or a poll interval.
//
// The body runs once on the worker's own thread and is expected to loop until
// stop_requested(); it waits only through WaitFor/WaitUntil, which return early on Stop.
// Thread-safe: RequestStop, Notify and stop_requested may be called from any thread; WaitFor and
// WaitUntil are meant for the body (they work from any thread, but only the body should block
// the worker's shutdown). The destructor requests stop and joins, so a Worker owns its thread
// for exactly its own lifetime. Not copyable or movable (the body holds a reference to it).
//
// Progress, for the systemd watchdog: the body counts as busy from the moment it starts, leaves a
// WaitFor/WaitUntil or calls Beat(), until it enters the next wait. A body that stays busy far
// longer than a turn of its loop takes (blocked in a syscall or a lock, an endless loop) is
// stuck; one that waits is idle, which is healthy however long it lasts. A body that waits
// elsewhere (a queue's PopUntil) calls Beat() once per turn of its loop, and the wait must be
// short (the store thread's is idle_wake, 100 ms).
//
// Thread names: core is std-only, so the name is kept for name() and handed to a process-wide
// hook at the start of the thread; platform/thread_name.h installs the one that names the
// kernel's thread (SetUpProcessLogging does it for `weir`).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/core/status.h"

namespace weir {

class Worker {
 public:
  using Body = std::function<void(Worker&)>;
  using TimePoint = std::chrono::steady_clock::time_point;

  // Starts a thread named `name` running `body(worker)`. Returns kInternal if the OS refuses a
  // thread. Does not block.
  static Result<std::unique_ptr<Worker>> Start(std::string name, Body body);

  // Called with the worker's name first thing on each new worker thread; null for none (the
  // default). Thread-safe; affects workers started afterwards.
  using ThreadStartHook = void (*)(const std::string& name);
  static void SetThreadStartHook(ThreadStartHook hook);

  // Requests stop and joins.
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Sets the stop flag and wakes the body's wait. Idempotent; does not block.
  void RequestStop();
  // Waits for the body to return. Blocks; idempotent. Must not be called from the body itself.
  void Join();
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  const std::string& name() const { return name_; }

  // Wakes a WaitUntil so that it re-evaluates its predicate. Call after changing the state the
  // predicate reads (which must itself be thread-safe, e.g. atomic).
  void Notify();

  // Sleeps for `duration` unless stop is requested. Returns true if the full time passed, false if
  // it returned early because of RequestStop.
  bool WaitFor(std::chrono::nanoseconds duration);

  // Waits until `pred()` is true, stop is requested, or `deadline` passes; returns the last value
  // of `pred()`. The predicate runs under the worker's internal lock: keep it short and do not
  // call the Worker from it.
  bool WaitUntil(const std::function<bool()>& pred, TimePoint deadline);

  // Marks progress: the current busy stretch starts again now. For the body; does not block.
  void Beat() { MarkBusy(); }

  // When the body's current busy stretch began (steady_clock), or nullopt while it waits in
  // WaitFor/WaitUntil or after it returned. Any thread; does not block.
  std::optional<TimePoint> busy_since() const;

 private:
  explicit Worker(std::string name) : name_(std::move(name)) {}
  void Run(const Body& body);
  void MarkBusy();
  template <typename Pred>
  void WaitLocked(std::unique_lock<std::mutex>& lock, TimePoint deadline, Pred done);

  const std::string name_;
  std::atomic<bool> stop_{false};
  // busy_since() as steady_clock ticks; kIdle while waiting or finished.
  static constexpr int64_t kIdle = INT64_MIN;
  std::atomic<int64_t> busy_since_{kIdle};
  std::mutex mu_;
  std::condition_variable cv_;
  std::mutex join_mu_;  // serializes Join against itself
  std::thread thread_;
};

}  // namespace weir
