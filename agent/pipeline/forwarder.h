// Forwarder: sends the on-device log upstream, in sequence order per lane, and moves the log's
// cursor only past what the upstream broker acknowledged.
//
// How (the full rules are in agent/pipeline/README.md):
//  - It reads committed rows through its own read-only LogReader, turns them into envelopes
//    (agent/codec/envelope_codec.h: a stored chunk blob is shipped unchanged when it fits;
//    otherwise batches are re-encoded and split under max_message_bytes), and publishes them at
//    QoS 1 on <prefix>/<device>/defects and <prefix>/<device>/data.
//  - The defects lane goes first: whenever a defect is committed it is sent before further
//    readings.
//  - At most max_inflight messages are unacknowledged. The acked position of a lane advances only
//    over a prefix of acknowledged messages, so a gap in acknowledgements never moves it.
//  - When the connection breaks, every unacknowledged message is sent again, in order, after
//    the reconnect; after a restart the same happens from the persisted cursor. Duplicates carry
//    the same (device, sequence) and are the only deviation (at-least-once).
//  - Reconnects are spaced by capped exponential backoff with full jitter.
//  - A message the broker rejects (an MQTT 5 reason code) is sent again, with the messages after
//    it (to keep the order), after a backoff delay; after max_attempts tries it is written to the
//    dead-letter table (source "upstream", reason code "rejected") and forwarding goes on. A
//    record that cannot fit in any message (over the broker's packet limit even alone) is
//    dead-lettered at once (reason code "too_large").
//
// Threads: one Worker thread ("weir-forward") does all the work; the MQTT callbacks only queue
// events for it. Public methods are thread-safe. Stop() blocks until the thread has ended.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/codec/envelope_codec.h"
#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/status.h"
#include "agent/core/worker.h"
#include "agent/pipeline/link_state.h"
#include "agent/pipeline/store_stage.h"
#include "agent/store/log.h"
#include "agent/transport/mqtt_client.h"

namespace weir::pipeline {

// Settings a reload may change while running.
struct ForwarderSettings {
  codec::EnvelopeFormat format = codec::EnvelopeFormat::kBinary;
  size_t max_message_bytes = 128 * 1024;
  size_t batch_readings = 1000;  // most readings in one message
  int max_inflight = 16;
  uint32_t max_attempts = 10;  // tries of a rejected message before it is dead-lettered
  BackoffOptions backoff{std::chrono::milliseconds(500), std::chrono::seconds(60)};
};

struct ForwarderOptions {
  std::string device_id;
  uint64_t boot_epoch = 0;
  std::string data_topic;     // <prefix>/<device>/data
  std::string defects_topic;  // <prefix>/<device>/defects
  std::filesystem::path log_path;
  ForwarderSettings settings;
  // How often the backlog figures (bytes, oldest unsent) are refreshed from the log.
  std::chrono::milliseconds stats_interval{2000};
};

struct ForwarderCounters {
  LinkState state = LinkState::kDisconnected;
  uint64_t messages_sent = 0;  // publishes, including resends
  uint64_t messages_acked = 0;
  uint64_t readings_acked = 0;  // readings in acknowledged messages (first time per sequence)
  uint64_t defects_acked = 0;
  uint64_t gaps_sent = 0;     // gap envelopes acknowledged
  uint64_t resends = 0;       // messages sent again after a reconnect or a rejection
  uint64_t rejections = 0;    // messages the broker refused
  uint64_t dead_letters = 0;  // messages given up on
  uint64_t connects = 0;      // successful connections
  uint64_t connection_losses = 0;
  int inflight = 0;
  uint64_t acked_seq[2] = {0, 0};  // per lane (defects, readings)
  // Backlog, refreshed every stats_interval from the log.
  uint64_t backlog_rows = 0;
  uint64_t backlog_bytes = 0;       // encoded bytes of unsent rows (estimate: rows x mean row)
  TimeMicros oldest_unsent_us = 0;  // event time of the oldest unsent record; 0 when none
  std::string last_error;           // the last connection error, for status
};

class Forwarder {
 public:
  // Opens the log read-only and starts the thread, which connects at once. `client`, `stage`
  // and `clock` must outlive the Forwarder; the Forwarder sets the client's callbacks.
  static Result<std::unique_ptr<Forwarder>> Start(ForwarderOptions options,
                                                  transport::MqttClient& client, StoreStage& stage,
                                                  const Clock& clock);
  ~Forwarder();  // Stop()s

