// IngestQueue: the hand-off from the MQTT callback to the store thread.
//
// Why not a blocking BoundedQueue: Paho C runs the callbacks of every client in the process on
// one shared receive thread, so a callback that waits for room would also stall the upstream
// client (its CONNACKs and PUBACKs), and the forwarder could not drain the very backlog that
// made the store slow (found by the pause_ingest integration test). So Push never blocks and
// never drops.
//
// Memory budget: the queue holds parsed messages up to `budget_bytes` (ingest.queue_budget_bytes).
// Past it, Ingest stops parsing: each message is already in the intake journal on disk
// (store/intake_journal.h), so the queue keeps only its number, and consecutive numbers collapse
// into one run item ("spilled"); the store thread reads a run back from the journal when it gets
// to it. The queue stays first-in first-out across parsed items and runs, so order holds, and
// memory stays bounded whatever the outage length or the quota policy. (Pausing the local
// connection instead was built and rejected: after each reconnect Paho delivered thousands of
// messages a second time, each becoming a new reading with a new sequence — 61,143 published,
// 172,793 received over 42 pauses. MQTT 5 Receive Maximum is no way out either: Paho
// acknowledges an inbound QoS 1 message before our callback runs.) A message the journal could
// not take (a full disk) is queued parsed whatever the budget: memory is then the last place it
// can be kept, and it is counted.
//
// Thread-safe. Close() is one-way: afterwards Push returns kCancelled (the item is counted as
// dropped by the caller; a journaled message is replayed at the next start), and consumers drain
// what was pushed before.
#pragma once

#include <algorithm>
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

// What the store thread receives for one inbound message: its readings, or a dead letter; or a
// run of journaled messages not parsed yet (spilled_last != 0).
struct IngestItem {
  std::vector<Reading> readings;
  std::optional<store::DeadLetter> dead_letter;
  std::chrono::steady_clock::time_point arrived{};  // monotonic arrival, for latency figures
  bool detected = false;  // the store thread has run detection on it (set once)
  // The message's number in the intake journal; 0 when it is not journaled (no journal, or the
  // journal refused it). For a run: its first number.
  uint64_t intake_number = 0;
  // A run: the journal holds messages intake_number..spilled_last, to be read back and parsed.
  uint64_t spilled_last = 0;
  bool spilled() const { return spilled_last != 0; }
};

// The memory an item holds, as counted against the budget (an estimate: allocator overhead and
// the deque's own blocks are not counted).
size_t IngestItemBytes(const IngestItem& item);

class IngestQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `budget_bytes` (at least 64 KiB) is the memory parsed items may hold before over_budget().
  explicit IngestQueue(size_t budget_bytes)
      : budget_bytes_(std::max<size_t>(budget_bytes, kMinBudgetBytes)) {}
  IngestQueue(const IngestQueue&) = delete;
  IngestQueue& operator=(const IngestQueue&) = delete;

  static constexpr size_t kMinBudgetBytes = 64 * 1024;

  // Never blocks. OK, or kCancelled when closed (the item is then not moved from).
  Status Push(IngestItem&& item);
  // Queues journal numbers first..last as a run (extending the last item when it is the run just
  // before). Never blocks. OK, or kCancelled when closed.
  Status PushSpilled(uint64_t first, uint64_t last);
  // Waits until an item is available or `deadline`; kDeadlineExceeded, or kCancelled once
  // closed and drained.
  Result<IngestItem> PopUntil(TimePoint deadline);
  std::optional<IngestItem> TryPop();
  void Close();

  bool closed() const;
  size_t size() const;  // items, a run counting as one
  size_t bytes() const;
  size_t budget_bytes() const { return budget_bytes_; }
  // Parsed items hold the whole budget: new messages should be spilled (stay in the journal).
  bool over_budget() const { return bytes() >= budget_bytes_; }
  // Messages held as journal numbers only, now.
  uint64_t spilled_messages() const;
  size_t high_water_bytes() const;

 private:
  const size_t budget_bytes_;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::deque<IngestItem> items_;
  bool closed_ = false;
  size_t bytes_ = 0;
  uint64_t spilled_ = 0;
  size_t high_water_bytes_ = 0;
};

}  // namespace weir::pipeline
