// LocalLink: keeps the ingest client connected to the local broker and subscribed.
//
// The MQTT client never reconnects by itself (agent/transport/mqtt_client.h); LocalLink does,
// spaced by capped exponential backoff with full jitter, and subscribes to the ingest filters on
// every connect (also when the broker kept our persistent session: subscribing again is harmless
// and picks up filters added by a reload). Inbound messages go straight to Ingest::OnMessage.
//
// It also watches the ingest queue and logs when the store thread falls behind and catches up
// (ingest_queue.h: past the memory budget messages wait in the intake journal). The journal is
// the one place that grows while the store cannot take messages (the quota's pause_ingest policy
// through a long outage), so it has a cap (ingest.journal_max_bytes): past it, and while the
// store is out of disk (store.min_free_bytes), LocalLink disconnects from the local broker,
// keeping its persistent session, so the broker holds what comes next; it connects again once
// the journal is below half the cap and the disk has room. The broker's
// redeliveries of what was journaled before the disconnect are recognised by Ingest
// (redelivery_filter.h), so a pause trades no loss for duplicates.
//
// Threads: one Worker thread ("weir-local") connects; the client's callbacks only record events.
// Public methods are thread-safe. Stop() blocks for the disconnect.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/worker.h"
#include "agent/pipeline/ingest.h"
#include "agent/pipeline/link_state.h"
#include "agent/transport/mqtt_client.h"

namespace weir::pipeline {

// When to stop taking messages; nothing without a journal.
struct JournalLimit {
  std::function<uint64_t()> journal_bytes;  // the journal's size on disk now (thread-safe)
  uint64_t max_bytes = 0;                   // 0: no cap
  // True while the store holds writes back for lack of disk (store.min_free_bytes reached, or
  // the disk full): the journal would only eat the space the backlog needs (thread-safe).
  std::function<bool()> disk_low;
};

class LocalLink {
 public:
  // `client`, `ingest` and `clock` must outlive the link. Sets the client's callbacks and starts
  // connecting at once.
  static Result<std::unique_ptr<LocalLink>> Start(transport::MqttClient& client, Ingest& ingest,
                                                  const IngestQueue& queue, BackoffOptions backoff,
                                                  int qos, const Clock& clock,
                                                  JournalLimit limit = {});
  ~LocalLink();  // Stop()s

  // Subscribes to the ingest's current filters now (after a reload), if connected.
  void Resubscribe();
  // Stops reconnecting and disconnects; messages already received have been handed to Ingest.
  // Blocks up to `timeout`.
  void Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  LinkState state() const { return state_.load(std::memory_order_acquire); }
  uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  // Connect attempts that failed (before ever connecting or after a loss): with connects(), how
  // many attempts have ended, so `weir run` can tell systemd it is ready once one has.
  uint64_t connect_failures() const { return connect_failures_.load(std::memory_order_relaxed); }
  // Times the ingest queue reached its capacity (the store thread fell behind).
  uint64_t saturations() const { return saturations_.load(std::memory_order_relaxed); }
  // Disconnected on purpose because the journal is over its cap.
  bool paused() const { return paused_.load(std::memory_order_relaxed); }
  uint64_t pauses() const { return pauses_.load(std::memory_order_relaxed); }

 private:
  LocalLink(transport::MqttClient& client, Ingest& ingest, const IngestQueue& queue,
            BackoffOptions backoff, int qos, const Clock& clock, JournalLimit limit)
      : client_(client),
        ingest_(ingest),
        queue_(queue),
        backoff_(backoff),
        qos_(qos),
        clock_(clock),
        limit_(std::move(limit)) {}
  void Run(Worker& worker);
  // Run's steps: the client's connected and lost events (flags set by its callbacks), and the
  // once-per-episode message that the store is behind.
  void OnConnected(bool* outage_logged);
  void OnLost(Clock::TimePoint* next_attempt, bool* outage_logged);
  void WatchSaturation(bool* saturated);
  // Pauses (disconnects) past the journal's cap and ends the pause below half of it.
  void WatchJournal(Clock::TimePoint* next_attempt);
  void Subscribe();
  void Wake();

  transport::MqttClient& client_;
  Ingest& ingest_;
  const IngestQueue& queue_;
  Backoff backoff_;  // worker thread only
  const int qos_;
  const Clock& clock_;
  const JournalLimit limit_;
  std::unique_ptr<Worker> worker_;
  std::atomic<Worker*> self_{nullptr};
  std::atomic<LinkState> state_{LinkState::kDisconnected};
  std::atomic<bool> lost_{false};       // a connection loss the worker has not handled yet
  std::atomic<bool> connected_{false};  // a connect the worker has not handled yet
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> connect_failures_{0};
  std::atomic<uint64_t> saturations_{0};
  std::atomic<bool> paused_{false};
  std::atomic<uint64_t> pauses_{0};
  std::mutex mu_;
  std::string last_error_;
};

}  // namespace weir::pipeline