  // Wakes the thread: new rows were committed. Non-blocking; called from the store thread.
  void NotifyCommitted();
  // Applies new settings (reload). Messages in flight keep their encoding.
  void UpdateSettings(const ForwarderSettings& settings);

  // Blocks until everything committed so far is acknowledged, the connection is down (not
  // while a connect is under way), or `deadline` passes. True when nothing is left
  // unacknowledged.
  bool Drain(std::chrono::steady_clock::time_point deadline);
  // Ends the thread, then disconnects the client (in-flight messages stay in the log and are
  // sent after the next start). Blocks up to `disconnect_timeout` plus a thread turn.
  void Stop(std::chrono::milliseconds disconnect_timeout = std::chrono::milliseconds(1000));

  ForwarderCounters counters() const;
  // When the forward thread's current stretch of work began, nullopt while it waits (Worker's
  // busy_since, for the watchdog). Call from the thread that calls Stop.
  std::optional<Clock::TimePoint> busy_since() const {
    return worker_ ? worker_->busy_since() : std::nullopt;
  }

 private:
  struct Event {
    enum class Kind { kConnected, kLost, kDelivered } kind = Kind::kDelivered;
    Status status;
    transport::PublishToken token = 0;
  };
  // One message: an encoded envelope and the sequences it covers.
  struct Piece {
    std::string bytes;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    uint64_t readings = 0;
    uint64_t defects = 0;
    bool gap = false;
    // Set when no message can carry these records (over any size limit): the piece is
    // dead-lettered with this reason when its turn comes, so acknowledgements stay in order.
    std::string dead_reason;
  };
  struct Inflight {
    Piece piece;
    transport::PublishToken token = 0;  // 0: not published (waiting for a retry)
    uint32_t attempts = 0;
    bool done = false;  // acknowledged, or given up on (dead-lettered)
    Clock::TimePoint retry_at{};
  };
  struct LaneState {
    Lane lane = Lane::kReadings;
    uint64_t acked = 0;           // the cursor: everything up to here is acknowledged
    uint64_t last_published = 0;  // last sequence of the last message published
    uint64_t read_upto = 0;       // last sequence turned into pieces (ready or published)
    std::deque<Piece> ready;      // encoded, not yet published
    std::deque<Inflight> inflight;
    bool exhausted = false;  // the last read found no more committed rows
  };

  Forwarder(ForwarderOptions options, transport::MqttClient& client, StoreStage& stage,
            const Clock& clock);
  void Run(Worker& worker);
  void Wake();
  void PushEvent(Event event);
  void HandleEvents();
  void OnDelivered(uint64_t token, const Status& result);
  void ResetLanes();
  void Fill();
  bool NextPiece(LaneState& lane, Piece* piece);
  Status ReadMore(LaneState& lane);
  void AdvanceAcks(LaneState& lane);
  void DeadLetter(const LaneState& lane, const Piece& piece, std::string_view code,
                  const std::string& reason);
  void PublishCounters();
  const std::string& TopicOf(Lane lane) const;
  void RefreshStats();
  std::optional<Clock::TimePoint> NextWake() const;

  const ForwarderOptions options_;
  transport::MqttClient& client_;
  StoreStage& stage_;
  const Clock& clock_;
  std::unique_ptr<store::LogReader> reader_;
  std::unique_ptr<Worker> worker_;
  std::atomic<Worker*> self_{nullptr};

  // Shared with callbacks and other threads.
  mutable std::mutex mu_;
  std::condition_variable drain_cv_;
  std::deque<Event> events_;
  ForwarderSettings pending_settings_;
  bool settings_changed_ = false;
  ForwarderCounters counters_;
  std::atomic<bool> events_pending_{false};
  std::atomic<uint64_t> committed_seen_{0};
  std::atomic<bool> drained_{false};

  // Worker thread only.
  ForwarderSettings settings_;
  LinkState state_ = LinkState::kDisconnected;
  Backoff backoff_;
  Clock::TimePoint next_connect_at_{};
  Clock::TimePoint next_stats_at_{};
  LaneState lanes_[2];
  std::map<uint64_t, Lane> token_lane_;
  int inflight_ = 0;
  size_t learned_cap_ = 0;  // 0: none; else the largest message the broker took
  bool outage_logged_ = false;
  Clock::TimePoint down_since_{};
};

}  // namespace weir::pipeline
