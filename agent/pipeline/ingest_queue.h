// IngestQueue: the hand-off from the MQTT callback to the store thread.
//
// Why not a blocking BoundedQueue: Paho C runs the callbacks of every client in the process on
// one shared receive thread, so a callback that waits for room would also stall the upstream
// client (its CONNACKs and PUBACKs), and the forwarder could not drain the very backlog that
// made the store slow (found by the pause_ingest integration test). So Push never blocks and
// never drops: the capacity is soft, and past it saturated() is reported (LocalLink logs it,
// status shows the depth).
//
// Decision, and its limit: memory is unbounded while the store thread cannot take messages (a
// disk stall, or the quota's pause_ingest policy during a long outage). The obvious bound —
// disconnecting from the local broker until the queue drains, so that the broker holds our
// persistent session's messages — was built and measured: every pause made Paho deliver
// thousands of messages a second time after the reconnect (61,143 published, 172,793 received
// over 42 pauses with the capacity lowered to 32 to provoke them), each a new reading with a new
// sequence, which breaks "never duplicates with a new identity". MQTT 5 Receive Maximum is no
// way out: Paho acknowledges an inbound QoS 1 message before our callback runs, so the broker's
// window never fills. Until a bound is measured that costs fewer duplicates than it saves (a hard
// cap far above the soft one), weir keeps what it received, in memory, and says so.
//
// Thread-safe. Close() is one-way: afterwards Push returns kCancelled (the item is counted as
// dropped by the caller), and consumers drain what was pushed before.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/store/log.h"

namespace weir::pipeline {

// What the store thread receives for one inbound message: its readings, or a dead letter.
struct IngestItem {
  std::vector<Reading> readings;
  std::optional<store::DeadLetter> dead_letter;
  std::chrono::steady_clock::time_point arrived{};  // monotonic arrival, for latency figures
  bool detected = false;  // the store thread has run detection on it (set once)
};

class IngestQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `capacity` (at least 2) is where saturated() starts.
  explicit IngestQueue(size_t capacity) : capacity_(capacity < 2 ? 2 : capacity) {}
  IngestQueue(const IngestQueue&) = delete;
  IngestQueue& operator=(const IngestQueue&) = delete;

  // Never blocks. OK, or kCancelled when closed (the item is then not moved from).
  Status Push(IngestItem&& item);
  // Waits until an item is available or `deadline`; kDeadlineExceeded, or kCancelled once
  // closed and drained.
  Result<IngestItem> PopUntil(TimePoint deadline);
  std::optional<IngestItem> TryPop();
  void Close();

  bool closed() const;
  size_t size() const;
  size_t capacity() const { return capacity_; }
  bool saturated() const { return size() >= capacity_; }
  // Room again after a saturation: at most half the capacity.
  bool relieved() const { return size() <= capacity_ / 2; }
  size_t high_water() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::deque<IngestItem> items_;
  bool closed_ = false;
  size_t high_water_ = 0;
};

}  // namespace weir::pipeline
