// BoundedQueue<T>: a bounded, closable, multi-producer multi-consumer FIFO that joins weir's
// long-lived threads (ingest -> store, store -> forward).
//
// Thread-safe: every member may be called from any thread. The queue owns the items it holds.
// It offers the mechanisms of a full-policy (block, try, drop the oldest) and leaves the choice,
// and its counting, to the caller that owns the queue.
//
// Close() is one-way: afterwards every push fails with kCancelled and leaves the item with the
// caller, while consumers still drain what was pushed before Close(); once the queue is closed
// and empty, pops return kCancelled. Deadlines are std::chrono::steady_clock time points because
// blocking waits need real time; code that must be testable with a fake clock should not block.
#pragma once

#include <algorithm>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "agent/core/status.h"

namespace weir {

template <typename T>
class BoundedQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `capacity` must be at least 1.
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) { assert(capacity >= 1); }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Blocks while the queue is full. Returns OK once `item` is queued, or kCancelled if the queue
  // is (or becomes) closed. `item` is moved from only on success.
  Status Push(T&& item) { return PushUntil(std::move(item), TimePoint::max()); }

  // As Push, but gives up at `deadline` with kDeadlineExceeded.
  Status PushUntil(T&& item, TimePoint deadline) {
    std::unique_lock lock(mu_);
    if (!WaitWhileFull(lock, deadline)) {
      return closed_ ? ClosedStatus() : DeadlineExceeded("queue full until deadline");
    }
    PushLocked(std::move(item), lock);
    return Status::Ok();
  }

  // Never blocks. Returns OK, kResourceExhausted when full, or kCancelled when closed. `item` is
  // moved from only on success.
  Status TryPush(T&& item) {
    std::unique_lock lock(mu_);
    if (closed_) return ClosedStatus();
    if (items_.size() >= capacity_) return ResourceExhausted("queue full");
    PushLocked(std::move(item), lock);
    return Status::Ok();
  }

  // Never blocks. Queues `item`; if the queue was full, first removes the oldest item and returns
  // it (so the caller can count or dead-letter it), else returns nullopt. kCancelled when closed
  // (`item` is then not moved from).
  Result<std::optional<T>> PushDropOldest(T&& item) {
    std::unique_lock lock(mu_);
    if (closed_) return ClosedStatus();
    std::optional<T> dropped;
    if (items_.size() >= capacity_) {
      dropped.emplace(std::move(items_.front()));
      items_.pop_front();
    }
    PushLocked(std::move(item), lock);
    return Result<std::optional<T>>(std::move(dropped));
  }

  // Blocks until an item is available and returns it, or returns kCancelled once the queue is
  // closed and drained.
  Result<T> Pop() { return PopUntil(TimePoint::max()); }

  // As Pop, but gives up at `deadline` with kDeadlineExceeded.
  Result<T> PopUntil(TimePoint deadline) {
    std::unique_lock lock(mu_);
    if (!WaitWhileEmpty(lock, deadline)) {
      return closed_ ? ClosedStatus() : DeadlineExceeded("queue empty until deadline");
    }
    return PopLocked(lock);
  }

  // Never blocks: the oldest item, or nullopt when the queue is empty.
  std::optional<T> TryPop() {
    std::unique_lock lock(mu_);
    if (items_.empty()) return std::nullopt;
    return PopLocked(lock);
  }

  // For group commit: waits until `max` items are queued, the queue is closed, or `deadline`
  // passes, then appends up to `max` items (oldest first) to `out`. Returns OK if at least one
  // item was appended, kDeadlineExceeded if none came by the deadline, kCancelled if the queue is
  // closed and drained. With a deadline in the past it takes what is there without waiting.
  Status PopBatch(size_t max, TimePoint deadline, std::vector<T>* out) {
    assert(max >= 1 && out != nullptr);
    std::unique_lock lock(mu_);
    // A batch larger than the capacity can never fill; wait for a full queue instead.
    const size_t want = std::min(max, capacity_);
    auto ready = [&] { return closed_ || items_.size() >= want; };
    ++batch_waiters_;
    if (deadline == TimePoint::max()) {
      not_empty_.wait(lock, ready);
    } else {
      not_empty_.wait_until(lock, deadline, ready);
    }
    --batch_waiters_;
    if (items_.empty()) {
      return closed_ ? ClosedStatus() : DeadlineExceeded("no items until deadline");
    }
    const size_t n = std::min(max, items_.size());
    out->reserve(out->size() + n);
    for (size_t i = 0; i < n; ++i) {
      out->push_back(std::move(items_.front()));
      items_.pop_front();
    }
    lock.unlock();
    not_full_.notify_all();
    return Status::Ok();
  }

  // Closes the queue and wakes every waiter. Idempotent.
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  // The largest size the queue has reached since construction.
  size_t high_water() const {
    std::lock_guard lock(mu_);
    return high_water_;
  }

 private:
  static Status ClosedStatus() { return Cancelled("queue closed"); }

  // Returns true when there is room and the queue is open.
  bool WaitWhileFull(std::unique_lock<std::mutex>& lock, TimePoint deadline) {
    auto room = [&] { return closed_ || items_.size() < capacity_; };
    if (deadline == TimePoint::max()) {
      not_full_.wait(lock, room);
    } else {
      not_full_.wait_until(lock, deadline, room);
    }
    return !closed_ && items_.size() < capacity_;
  }

  // Returns true when an item is available (closed or not: readers drain after Close).
  bool WaitWhileEmpty(std::unique_lock<std::mutex>& lock, TimePoint deadline) {
    auto any = [&] { return closed_ || !items_.empty(); };
    if (deadline == TimePoint::max()) {
      not_empty_.wait(lock, any);
    } else {
      not_empty_.wait_until(lock, deadline, any);
    }
    return !items_.empty();
  }

  void PushLocked(T&& item, std::unique_lock<std::mutex>& lock) {
    items_.push_back(std::move(item));
    high_water_ = std::max(high_water_, items_.size());
    // A PopBatch waiter may not be satisfied by one more item; waking only it could leave a plain
    // Pop waiter asleep beside a queued item. So wake everyone while a batch waiter exists.
    const bool wake_all = batch_waiters_ > 0;
    lock.unlock();
    if (wake_all) {
      not_empty_.notify_all();
    } else {
      not_empty_.notify_one();
    }
  }

  T PopLocked(std::unique_lock<std::mutex>& lock) {
    T item = std::move(items_.front());
    items_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return item;
  }

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  size_t high_water_ = 0;
  int batch_waiters_ = 0;
  bool closed_ = false;
};

}  // namespace weir
