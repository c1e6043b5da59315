#include "agent/pipeline/local_link.h"

#include <algorithm>

#include "agent/core/logging.h"

namespace weir::pipeline {

Result<std::unique_ptr<LocalLink>> LocalLink::Start(transport::MqttClient& client, Ingest& ingest,
                                                    const IngestQueue& queue,
                                                    BackoffOptions backoff, int qos,
                                                    const Clock& clock, JournalLimit limit) {
  std::unique_ptr<LocalLink> link(
      new LocalLink(client, ingest, queue, backoff, qos, clock, std::move(limit)));
  LocalLink* raw = link.get();
  transport::MqttCallbacks callbacks;
  callbacks.on_connected = [raw](bool) {
    // On the callback thread, before any message of the new connection.
    raw->ingest_.OnConnected();
    raw->connected_.store(true, std::memory_order_release);
    raw->Wake();
  };
  callbacks.on_connection_lost = [raw](const Status& reason) {
    {
      std::lock_guard lock(raw->mu_);
      raw->last_error_ = reason.ToString();
    }
    raw->lost_.store(true, std::memory_order_release);
    raw->Wake();
  };
  callbacks.on_subscribed = [](const Status& result) {
    if (!result.ok())
      LogError("ingest", "local broker refused a subscription: " + result.ToString());
  };
  callbacks.on_message = [raw](const transport::InboundMessage& m) { raw->ingest_.OnMessage(m); };
  client.SetCallbacks(std::move(callbacks));
  WEIR_ASSIGN_OR_RETURN(link->worker_,
                        Worker::Start("weir-local", [raw](Worker& w) { raw->Run(w); }));
  return link;
}

LocalLink::~LocalLink() { Stop(); }

void LocalLink::Wake() {
  // The body publishes its Worker once it runs, so a callback never reads worker_ while Start()
  // is still assigning it.
  if (Worker* w = self_.load(std::memory_order_acquire)) w->Notify();
}

void LocalLink::Subscribe() {
  std::vector<transport::Subscription> subs;
  for (const std::string& filter : ingest_.Filters()) subs.push_back({filter, qos_});
  const Status s = client_.Subscribe(subs);
  if (!s.ok()) LogWarn("ingest", "subscribe failed: " + s.ToString());
}

void LocalLink::Resubscribe() {
  if (state() == LinkState::kConnected) Subscribe();
}

void LocalLink::Run(Worker& worker) {
  Clock::TimePoint next_attempt = clock_.Now();
  bool outage_logged = false;
  bool saturated = false;
  self_.store(&worker, std::memory_order_release);
  while (!worker.stop_requested()) {
    if (connected_.exchange(false, std::memory_order_acq_rel)) OnConnected(&outage_logged);
    if (lost_.exchange(false, std::memory_order_acq_rel)) OnLost(&next_attempt, &outage_logged);
    WatchSaturation(&saturated);
    WatchJournal(&next_attempt);
    if (state() == LinkState::kDisconnected && !paused() && clock_.Now() >= next_attempt) {
      const Status s = client_.Connect();
      if (s.ok()) {
        state_.store(LinkState::kConnecting, std::memory_order_release);
      } else if (s.code() != StatusCode::kFailedPrecondition) {
        next_attempt = clock_.Now() + backoff_.Next();
      }
    }
    // Look at the queue's level 20 times a second (cheap; the callback does not wake this
    // thread for it, to stay as short as possible).
    const Clock::TimePoint poll = clock_.Now() + std::chrono::milliseconds(50);
    const Clock::TimePoint deadline =
        state() == LinkState::kDisconnected ? std::min(next_attempt, poll) : poll;
    worker.WaitUntil(
        [this] {
          return connected_.load(std::memory_order_acquire) ||
                 lost_.load(std::memory_order_acquire);
        },
        deadline);
  }
}

void LocalLink::OnConnected(bool* outage_logged) {
  state_.store(LinkState::kConnected, std::memory_order_release);
  connects_.fetch_add(1, std::memory_order_relaxed);
  backoff_.Reset();
  Subscribe();
  LogInfo("ingest", *outage_logged ? "local broker connected again" : "local broker connected");
  *outage_logged = false;
}

void LocalLink::OnLost(Clock::TimePoint* next_attempt, bool* outage_logged) {
  const bool was_connected = state() == LinkState::kConnected;
  state_.store(LinkState::kDisconnected, std::memory_order_release);
  if (!was_connected) connect_failures_.fetch_add(1, std::memory_order_relaxed);
  *next_attempt = clock_.Now() + backoff_.Next();
  if (*outage_logged) return;
  std::string error;
  {
    std::lock_guard lock(mu_);
    error = last_error_;
  }
  LogWarn("ingest", std::string(was_connected ? "local broker connection lost: "
                                              : "local broker connect failed: ") +
                        error + "; retrying with backoff");
  *outage_logged = true;
}

// The store thread is behind (a disk stall, or the quota's pause_ingest policy): say so once per
// episode. Nothing is paused or dropped here: past the memory budget new messages wait in the
// intake journal (ingest_queue.h).
void LocalLink::WatchSaturation(bool* saturated) {
  const uint64_t spilled = queue_.spilled_messages();
  if (!*saturated && spilled > 0) {
    *saturated = true;
    saturations_.fetch_add(1, std::memory_order_relaxed);
    LogWarn("ingest", "the store is behind: the ingest queue's memory budget (" +
                          std::to_string(queue_.budget_bytes()) +
                          " bytes) is spent; new messages wait in the intake journal");
  } else if (*saturated && spilled == 0 && queue_.bytes() <= queue_.budget_bytes() / 2) {
    *saturated = false;
    LogInfo("ingest", "the store caught up");
  }
}

void LocalLink::WatchJournal(Clock::TimePoint* next_attempt) {
  if (!limit_.journal_bytes) return;
  const uint64_t bytes = limit_.journal_bytes();
  const bool over = limit_.max_bytes != 0 && bytes > limit_.max_bytes;
  const bool disk_low = limit_.disk_low && limit_.disk_low();
  if (!paused() && (over || disk_low)) {
    paused_.store(true, std::memory_order_relaxed);
    pauses_.fetch_add(1, std::memory_order_relaxed);
    LogWarn("ingest", (over ? "the intake journal holds " + std::to_string(bytes) +
                                  " bytes, over ingest.journal_max_bytes"
                            : std::string("the disk is at its reserve (store.min_free_bytes)")) +
                          ": disconnecting from the local broker, which keeps our session's "
                          "messages, until the store catches up");
    const Status s = client_.Disconnect(std::chrono::milliseconds(2000));
    if (!s.ok()) LogDebug("ingest", "disconnect: " + s.ToString());
    state_.store(LinkState::kDisconnected, std::memory_order_release);
  } else if (paused() && !disk_low && (limit_.max_bytes == 0 || bytes <= limit_.max_bytes / 2)) {
    paused_.store(false, std::memory_order_relaxed);
    LogInfo("ingest", "the journal and the disk have room again: connecting to the local broker");
    *next_attempt = clock_.Now();
  }
}

void LocalLink::Stop(std::chrono::milliseconds timeout) {
  if (!worker_) return;
  worker_->RequestStop();
  worker_->Join();
  self_.store(nullptr, std::memory_order_release);
  worker_.reset();
  const Status s = client_.Disconnect(timeout);
  if (!s.ok()) LogDebug("ingest", "disconnect: " + s.ToString());
  state_.store(LinkState::kDisconnected, std::memory_order_release);
}

}  // namespace weir::pipeline
