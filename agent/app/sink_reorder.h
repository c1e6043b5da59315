// SinkReorder: restores the order of each stream (device, log id, lane) for `weir sink`.
//
// Why: MQTT cannot take back messages already in flight behind one the upstream refused, so a
// consumer may receive them first; the agent then narrows that lane's window to the refused
// message (agent/pipeline/forwarder.h) and resends it, or sends a "rejected" gap in its place.
// Every envelope's prev_seq names the record before it, so a consumer can tell when something is
// missing and wait for it. This buffer does that: an envelope whose prev_seq is above what the
// stream has released is held, and released in sequence order as soon as the hole before it is
// filled, or when it has waited `window` (the hole then stays, and the ledger reports it as a
// silent gap). An envelope at or below what was released (a duplicate or a resend) passes at
// once. A stream seen for the first time with prev_seq > 0 is held too (its start may still be in
// flight); a sink that joins a running stream therefore waits one window before its first
// release.
//
// Pure and deterministic (the caller passes the times, wall-clock µs); not thread-safe: one owner.
// Memory: the held envelopes, at most kMaxHeldPerStream per stream (beyond, the lowest is
// released early, counted as released with its hole open).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <vector>

#include "agent/app/sink_ledger.h"
#include "agent/codec/envelope_codec.h"

namespace weir::app {

class SinkReorder {
 public:
  static constexpr size_t kMaxHeldPerStream = 1 << 16;

  struct Item {
    codec::Envelope envelope;
    int64_t received_us = 0;
  };
  struct Counters {
    uint64_t held = 0;               // envelopes that arrived after a hole and were held
    uint64_t reordered = 0;          // held ones released in order once the hole was filled
    uint64_t released_unfilled = 0;  // held ones released when their time was up, hole open
    uint64_t holding = 0;            // held now
    int64_t max_hold_us = 0;         // the longest any envelope was held
  };

  // window_us <= 0: no holding; every envelope passes at once.
  explicit SinkReorder(int64_t window_us) : window_us_(window_us) {}

  // Takes an envelope received at `received_us`; appends to *out the envelopes that are now
  // ready, in the order to account them (it may be none, or it and held ones behind it).
  void Add(codec::Envelope envelope, int64_t received_us, std::vector<Item>* out);
  // Releases, in order, what has waited `window` (and whatever is below it in its stream).
  void Expire(int64_t now_us, std::vector<Item>* out);
  // Releases everything held, in order (at exit).
  void Flush(int64_t now_us, std::vector<Item>* out);

  const Counters& counters() const { return counters_; }
  int64_t window_us() const { return window_us_; }
  // {"window_ms", "held", "reordered", "released_unfilled", "holding", "max_hold_ms"}.
  nlohmann::json ToJson() const;

 private:
  struct Stream {
    uint64_t high = 0;  // last sequence of everything released
    bool seen = false;
    std::multimap<uint64_t, Item> held;  // by first_seq
    // first_seq of held envelopes in arrival order, with the time they were received.
    std::deque<std::pair<int64_t, uint64_t>> arrivals;
  };

  void Release(Stream& stream, Item item, std::vector<Item>* out);
  // Releases held envelopes whose predecessor has been released.
  void Drain(Stream& stream, int64_t now_us, std::vector<Item>* out);
  // Releases held envelopes up to and including first_seq, hole or not.
  void ReleaseUpTo(Stream& stream, uint64_t first_seq, int64_t now_us, std::vector<Item>* out);
  void NoteHold(const Item& item, int64_t now_us);

  const int64_t window_us_;
  std::map<StreamKey, Stream> streams_;
  Counters counters_;
};

}  // namespace weir::app
