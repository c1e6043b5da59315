// SinkReorder: see sink_reorder.h.
#include "agent/app/sink_reorder.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

namespace weir::app {

void SinkReorder::Add(codec::Envelope envelope, int64_t received_us, std::vector<Item>* out) {
  Stream& stream = streams_[StreamKey::Of(envelope)];
  const bool follows = stream.seen ? envelope.prev_seq <= stream.high : envelope.prev_seq == 0;
  if (window_us_ <= 0 || follows) {
    Release(stream, Item{std::move(envelope), received_us}, out);
    Drain(stream, received_us, out);
    return;
  }
  // A hole before it: hold it until the hole is filled or its time is up.
  const uint64_t first = envelope.first_seq;
  stream.held.emplace(first, Item{std::move(envelope), received_us});
  stream.arrivals.emplace_back(received_us, first);
  ++counters_.held;
  ++counters_.holding;
  if (stream.held.size() > kMaxHeldPerStream) {
    ReleaseUpTo(stream, stream.held.begin()->first, received_us, out);
    Drain(stream, received_us, out);
  }
}

void SinkReorder::Expire(int64_t now_us, std::vector<Item>* out) {
  for (auto& [key, stream] : streams_) {
    while (!stream.arrivals.empty() && stream.arrivals.front().first + window_us_ <= now_us) {
      const uint64_t first = stream.arrivals.front().second;
      stream.arrivals.pop_front();
      // Stale when it was released already (its hole filled).
      if (stream.held.find(first) == stream.held.end()) continue;
      ReleaseUpTo(stream, first, now_us, out);
      Drain(stream, now_us, out);
    }
  }
}

void SinkReorder::Flush(int64_t now_us, std::vector<Item>* out) {
  for (auto& [key, stream] : streams_) {
    while (!stream.held.empty()) {
      ReleaseUpTo(stream, stream.held.rbegin()->first, now_us, out);
    }
    stream.arrivals.clear();
  }
}

void SinkReorder::Release(Stream& stream, Item item, std::vector<Item>* out) {
  stream.high = std::max(stream.high, item.envelope.last_seq);
  stream.seen = true;
  out->push_back(std::move(item));
}

void SinkReorder::NoteHold(const Item& item, int64_t now_us) {
  --counters_.holding;
  counters_.max_hold_us = std::max(counters_.max_hold_us, now_us - item.received_us);
}

void SinkReorder::Drain(Stream& stream, int64_t now_us, std::vector<Item>* out) {
  while (!stream.held.empty() && stream.held.begin()->second.envelope.prev_seq <= stream.high) {
    auto it = stream.held.begin();
    NoteHold(it->second, now_us);
    ++counters_.reordered;
    Release(stream, std::move(it->second), out);
    stream.held.erase(it);
  }
}

void SinkReorder::ReleaseUpTo(Stream& stream, uint64_t first_seq, int64_t now_us,
                              std::vector<Item>* out) {
  while (!stream.held.empty() && stream.held.begin()->first <= first_seq) {
    auto it = stream.held.begin();
    NoteHold(it->second, now_us);
    if (it->second.envelope.prev_seq <= stream.high) {
      ++counters_.reordered;
    } else {
      ++counters_.released_unfilled;
    }
    Release(stream, std::move(it->second), out);
    stream.held.erase(it);
  }
}

nlohmann::json SinkReorder::ToJson() const {
  return {{"window_ms", static_cast<double>(window_us_) / 1000.0},
          {"held", counters_.held},
          {"reordered", counters_.reordered},
          {"released_unfilled", counters_.released_unfilled},
          {"holding", counters_.holding},
          {"max_hold_ms", static_cast<double>(counters_.max_hold_us) / 1000.0}};
}

}  // namespace weir::app
