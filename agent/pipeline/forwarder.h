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
#include "agent/pipeline/reconnect_pacer.h"
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
  // One message: an encoded envelope and the sequences it covers.
  struct Piece {
    std::string bytes;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
    uint64_t prev_seq = 0;  // the envelope's prev_seq (a gap sent in its place keeps it)
    uint64_t readings = 0;
    uint64_t defects = 0;
    bool gap = false;
    uint64_t gap_records = 0;       // for a gap: the records it stands for
    bool rejection_gap = false;     // a gap sent in place of records given up
    TimeMicros oldest_time_us = 0;  // event-time range of the records (for a gap in its place)
    TimeMicros newest_time_us = 0;
    // Set when no message can carry these records (over any size limit): the piece is given up
    // with this reason when its turn comes, so acknowledgements stay in order.
    std::string dead_reason;
  };
  struct Inflight {
    Piece piece;
    transport::PublishToken token = 0;  // 0: not published (waiting for a retry)
    uint32_t attempts = 0;
    bool done = false;  // acknowledged, or given up on for good
    Clock::TimePoint retry_at{};
    // Refused at least once and not settled: the lane's window is narrowed to it.
    bool refused = false;
  };
  struct LaneState {
    Lane lane = Lane::kReadings;
    uint64_t acked = 0;           // the cursor: everything up to here is acknowledged
    uint64_t last_published = 0;  // last sequence of the last message published
    uint64_t read_upto = 0;       // last sequence turned into pieces (ready or published)
    std::deque<Piece> ready;      // encoded, not yet published
    std::deque<Inflight> inflight;
    bool exhausted = false;  // the last read found no more committed rows
    // Delays between tries of a refused message; reset when it is settled.
    Backoff refusal_backoff{BackoffOptions{}};
    // Ranges given up (first_seq -> the gap piece sent in their place), kept across reconnects
    // (not across restarts) so a resend sends the gap again instead of retrying the records and
    // dead-lettering them twice. Pruned as the cursor passes them.
    std::map<uint64_t, Piece> given_up;
    // Refusals counted so far per range (first_seq -> last_seq, tries), kept across reconnects
    // (not across restarts): a broker that drops the connection after each refusal (mosquitto
    // 2.0.11 with max_queued_messages 0 does) must not reset the count and retry forever.
    std::map<uint64_t, std::pair<uint64_t, uint32_t>> refusals;
  };

  Forwarder(ForwarderOptions options, transport::MqttClient& client, StoreStage& stage,
            const Clock& clock);
  void Run(Worker& worker);
  void Wake();
  // While disconnected: probes when due, connects when the pacer says so.
  void Reconnect(Clock::TimePoint now);
  void PushEvent(Event event);
  void HandleEvents();
  void OnDelivered(uint64_t token, const Status& result);
  void OnRefused(LaneState& lane, Inflight& m, const Status& result);
  void ResetLanes();
  void Fill();
  // Publishes the lane's next message; false when nothing was sent. `stop` is set when the
  // client cannot take more now (window full, or disconnected).
  bool FillLane(LaneState& lane, Clock::TimePoint now, bool* stop);
  bool NextPiece(LaneState& lane, Piece* piece);
  Status ReadMore(LaneState& lane);
  Status ReadRow(LaneState& lane, store::StoredRecord& row, codec::Envelope& defects);
  // Emits the pending defects envelope (consecutive defect rows), if any, and clears it.
  Status FlushDefects(LaneState& lane, codec::Envelope& defects);
  // The piece of `envelope` covering first..last (counts and event-time range; no bytes).
  static Piece PieceOf(const codec::Envelope& envelope, uint64_t first, uint64_t last,
                       uint64_t prev);
  // Publishes `entry` and tracks it in flight; the client's error otherwise.
  Status Send(LaneState& lane, Inflight& entry);
  // Encodes `envelope` into ready pieces (split under the size cap).
  Status Emit(LaneState& lane, const codec::Envelope& envelope);
  codec::Envelope Header(Lane lane, uint64_t first, uint64_t last, uint64_t prev) const;
  // The one builder of gap envelopes, for every kind of loss (evicted, damaged, rejected).
  codec::Envelope GapEnvelope(Lane lane, uint64_t first, uint64_t last, uint64_t prev,
                              uint64_t records, TimeMicros oldest, TimeMicros newest,
                              std::string reason) const;
  // Gives `entry` up: its whole message to the dead letters, and a "rejected" gap in its place,
  // published next (the lane stays narrowed until the gap is accepted).
  void GiveUp(LaneState& lane, Inflight& entry, std::string_view code, const std::string& reason);
  static Inflight* FirstRefused(LaneState& lane);
  static const Inflight* FirstRefused(const LaneState& lane);
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
