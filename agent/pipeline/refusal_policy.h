// RefusalPolicy: one lane's retry policy for messages the upstream refused (an MQTT 5 reason
// code >= 0x80; agent/pipeline/README.md "Rejections"): the delay before the next try (a
// core/Backoff: capped exponential with full jitter, reset when the refused message is settled),
// when to give up (max_attempts tries), and what it remembers across reconnects (not restarts):
// the tries counted per range, because a broker that drops the connection after each refusal
// (mosquitto 2.0.11 with max_queued_messages 0 does) must not reset the count and retry forever;
// and the ranges given up with the gap sent in their place, so a resend sends the gap again
// instead of retrying the records and dead-lettering them twice. Forgotten as the cursor passes.
//
// Owned and used by the forward thread only; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/pipeline/forward_piece.h"

namespace weir::pipeline {

class RefusalPolicy {
 public:
  explicit RefusalPolicy(BackoffOptions backoff = {}) : backoff_(backoff) {}

  // New settings (a reload): the delays start again from the new base.
  void Configure(BackoffOptions backoff, uint32_t max_attempts);

  // The range first..last was refused for the `attempts`th time. Returns true when it is to be
  // given up now (attempts reached max_attempts); otherwise the count is remembered.
  bool Refused(uint64_t first, uint64_t last, uint32_t attempts);
  // The delay before the next try of a refused message.
  Clock::Duration NextDelay();
  // Tries counted for exactly first..last before a reconnect; nullopt when none.
  std::optional<uint32_t> TriesBefore(uint64_t first, uint64_t last) const;
  // The refused message starting at `first` was settled (accepted, or given up): its count is
  // forgotten and delays start again from the base.
  void Settled(uint64_t first);
  // `gap` was sent in place of the range it covers, which was given up (and is Settled).
  void GaveUp(const ForwardPiece& gap);
  // The gap sent before in place of exactly first..last, or null.
  const ForwardPiece* GivenUp(uint64_t first, uint64_t last) const;
  // Forgets what lies at or below the lane's acked position.
  void Forget(uint64_t acked);
  // Delays start again from the base (after a reconnect).
  void ResetDelay() { backoff_.Reset(); }

 private:
  Backoff backoff_;
  uint32_t max_attempts_ = 10;
  std::map<uint64_t, ForwardPiece> given_up_;                   // first_seq -> its gap
  std::map<uint64_t, std::pair<uint64_t, uint32_t>> refusals_;  // first -> (last, tries)
};

}  // namespace weir::pipeline
