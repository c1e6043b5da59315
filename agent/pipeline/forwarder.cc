#include "agent/pipeline/forwarder.h"

#include <algorithm>
#include <utility>

#include "agent/core/logging.h"

namespace weir::pipeline {
namespace {

size_t Index(Lane lane) { return lane == Lane::kDefects ? 0 : 1; }

// Rows read per look at the log: enough to fill a window of large chunks without holding many
// decoded chunks in memory.
constexpr size_t kRowsPerRead = 8;
// Most defects in one envelope.
constexpr size_t kDefectsPerMessage = 64;

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
      backoff_(options_.settings.backoff) {
  lanes_[0].lane = Lane::kDefects;
  lanes_[1].lane = Lane::kReadings;
}

Result<std::unique_ptr<Forwarder>> Forwarder::Start(ForwarderOptions options,
                                                    transport::MqttClient& client,
                                                    StoreStage& stage, const Clock& clock) {
  std::unique_ptr<Forwarder> f(new Forwarder(std::move(options), client, stage, clock));
  WEIR_ASSIGN_OR_RETURN(f->reader_, store::LogReader::Open(f->options_.log_path));
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
    lane.inflight.clear();
    lane.exhausted = false;
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
    if (settings_changed_) {
      settings_ = pending_settings_;
      settings_changed_ = false;
      backoff_ = Backoff(settings_.backoff);
      for (LaneState& lane : lanes_) {
        // Pieces encoded under the old settings are encoded again.
        lane.ready.clear();
        lane.read_upto = lane.last_published;
      }
    }
  }
  const Clock::TimePoint now = clock_.Now();
  for (Event& event : events) {
    switch (event.kind) {
      case Event::Kind::kConnected: {
        state_ = LinkState::kConnected;
        backoff_.Reset();
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
        break;
      }
      case Event::Kind::kLost: {
        uint64_t unacked = 0;
        for (const LaneState& lane : lanes_) {
          for (const Inflight& m : lane.inflight) unacked += m.done ? 0 : 1;
        }
        const bool was_connected = state_ == LinkState::kConnected;
        state_ = LinkState::kDisconnected;
        ResetLanes();
        const auto delay = backoff_.Next();
        next_connect_at_ = now + delay;
        if (!outage_logged_) {
          down_since_ = now;
          outage_logged_ = true;
          LogWarn("forward", std::string(was_connected ? "upstream connection lost: "
                                                       : "upstream connect failed: ") +
                                 event.status.ToString() + "; retrying in " + Millis(delay));
        } else {
          LogDebug("forward", "upstream connect failed: " + event.status.ToString() +
                                  "; retrying in " + Millis(delay));
        }
        std::lock_guard lock(mu_);
        counters_.resends += unacked;
        if (was_connected) ++counters_.connection_losses;
        counters_.last_error = event.status.ToString();
        break;
      }
      case Event::Kind::kDelivered:
        OnDelivered(event.token, event.status);
        break;
    }
  }
}

void Forwarder::OnDelivered(uint64_t token, const Status& result) {
  auto it = token_lane_.find(token);
  if (it == token_lane_.end()) return;  // superseded by a reset or a rejection
  LaneState& lane = lanes_[Index(it->second)];
  token_lane_.erase(it);
  auto m = std::find_if(lane.inflight.begin(), lane.inflight.end(),
                        [&](const Inflight& x) { return x.token == token; });
  if (m == lane.inflight.end()) return;
  --inflight_;
  if (result.ok()) {
    m->done = true;
    std::lock_guard lock(mu_);
    ++counters_.messages_acked;
    counters_.readings_acked += m->piece.readings;
    counters_.defects_acked += m->piece.defects;
    if (m->piece.gap) ++counters_.gaps_sent;
  } else if (result.code() == StatusCode::kUnavailable || result.code() == StatusCode::kCancelled) {
    // The connection broke (on_connection_lost follows and everything is resent) or we are
    // disconnecting (it stays in the log for the next start).
    m->token = 0;
    return;
  } else {
    // The broker refused it. Resend it, and everything after it, so the order holds.
    ++m->attempts;
    {
      std::lock_guard lock(mu_);
      ++counters_.rejections;
    }
    if (m->attempts >= settings_.max_attempts) {
      LogWarn("forward", "upstream rejected " + std::string(store::LaneName(lane.lane)) + " " +
                             std::to_string(m->piece.first_seq) + ".." +
                             std::to_string(m->piece.last_seq) + " " + std::to_string(m->attempts) +
                             " times (" + result.ToString() + "); dead-lettered");
      DeadLetter(lane, m->piece, "rejected", result.ToString());
      m->done = true;
    } else {
      for (auto later = m + 1; later != lane.inflight.end(); ++later) {
        if (later->token != 0 && !later->done) {
          token_lane_.erase(later->token);
          --inflight_;
        }
      }
      lane.inflight.erase(m + 1, lane.inflight.end());
      m = lane.inflight.end() - 1;
      m->token = 0;
      const auto ceiling = std::min<Clock::Duration>(
          settings_.backoff.cap,
          settings_.backoff.base * (int64_t{1} << std::min(m->attempts, 20u)));
      m->retry_at = clock_.Now() + ceiling;
      lane.ready.clear();
      lane.read_upto = m->piece.last_seq;
      lane.last_published = m->piece.last_seq;
      lane.exhausted = false;
      std::lock_guard lock(mu_);
      ++counters_.resends;
    }
  }
  AdvanceAcks(lane);
}

void Forwarder::AdvanceAcks(LaneState& lane) {
  const uint64_t before = lane.acked;
  while (!lane.inflight.empty() && lane.inflight.front().done) {
    lane.acked = lane.inflight.front().piece.last_seq;
    lane.inflight.pop_front();
  }
  if (lane.acked != before) stage_.Ack(lane.lane, lane.acked);
}

void Forwarder::DeadLetter(const LaneState& lane, const Piece& piece, std::string_view code,
                           const std::string& reason) {
  store::DeadLetter letter;
  letter.time_us = clock_.WallMicros();
  letter.source = "upstream";
  letter.topic = TopicOf(lane.lane);
  letter.reason_code = std::string(code);
  letter.reason = std::string(store::LaneName(lane.lane)) + " " + std::to_string(piece.first_seq) +
                  ".." + std::to_string(piece.last_seq) + ": " + reason;
  letter.payload_head = piece.bytes.substr(0, store::kDeadLetterHeadBytes);
  letter.payload_bytes = piece.bytes.size();
  stage_.AddDeadLetter(std::move(letter));
  std::lock_guard lock(mu_);
  ++counters_.dead_letters;
}

// Turns the next committed rows of `lane` into pieces. OK with nothing added when there is no
// more to read (lane.exhausted).
Status Forwarder::ReadMore(LaneState& lane) {
  store::ReadQuery query;
  query.lane = lane.lane;
  query.after_seq = lane.read_upto;
  query.max_records = lane.lane == Lane::kDefects ? kDefectsPerMessage : kRowsPerRead;
  WEIR_ASSIGN_OR_RETURN(std::vector<store::StoredRecord> rows, reader_->Read(query));
  lane.exhausted = rows.empty();
  const size_t cap = learned_cap_ != 0 ? std::min(learned_cap_, settings_.max_message_bytes)
                                       : settings_.max_message_bytes;
  codec::Envelope defects;  // consecutive defect rows go into one envelope
  auto make = [&](uint64_t first, uint64_t last) {
    codec::Envelope e;
    e.device_id = options_.device_id;
    e.boot_epoch = options_.boot_epoch;
    e.lane = lane.lane;
    e.first_seq = first;
    e.last_seq = last;
    e.prev_seq = lane.read_upto;
    e.sent_at_us = clock_.WallMicros();
    return e;
  };
  auto emit = [&](const codec::Envelope& e, uint64_t readings, uint64_t ndefects) -> Status {
    auto pieces = codec::SplitEnvelopePieces(e, settings_.format, cap);
    if (!pieces.ok()) {
      if (pieces.status().code() != StatusCode::kOutOfRange) return pieces.status();
      // One record does not fit in any message: give up on this envelope when its turn comes.
      Piece p{"",
              e.first_seq,
              e.last_seq,
              readings,
              ndefects,
              e.gap.has_value(),
              pieces.status().message()};
      if (auto plain = codec::EncodeEnvelope(e, settings_.format); plain.ok()) {
        p.bytes = std::move(*plain);  // kept for the dead letter's first bytes
      }
      lane.ready.push_back(std::move(p));
      lane.read_upto = e.last_seq;
      return Status::Ok();
    }
    for (codec::EncodedEnvelope& piece : *pieces) {
      Piece p;
      p.first_seq = piece.first_seq;
      p.last_seq = piece.last_seq;
      p.gap = e.gap.has_value();
      if (e.lane == Lane::kReadings && !p.gap) {
        p.readings = piece.last_seq - piece.first_seq + 1;
      } else if (!p.gap) {
        p.defects = static_cast<uint64_t>(
            std::count_if(e.defect_seqs.begin(), e.defect_seqs.end(),
                          [&](uint64_t s) { return s >= piece.first_seq && s <= piece.last_seq; }));
      }
      p.bytes = std::move(piece.bytes);
      lane.ready.push_back(std::move(p));
    }
    lane.read_upto = e.last_seq;
    return Status::Ok();
  };
  auto flush_defects = [&]() -> Status {
    if (defects.defects.empty()) return Status::Ok();
    defects.last_seq = defects.defect_seqs.back();
    const uint64_t n = defects.defects.size();
    Status s = emit(defects, 0, n);
    defects = codec::Envelope();
    return s;
  };
  for (store::StoredRecord& row : rows) {
    if (row.kind == store::RecordKind::kDefect && !row.damaged && row.defect) {
      if (defects.defects.empty()) defects = make(row.first_seq, row.last_seq);
      defects.defects.push_back(std::move(*row.defect));
      defects.defect_seqs.push_back(row.first_seq);
      continue;
    }
    WEIR_RETURN_IF_ERROR(flush_defects());
    const uint64_t first = std::max(row.first_seq, lane.read_upto + 1);
    if (row.kind == store::RecordKind::kGap || row.damaged ||
        row.kind == store::RecordKind::kDefect) {
      codec::Envelope e = make(first, row.last_seq);
      codec::EnvelopeGap gap;
      gap.first_seq = first;
      gap.last_seq = row.last_seq;
      gap.records = row.kind == store::RecordKind::kGap ? row.count : row.last_seq - first + 1;
      gap.oldest_time_us = row.min_time_us;
      gap.newest_time_us = row.max_time_us;
      const bool evicted =
          row.kind == store::RecordKind::kGap && row.gap_reason != store::kGapDamaged;
      gap.reason = evicted ? "evicted: the log reached its disk quota" : "damaged on the device";
      e.gap = std::move(gap);
      WEIR_RETURN_IF_ERROR(emit(e, 0, 0));
      continue;
    }
    // A readings chunk; a straddling one (partly acknowledged) is sent from read_upto + 1.
    const size_t skip = static_cast<size_t>(first - row.first_seq);
    const bool whole = skip == 0 && row.readings.size() <= settings_.batch_readings;
    for (size_t begin = skip; begin < row.readings.size(); begin += settings_.batch_readings) {
      const size_t end = std::min(row.readings.size(), begin + settings_.batch_readings);
      codec::Envelope e = make(row.first_seq + begin, row.first_seq + end - 1);
      e.readings.assign(
          std::make_move_iterator(row.readings.begin() + static_cast<ptrdiff_t>(begin)),
          std::make_move_iterator(row.readings.begin() + static_cast<ptrdiff_t>(end)));
      if (whole && settings_.format == codec::EnvelopeFormat::kBinary) {
        e.readings_blob = std::move(row.blob);  // shipped as stored when it fits
      }
      WEIR_RETURN_IF_ERROR(emit(e, end - begin, 0));
    }
  }
  return flush_defects();
}

bool Forwarder::NextPiece(LaneState& lane, Piece* piece) {
  if (lane.ready.empty() && !lane.exhausted) {
    const Status s = ReadMore(lane);
    if (!s.ok()) {
      LogError("forward", "reading the log failed: " + s.ToString());
      lane.exhausted = true;
      return false;
    }
  }
  if (lane.ready.empty()) return false;
  *piece = std::move(lane.ready.front());
  lane.ready.pop_front();
  return true;
}

void Forwarder::Fill() {
  const Clock::TimePoint now = clock_.Now();
  while (inflight_ < settings_.max_inflight) {
    bool sent = false;
    for (LaneState& lane : lanes_) {  // defects first
      // A rejected message waiting for its retry holds its lane back.
      Inflight* retry = nullptr;
      if (!lane.inflight.empty() && lane.inflight.back().token == 0 && !lane.inflight.back().done) {
        retry = &lane.inflight.back();
        if (now < retry->retry_at) continue;
      }
      Piece piece;
      if (retry == nullptr && !NextPiece(lane, &piece)) continue;
      if (retry == nullptr && !piece.dead_reason.empty()) {
        DeadLetter(lane, piece, "too_large", piece.dead_reason);
        lane.last_published = piece.last_seq;
        lane.inflight.push_back({std::move(piece), 0, 1, true, {}});
        AdvanceAcks(lane);
        sent = true;
        break;
      }
      const Piece& out = retry ? retry->piece : piece;
      auto token = client_.Publish(TopicOf(lane.lane), out.bytes, 1, false);
      if (!token.ok()) {
        const StatusCode code = token.status().code();
        if (code == StatusCode::kOutOfRange && retry == nullptr) {
          // Over the broker's packet limit: encode from this piece again under a smaller cap.
          learned_cap_ = std::max(codec::kMinEnvelopeCapBytes, out.bytes.size() / 2);
          if (out.bytes.size() <= codec::kMinEnvelopeCapBytes) {
            DeadLetter(lane, out, "too_large", token.status().message());
            lane.inflight.push_back({std::move(piece), 0, 1, true, {}});
            lane.last_published = lane.inflight.back().piece.last_seq;
            AdvanceAcks(lane);
          }
          LogWarn("forward", "upstream packet limit: messages now at most " +
                                 std::to_string(learned_cap_) + " bytes");
          lane.ready.clear();
          lane.read_upto = lane.last_published;
          sent = true;
          continue;
        }
        if (retry == nullptr) {
          // Not sent: put it back for the next turn (window full, or the connection is down and
          // on_connection_lost will reset everything).
          lane.ready.push_front(std::move(piece));
        }
        return;
      }
      token_lane_[*token] = lane.lane;
      ++inflight_;
      if (retry != nullptr) {
        retry->token = *token;
      } else {
        lane.last_published = piece.last_seq;
        lane.inflight.push_back({std::move(piece), *token, 0, false, {}});
      }
      std::lock_guard lock(mu_);
      ++counters_.messages_sent;
      sent = true;
      break;  // back to the defects lane first
    }
    if (!sent) break;
  }
  bool idle = inflight_ == 0;
  for (const LaneState& lane : lanes_) {
    idle = idle && lane.ready.empty() && lane.inflight.empty() && lane.exhausted;
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
  if (state_ == LinkState::kDisconnected) wake = std::min(*wake, next_connect_at_);
  for (const LaneState& lane : lanes_) {
    if (!lane.inflight.empty() && lane.inflight.back().token == 0 && !lane.inflight.back().done) {
      wake = std::min(*wake, lane.inflight.back().retry_at);
    }
  }
  return wake;
}

void Forwarder::Wake() {
  // The body publishes its Worker once it runs (see LocalLink::Wake).
  if (Worker* w = self_.load(std::memory_order_acquire)) w->Notify();
}

void Forwarder::Run(Worker& worker) {
  self_.store(&worker, std::memory_order_release);
  next_connect_at_ = clock_.Now();
  next_stats_at_ = clock_.Now();
  while (!worker.stop_requested()) {
    HandleEvents();
    const Clock::TimePoint now = clock_.Now();
    if (state_ == LinkState::kDisconnected && now >= next_connect_at_) {
      const Status s = client_.Connect();
      if (s.ok()) {
        state_ = LinkState::kConnecting;
      } else if (s.code() != StatusCode::kFailedPrecondition) {
        next_connect_at_ = now + backoff_.Next();
        LogDebug("forward", "upstream connect not started: " + s.ToString());
      }
    }
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
