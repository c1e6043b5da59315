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
//    the same (device, log id, lane, sequence) (at-least-once); with messages in flight that
//    overtake one the broker refused (below) they are the only deviations from order.
//  - After a loss it probes the upstream every 0.25–0.75 s and connects within a random spread
//    once it answers; failed connects to a reachable broker back off (reconnect_pacer.h).
//  - A message the broker refuses (an MQTT 5 reason code >= 0x80) narrows its lane's window to
//    that message alone: nothing new is published in the lane until it is accepted or given up,
//    so only what was already in flight can overtake it (its envelope's prev_seq tells the
//    consumer what to wait for). It is sent again after a core/Backoff delay; after
//    max_attempts tries the whole message goes to the dead-letter table (source "upstream",
//    reason code "rejected") and a gap envelope with reason "rejected" is sent in its place, in
//    order, before the lane moves on. A record that cannot fit in any message (over the broker's
//    packet limit even alone) is given up the same way at once (reason code "too_large").
//
// Pieces: EnvelopeReader (envelope_reader.h) turns rows into messages, LaneWindow
// (lane_window.h) keeps each lane's in-flight window and moves its cursor, RefusalPolicy
// (refusal_policy.h) decides retries of refused messages; this class connects, publishes and
// handles the client's events.
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
#include <string_view>
#include <vector>

#include "agent/codec/envelope_codec.h"
#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/status.h"
#include "agent/core/worker.h"
#include "agent/pipeline/envelope_reader.h"
#include "agent/pipeline/forward_piece.h"
#include "agent/pipeline/lane_window.h"
#include "agent/pipeline/link_state.h"
#include "agent/pipeline/reconnect_pacer.h"
#include "agent/pipeline/refusal_policy.h"
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
  // Between failed MQTT connects to a broker that answers probes (reconnect_pacer.h).
  BackoffOptions backoff{std::chrono::milliseconds(500), std::chrono::seconds(60)};
  ReconnectPacing reconnect;  // probes while the upstream is away, and the fleet spread
};

struct ForwarderOptions {
  std::string device_id;
  LogId log_id;  // the log's identity, carried by every envelope (store::Log::log_id())
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
  uint64_t gaps_sent = 0;      // gap envelopes acknowledged
  uint64_t rejected_gaps = 0;  // of which sent in place of records given up (reason "rejected")
  uint64_t resends = 0;        // messages sent again after a reconnect or a rejection
  uint64_t rejections = 0;     // messages the broker refused
  uint64_t dead_letters = 0;   // messages given up on
  uint64_t connects = 0;       // successful connections
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
  struct LaneState {
    Lane lane = Lane::kReadings;
    uint64_t acked = 0;              // the cursor: everything up to here is acknowledged
    uint64_t last_published = 0;     // last sequence of the last message published
    uint64_t read_upto = 0;          // last sequence turned into pieces (ready or published)
    std::deque<ForwardPiece> ready;  // encoded, not yet published
    LaneWindow window;               // published, not yet settled
    bool exhausted = false;          // the last read found no more committed rows
    RefusalPolicy refusals;          // retries of refused messages, and ranges given up
  };

  Forwarder(ForwarderOptions options, transport::MqttClient& client, StoreStage& stage,
            const Clock& clock);
  void Run(Worker& worker);
  void Wake();
  // While disconnected: probes when due, connects when the pacer says so.
  void Reconnect(Clock::TimePoint now);
  void PushEvent(Event event);
  void HandleEvents();
  // Takes new settings handed over by UpdateSettings (under mu_).
  void ApplySettings();
  void OnConnected(Clock::TimePoint now);
  void OnLost(Clock::TimePoint now, const Status& reason);
  void OnDelivered(uint64_t token, const Status& result);
  void OnAccepted(LaneState& lane, InflightMessage& m);
  void OnRefused(LaneState& lane, InflightMessage& m, const Status& result);
  void ResetLanes();
  void Fill();
  // Publishes the lane's next message; false when nothing was sent. `stop` is set when the
  // client cannot take more now (window full, or disconnected).
  bool FillLane(LaneState& lane, Clock::TimePoint now, bool* stop);
  // The lane is narrowed to `held` (refused): sends it again when its retry is due.
  bool RetryHeld(LaneState& lane, InflightMessage& held, Clock::TimePoint now, bool* stop);
  // The client refused `entry` as over the broker's packet limit: lowers the message cap and
  // encodes what follows again (or gives `entry` up when it cannot get smaller).
  void OnPacketLimit(LaneState& lane, InflightMessage& entry, const Status& s,
                     uint64_t published_before);
  bool NextPiece(LaneState& lane, ForwardPiece* piece);
  // Publishes `entry` and tracks it in flight; the client's error otherwise.
  Status Send(LaneState& lane, InflightMessage& entry);
  // Gives `entry` up: its whole message to the dead letters, and a "rejected" gap in its place,
  // published next (the lane stays narrowed until the gap is accepted).
  void GiveUp(LaneState& lane, InflightMessage& entry, std::string_view code,
              const std::string& reason);
  void AdvanceAcks(LaneState& lane);
  void DeadLetter(const LaneState& lane, const ForwardPiece& piece, std::string_view code,
                  const std::string& reason);
  // The reader's limits from the settings and the learned packet limit.
  void UpdateReaderLimits();
  void PublishCounters();
  const std::string& TopicOf(Lane lane) const;
  void RefreshStats();
  std::optional<Clock::TimePoint> NextWake() const;

  const ForwarderOptions options_;
  transport::MqttClient& client_;
  StoreStage& stage_;
  const Clock& clock_;
  std::unique_ptr<store::LogReader> reader_;
  std::unique_ptr<EnvelopeReader> envelopes_;  // reads through reader_
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
  ReconnectPacer pacer_;
  Clock::TimePoint next_stats_at_{};
  LaneState lanes_[2];
  std::map<uint64_t, Lane> token_lane_;
  int inflight_ = 0;
  size_t learned_cap_ = 0;  // 0: none; else the largest message the broker took
  bool outage_logged_ = false;
  Clock::TimePoint down_since_{};
};

}  // namespace weir::pipeline
