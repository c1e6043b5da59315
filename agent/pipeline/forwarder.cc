#include "agent/pipeline/forwarder.h"

#include <algorithm>
#include <random>
#include <utility>

#include "agent/core/logging.h"

namespace weir::pipeline {
namespace {

size_t Index(Lane lane) { return lane == Lane::kDefects ? 0 : 1; }

// "readings 10..12": a piece's lane and range, for logs and dead letters.
template <typename P>
std::string RangeText(Lane lane, const P& piece) {
  return std::string(store::LaneName(lane)) + " " + std::to_string(piece.first_seq) + ".." +
         std::to_string(piece.last_seq);
}

std::string Millis(Clock::Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

Forwarder::Forwarder(ForwarderOptions options, transport::MqttClient& client, StoreStage& stage,
                     const Clock& clock)
    : options_(std::move(options)),
      client_(client),
      stage_(stage),
      clock_(clock),
      settings_(options_.settings),
      pacer_(options_.settings.reconnect, options_.settings.backoff, std::random_device{}()) {
  lanes_[0].lane = Lane::kDefects;
  lanes_[1].lane = Lane::kReadings;
  for (LaneState& lane : lanes_) {
    lane.refusals.Configure(settings_.backoff, settings_.max_attempts);
  }
}

Result<std::unique_ptr<Forwarder>> Forwarder::Start(ForwarderOptions options,
                                                    transport::MqttClient& client,
                                                    StoreStage& stage, const Clock& clock) {
  std::unique_ptr<Forwarder> f(new Forwarder(std::move(options), client, stage, clock));
  WEIR_ASSIGN_OR_RETURN(f->reader_, store::LogReader::Open(f->options_.log_path));
  f->envelopes_ = std::make_unique<EnvelopeReader>(
      EnvelopeIdentity{f->options_.device_id, f->options_.log_id, f->options_.boot_epoch},
      *f->reader_, clock);
  f->UpdateReaderLimits();
  for (LaneState& lane : f->lanes_) lane.acked = stage.acked(lane.lane);
  f->ResetLanes();
  Forwarder* raw = f.get();
  transport::MqttCallbacks callbacks;
  callbacks.on_connected = [raw](bool) { raw->PushEvent({Event::Kind::kConnected, {}, 0}); };
  callbacks.on_connection_lost = [raw](const Status& reason) {
    raw->PushEvent({Event::Kind::kLost, reason, 0});
  };
  callbacks.on_delivered = [raw](transport::PublishToken token, const Status& result) {
    raw->PushEvent({Event::Kind::kDelivered, result, token});
  };
  client.SetCallbacks(std::move(callbacks));
  WEIR_ASSIGN_OR_RETURN(f->worker_,
                        Worker::Start("weir-forward", [raw](Worker& w) { raw->Run(w); }));
  return f;
}

Forwarder::~Forwarder() { Stop(); }

void Forwarder::PushEvent(Event event) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
  }
  events_pending_.store(true, std::memory_order_release);
  Wake();
}

void Forwarder::NotifyCommitted() {
  drained_.store(false, std::memory_order_release);
  Wake();
}

void Forwarder::UpdateSettings(const ForwarderSettings& settings) {
  {
    std::lock_guard lock(mu_);
    pending_settings_ = settings;
    settings_changed_ = true;
  }
  events_pending_.store(true, std::memory_order_release);
  Wake();
}

ForwarderCounters Forwarder::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

const std::string& Forwarder::TopicOf(Lane lane) const {
  return lane == Lane::kDefects ? options_.defects_topic : options_.data_topic;
}

void Forwarder::ResetLanes() {
  for (LaneState& lane : lanes_) {
    lane.last_published = lane.acked;
    lane.read_upto = lane.acked;
    lane.ready.clear();
    lane.window.Clear();
    lane.exhausted = false;
    lane.refusals.ResetDelay();
  }
  token_lane_.clear();
  inflight_ = 0;
}

void Forwarder::HandleEvents() {
  events_pending_.store(false, std::memory_order_release);
  std::deque<Event> events;
  {
    std::lock_guard lock(mu_);
    events.swap(events_);
    if (settings_changed_) ApplySettings();
  }
  const Clock::TimePoint now = clock_.Now();
  for (Event& event : events) {
    switch (event.kind) {
      case Event::Kind::kConnected:
        OnConnected(now);
        break;
      case Event::Kind::kLost:
        OnLost(now, event.status);
        break;
      case Event::Kind::kDelivered:
        OnDelivered(event.token, event.status);
        break;
    }
  }
}

void Forwarder::ApplySettings() {
  settings_ = pending_settings_;
  settings_changed_ = false;
  pacer_ = ReconnectPacer(settings_.reconnect, settings_.backoff, std::random_device{}());
  pacer_.Start(clock_.Now());  // if disconnected, try at once under the new settings
  UpdateReaderLimits();
  for (LaneState& lane : lanes_) {
    // Pieces encoded under the old settings are encoded again.
    lane.ready.clear();
    lane.read_upto = lane.last_published;
    lane.refusals.Configure(settings_.backoff, settings_.max_attempts);
  }
}

void Forwarder::UpdateReaderLimits() {
  EnvelopeLimits limits;
  limits.format = settings_.format;
  limits.batch_readings = settings_.batch_readings;
  limits.max_message_bytes = learned_cap_ != 0 ? std::min(learned_cap_, settings_.max_message_bytes)
                                               : settings_.max_message_bytes;
  envelopes_->set_limits(limits);
}

void Forwarder::OnConnected(Clock::TimePoint now) {
  state_ = LinkState::kConnected;
  pacer_.OnConnected();
  if (outage_logged_) {
    LogInfo("forward", "upstream connected after " + Millis(now - down_since_) +
                           "; resending from the acknowledged cursor");
  } else {
    LogInfo("forward", "upstream connected");
  }
  outage_logged_ = false;
  ResetLanes();
  std::lock_guard lock(mu_);
  ++counters_.connects;
}

void Forwarder::OnLost(Clock::TimePoint now, const Status& reason) {
  uint64_t unacked = 0;
  for (const LaneState& lane : lanes_) unacked += lane.window.Unsettled();
  const bool was_connected = state_ == LinkState::kConnected;
  state_ = LinkState::kDisconnected;
  ResetLanes();
  pacer_.OnDisconnected(now, was_connected);
  const std::string retry =
      pacer_.last_backoff().count() > 0
          ? "; connecting again in " + Millis(pacer_.last_backoff()) + " at the earliest"
          : "; probing it every " + Millis(settings_.reconnect.probe_min) + "–" +
                Millis(settings_.reconnect.probe_max);
  if (!outage_logged_) {
    down_since_ = now;
    outage_logged_ = true;
    LogWarn("forward", std::string(was_connected ? "upstream connection lost: "
                                                 : "upstream connect failed: ") +
                           reason.ToString() + retry);
  } else {
    LogDebug("forward", "upstream connect failed: " + reason.ToString() + retry);
  }
  std::lock_guard lock(mu_);
  counters_.resends += unacked;
  if (was_connected) ++counters_.connection_losses;
  counters_.last_error = reason.ToString();
}

void Forwarder::OnDelivered(uint64_t token, const Status& result) {
  auto it = token_lane_.find(token);
  if (it == token_lane_.end()) return;  // superseded by a reset
  LaneState& lane = lanes_[Index(it->second)];
  token_lane_.erase(it);
  InflightMessage* m = lane.window.Find(token);
  if (m == nullptr) return;
  --inflight_;
  if (result.ok()) {
    OnAccepted(lane, *m);
  } else if (result.code() == StatusCode::kUnavailable || result.code() == StatusCode::kCancelled) {
    // The connection broke (on_connection_lost follows and everything is resent) or we are
    // disconnecting (it stays in the log for the next start).
    m->token = 0;
    return;
  } else {
    OnRefused(lane, *m, result);
  }
  AdvanceAcks(lane);
}

void Forwarder::OnAccepted(LaneState& lane, InflightMessage& m) {
  m.done = true;
  if (m.refused) {
    m.refused = false;  // settled: the lane's window opens again
    lane.refusals.Settled(m.piece.first_seq);
    LogInfo("forward",
            "upstream accepted " + RangeText(lane.lane, m.piece) +
                (m.piece.rejection_gap ? std::string(" (the 'rejected' gap in its place)")
                                       : " after " + std::to_string(m.attempts) + " refusals"));
  }
  std::lock_guard lock(mu_);
  ++counters_.messages_acked;
  counters_.readings_acked += m.piece.readings;
  counters_.defects_acked += m.piece.defects;
  if (m.piece.gap) ++counters_.gaps_sent;
  if (m.piece.rejection_gap) ++counters_.rejected_gaps;
}

// The broker refused `m`. The lane's window narrows to it (Fill publishes nothing new in the lane
// while a refused message is unsettled); what was in flight behind it stays in flight. It is
// tried again after a Backoff delay, and given up after max_attempts tries.
void Forwarder::OnRefused(LaneState& lane, InflightMessage& m, const Status& result) {
  m.token = 0;
  ++m.attempts;
  {
    std::lock_guard lock(mu_);
    ++counters_.rejections;
  }
  if (!m.refused) {
    m.refused = true;
    LogWarn("forward", "upstream refused " + RangeText(lane.lane, m.piece) + " (" +
                           result.ToString() + "); the lane waits for it");
  }
  if (lane.refusals.Refused(m.piece.first_seq, m.piece.last_seq, m.attempts)) {
    LogWarn("forward", "upstream refused " + RangeText(lane.lane, m.piece) + " " +
                           std::to_string(m.attempts) + " times (" + result.ToString() +
                           "); given up");
    GiveUp(lane, m, "rejected", result.ToString());
    return;
  }
  m.retry_at = clock_.Now() + lane.refusals.NextDelay();
  std::lock_guard lock(mu_);
  ++counters_.resends;
}

void Forwarder::GiveUp(LaneState& lane, InflightMessage& entry, std::string_view code,
                       const std::string& reason) {
  lane.refusals.Settled(entry.piece.first_seq);
  entry.token = 0;
  entry.attempts = 0;
  entry.retry_at = Clock::TimePoint{};
  entry.refused = true;  // the lane stays narrowed until the gap is accepted
  // Settled for good: nothing will stand for the records upstream.
  auto settle = [&lane, &entry, this] {
    entry.done = true;
    entry.refused = false;
    AdvanceAcks(lane);
  };
  if (entry.piece.rejection_gap) {
    // Even the gap that stands for the records was refused: the upstream can be told nothing.
    LogError("forward", "upstream refused the 'rejected' gap for " +
                            RangeText(lane.lane, entry.piece) +
                            " too; the records are only in the dead letters");
    settle();
    return;
  }
  DeadLetter(lane, entry.piece, code, reason);
  Result<ForwardPiece> gap = envelopes_->RejectedGap(lane.lane, entry.piece, reason);
  if (!gap.ok()) {  // not expected: a gap is small and valid
    LogError("forward", "encoding the 'rejected' gap for " + RangeText(lane.lane, entry.piece) +
                            ": " + gap.status().ToString());
    settle();
    return;
  }
  lane.refusals.GaveUp(*gap);
  entry.piece = std::move(*gap);
}

void Forwarder::AdvanceAcks(LaneState& lane) {
  const std::optional<uint64_t> acked = lane.window.PopSettled();
  if (!acked || *acked == lane.acked) return;
  lane.acked = *acked;
  stage_.Ack(lane.lane, lane.acked);
  lane.refusals.Forget(lane.acked);
}

void Forwarder::DeadLetter(const LaneState& lane, const ForwardPiece& piece, std::string_view code,
                           const std::string& reason) {
  store::DeadLetter letter;
  letter.time_us = clock_.WallMicros();
  letter.source = "upstream";
  letter.topic = TopicOf(lane.lane);
  letter.reason_code = std::string(code);
  letter.reason = RangeText(lane.lane, piece) + ": " + reason;
  // The whole message: these are records weir promised to deliver (FORMAT.md "Dead letters").
  letter.payload_head = piece.bytes;
  letter.payload_bytes = piece.bytes.size();
  letter.keep_whole_payload = true;
  stage_.AddDeadLetter(std::move(letter));
  std::lock_guard lock(mu_);
  ++counters_.dead_letters;
}

bool Forwarder::NextPiece(LaneState& lane, ForwardPiece* piece) {
  if (lane.ready.empty() && !lane.exhausted) {
    const Result<bool> found = envelopes_->ReadMore(lane.lane, lane.read_upto, lane.ready);
    if (!found.ok()) {
      LogError("forward", "reading the log failed: " + found.status().ToString());
      lane.exhausted = true;
      return false;
    }
    lane.exhausted = !*found;
  }
  if (lane.ready.empty()) return false;
  *piece = std::move(lane.ready.front());
  lane.ready.pop_front();
  // A range given up before a reconnect is sent as its gap again, not retried.
  if (const ForwardPiece* gap = lane.refusals.GivenUp(piece->first_seq, piece->last_seq)) {
    *piece = *gap;
  }
  return true;
}

Status Forwarder::Send(LaneState& lane, InflightMessage& entry) {
  auto token = client_.Publish(TopicOf(lane.lane), entry.piece.bytes, 1, false);
  if (!token.ok()) return token.status();
  entry.token = *token;
  token_lane_[*token] = lane.lane;
  ++inflight_;
  std::lock_guard lock(mu_);
  ++counters_.messages_sent;
  return Status::Ok();
}

bool Forwarder::RetryHeld(LaneState& lane, InflightMessage& held, Clock::TimePoint now,
                          bool* stop) {
  if (held.token != 0 || now < held.retry_at) return false;
  const Status s = Send(lane, held);
  if (s.ok()) return true;
  if (s.code() != StatusCode::kOutOfRange) {
    *stop = true;
    return false;
  }
  GiveUp(lane, held, "too_large", std::string(s.message()));  // the gap goes next
  return true;
}

bool Forwarder::FillLane(LaneState& lane, Clock::TimePoint now, bool* stop) {
  // Narrowed to a refused message: only it may go, when its retry is due.
  if (InflightMessage* held = lane.window.FirstRefused()) return RetryHeld(lane, *held, now, stop);
  ForwardPiece piece;
  if (!NextPiece(lane, &piece)) return false;
  const uint64_t published_before = lane.last_published;
  lane.last_published = piece.last_seq;
  InflightMessage& entry = lane.window.Push(std::move(piece));
  if (!entry.piece.dead_reason.empty()) {
    const std::string reason = entry.piece.dead_reason;
    GiveUp(lane, entry, "too_large", reason);  // the gap goes next
    return true;
  }
  if (auto tries = lane.refusals.TriesBefore(entry.piece.first_seq, entry.piece.last_seq)) {
    // Refused before the connection broke: the lane narrows to it again, tries counted on.
    entry.refused = true;
    entry.attempts = *tries;
    entry.retry_at = now + lane.refusals.NextDelay();
    return true;
  }
  const Status s = Send(lane, entry);
  if (s.ok()) return true;
  if (s.code() == StatusCode::kOutOfRange) {
    OnPacketLimit(lane, entry, s, published_before);
    return true;
  }
  // Not sent: put it back for the next turn (window full, or the connection is down and
  // on_connection_lost will reset everything).
  lane.ready.push_front(lane.window.PopNewest());
  lane.last_published = published_before;
  *stop = true;
  return false;
}

void Forwarder::OnPacketLimit(LaneState& lane, InflightMessage& entry, const Status& s,
                              uint64_t published_before) {
  const size_t size = entry.piece.bytes.size();
  learned_cap_ = std::max(codec::kMinEnvelopeCapBytes, size / 2);
  UpdateReaderLimits();
  LogWarn("forward",
          "upstream packet limit: messages now at most " + std::to_string(learned_cap_) + " bytes");
  if (size <= codec::kMinEnvelopeCapBytes) {
    GiveUp(lane, entry, "too_large", std::string(s.message()));  // cannot get smaller
  } else {
    lane.window.PopNewest();
    lane.last_published = published_before;
  }
  lane.ready.clear();
  lane.read_upto = lane.last_published;
}

void Forwarder::Fill() {
  const Clock::TimePoint now = clock_.Now();
  bool stop = false;
  while (!stop && inflight_ < settings_.max_inflight) {
    bool sent = false;
    for (LaneState& lane : lanes_) {  // defects first
      sent = FillLane(lane, now, &stop);
      if (sent || stop) break;  // after a message, back to the defects lane first
    }
    if (!sent) break;
  }
  bool idle = inflight_ == 0;
  for (const LaneState& lane : lanes_) {
    idle = idle && lane.ready.empty() && lane.window.empty() && lane.exhausted;
  }
  if (idle && committed_seen_.load() == stage_.last_committed_seq()) {
    {
      std::lock_guard lock(mu_);  // so that Drain() cannot miss the notification
      drained_.store(true, std::memory_order_release);
    }
    drain_cv_.notify_all();
  }
}

void Forwarder::RefreshStats() {
  auto stats = reader_->Stats();
  if (!stats.ok()) return;
  uint64_t rows = 0;
  TimeMicros oldest = 0;
  for (const store::CursorStats& c : stats->cursors) {
    if (c.name != stage_.cursor()) continue;
    rows += c.unsent_rows;
    if (c.oldest_unsent_us != 0 && (oldest == 0 || c.oldest_unsent_us < oldest)) {
      oldest = c.oldest_unsent_us;
    }
  }
  const uint64_t all_rows = stats->readings.rows + stats->defects.rows;
  std::lock_guard lock(mu_);
  counters_.backlog_rows = rows;
  counters_.backlog_bytes = all_rows == 0 ? 0 : stats->encoded_bytes * rows / all_rows;
  counters_.oldest_unsent_us = oldest;
}

void Forwarder::PublishCounters() {
  {
    std::lock_guard lock(mu_);
    counters_.state = state_;
    counters_.inflight = inflight_;
    counters_.acked_seq[0] = lanes_[0].acked;
    counters_.acked_seq[1] = lanes_[1].acked;
  }
  drain_cv_.notify_all();  // Drain() also ends when the connection is down
}

std::optional<Clock::TimePoint> Forwarder::NextWake() const {
  std::optional<Clock::TimePoint> wake = next_stats_at_;
  if (state_ == LinkState::kDisconnected) wake = std::min(*wake, pacer_.NextWake());
  for (const LaneState& lane : lanes_) {
    const InflightMessage* held = lane.window.FirstRefused();
    if (held != nullptr && held->token == 0) wake = std::min(*wake, held->retry_at);
  }
  return wake;
}

void Forwarder::Reconnect(Clock::TimePoint now) {
  if (pacer_.ProbeDue(now)) {
    // Blocks up to the probe timeout: the thread has nothing to send while disconnected.
    const bool reachable = client_.Probe(settings_.reconnect.probe_timeout).ok();
    now = clock_.Now();
    pacer_.OnProbe(now, reachable);
    if (reachable) LogDebug("forward", "upstream answers again; connecting");
  }
  if (!pacer_.TakeConnect(now)) return;
  const Status s = client_.Connect();
  if (s.ok()) {
    state_ = LinkState::kConnecting;
  } else if (s.code() == StatusCode::kFailedPrecondition) {
    // An attempt is already under way: nothing is due until its outcome arrives as an event.
  } else {
    pacer_.OnDisconnected(now, /*was_connected=*/false);
    LogDebug("forward", "upstream connect not started: " + s.ToString());
  }
}

void Forwarder::Wake() {
  // The body publishes its Worker once it runs (see LocalLink::Wake).
  if (Worker* w = self_.load(std::memory_order_acquire)) w->Notify();
}

void Forwarder::Run(Worker& worker) {
  self_.store(&worker, std::memory_order_release);
  pacer_.Start(clock_.Now());
  next_stats_at_ = clock_.Now();
  while (!worker.stop_requested()) {
    HandleEvents();
    const Clock::TimePoint now = clock_.Now();
    if (state_ == LinkState::kDisconnected) Reconnect(now);
    if (state_ == LinkState::kConnected) {
      committed_seen_.store(stage_.last_committed_seq());
      for (LaneState& lane : lanes_) {
        if (lane.exhausted) lane.exhausted = false;  // look again: something may be committed
      }
      Fill();
    }
    if (now >= next_stats_at_) {
      RefreshStats();
      next_stats_at_ = now + options_.stats_interval;
    }
    PublishCounters();
    const auto wake = NextWake();
    // Clock::TimePoint is steady_clock's, so the deadline works for the Worker's wait.
    worker.WaitUntil(
        [this] {
          return events_pending_.load(std::memory_order_acquire) ||
                 (state_ == LinkState::kConnected && inflight_ < settings_.max_inflight &&
                  committed_seen_.load() != stage_.last_committed_seq());
        },
        wake.value_or(Clock::TimePoint::max()));
  }
}

bool Forwarder::Drain(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  drain_cv_.wait_until(lock, deadline, [this] {
    return drained_.load(std::memory_order_acquire) || counters_.state == LinkState::kDisconnected;
  });
  // Ending because the connection is down is not "drained". While a connect is under way the
  // drain goes on waiting: the upstream may be back in a moment.
  return drained_.load(std::memory_order_acquire);
}

void Forwarder::Stop(std::chrono::milliseconds disconnect_timeout) {
  if (worker_) {
    worker_->RequestStop();
    worker_->Join();
    self_.store(nullptr, std::memory_order_release);
    worker_.reset();
    const Status s = client_.Disconnect(disconnect_timeout);
    if (!s.ok()) LogDebug("forward", "disconnect: " + s.ToString());
  }
}

}  // namespace weir::pipeline
