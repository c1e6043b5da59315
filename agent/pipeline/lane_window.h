// LaneWindow: one lane's in-flight window — the messages published and not yet settled, in
// publish order, and the rule that moves the lane's cursor: only over a prefix of settled
// (acknowledged, or given up for good) messages, so a gap in acknowledgements never moves it
// (agent/pipeline/README.md "Forwarding order"). A message the broker refused and that is not
// settled narrows the lane to it (FirstRefused). How many messages may be in flight over both
// lanes is the forwarder's (max_inflight); this class only keeps order.
//
// Owned and used by the forward thread only; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "agent/core/clock.h"
#include "agent/pipeline/forward_piece.h"
#include "agent/transport/mqtt_client.h"

namespace weir::pipeline {

struct InflightMessage {
  ForwardPiece piece;
  transport::PublishToken token = 0;  // 0: not published (waiting for a retry)
  uint32_t attempts = 0;              // refusals so far
  bool done = false;                  // acknowledged, or given up on for good
  Clock::TimePoint retry_at{};
  // Refused at least once and not settled: the lane's window is narrowed to it.
  bool refused = false;
};

class LaneWindow {
 public:
  // Tracks `piece` as the newest message of the lane; returns it for the caller to publish.
  InflightMessage& Push(ForwardPiece piece);
  // Takes back the newest message (it was not published after all) and returns its piece.
  ForwardPiece PopNewest();
  // The message published with `token`, or null.
  InflightMessage* Find(transport::PublishToken token);
  // The oldest refused, unsettled message, or null. While there is one, nothing new goes out.
  InflightMessage* FirstRefused();
  const InflightMessage* FirstRefused() const;
  // Drops the settled prefix; returns the last sequence it covered (nullopt when the oldest
  // message is not settled): the lane's new acked position.
  std::optional<uint64_t> PopSettled();
  // Messages not settled (counted as resends when the connection breaks).
  size_t Unsettled() const;
  bool empty() const { return messages_.empty(); }
  void Clear() { messages_.clear(); }

 private:
  std::deque<InflightMessage> messages_;
};

}  // namespace weir::pipeline
