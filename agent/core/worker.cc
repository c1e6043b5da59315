// Worker: see worker.h.
#include "agent/core/worker.h"

#include <system_error>
#include <utility>

namespace weir {
namespace {

std::atomic<Worker::ThreadStartHook> g_thread_start_hook{nullptr};

}  // namespace

void Worker::SetThreadStartHook(ThreadStartHook hook) { g_thread_start_hook.store(hook); }

Result<std::unique_ptr<Worker>> Worker::Start(std::string name, Body body) {
  std::unique_ptr<Worker> worker(new Worker(std::move(name)));
  try {
    Worker* w = worker.get();
    worker->thread_ = std::thread([w, body = std::move(body)] { w->Run(body); });
  } catch (const std::system_error& e) {
    return Internal("starting thread '" + worker->name_ + "': " + e.what());
  }
  return worker;
}

Worker::~Worker() {
  RequestStop();
  Join();
}

void Worker::Run(const Body& body) {
  if (const ThreadStartHook hook = g_thread_start_hook.load()) hook(name_);
  MarkBusy();
  body(*this);
  busy_since_.store(kIdle, std::memory_order_release);
}

void Worker::MarkBusy() {
  busy_since_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                    std::memory_order_release);
}

std::optional<Worker::TimePoint> Worker::busy_since() const {
  const int64_t ticks = busy_since_.load(std::memory_order_acquire);
  if (ticks == kIdle) return std::nullopt;
  return TimePoint(TimePoint::duration(ticks));
}

void Worker::RequestStop() {
  {
    // Under the lock so that a waiter cannot check the flag, miss the store and then sleep.
    std::lock_guard lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

void Worker::Join() {
  std::lock_guard lock(join_mu_);
  if (thread_.joinable()) thread_.join();
}

void Worker::Notify() {
  { std::lock_guard lock(mu_); }  // orders the caller's state change before a waiter's re-check
  cv_.notify_all();
}

template <typename Pred>
void Worker::WaitLocked(std::unique_lock<std::mutex>& lock, TimePoint deadline, Pred done) {
  busy_since_.store(kIdle, std::memory_order_release);
  if (deadline == TimePoint::max()) {
    cv_.wait(lock, done);
  } else {
    cv_.wait_until(lock, deadline, done);
  }
  MarkBusy();
}

bool Worker::WaitFor(std::chrono::nanoseconds duration) {
  const TimePoint now = std::chrono::steady_clock::now();
  // Saturate rather than overflow for "wait until stopped" durations such as nanoseconds::max().
  const TimePoint deadline = duration >= TimePoint::max() - now ? TimePoint::max() : now + duration;
  std::unique_lock lock(mu_);
  WaitLocked(lock, deadline, [this] { return stop_requested(); });
  return !stop_requested();
}

bool Worker::WaitUntil(const std::function<bool()>& pred, TimePoint deadline) {
  std::unique_lock lock(mu_);
  WaitLocked(lock, deadline, [&] { return stop_requested() || pred(); });
  return pred();
}

}  // namespace weir
