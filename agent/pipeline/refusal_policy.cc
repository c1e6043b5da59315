// RefusalPolicy: see refusal_policy.h.
#include "agent/pipeline/refusal_policy.h"

namespace weir::pipeline {

void RefusalPolicy::Configure(BackoffOptions backoff, uint32_t max_attempts) {
  backoff_ = Backoff(backoff);
  max_attempts_ = max_attempts;
}

bool RefusalPolicy::Refused(uint64_t first, uint64_t last, uint32_t attempts) {
  refusals_[first] = {last, attempts};
  return attempts >= max_attempts_;
}

Clock::Duration RefusalPolicy::NextDelay() {
  return std::chrono::duration_cast<Clock::Duration>(backoff_.Next());
}

std::optional<uint32_t> RefusalPolicy::TriesBefore(uint64_t first, uint64_t last) const {
  auto it = refusals_.find(first);
  if (it == refusals_.end() || it->second.first != last) return std::nullopt;
  return it->second.second;
}

void RefusalPolicy::Settled(uint64_t first) {
  backoff_.Reset();
  refusals_.erase(first);
}

void RefusalPolicy::GaveUp(const ForwardPiece& gap) {
  Settled(gap.first_seq);
  given_up_[gap.first_seq] = gap;
}

const ForwardPiece* RefusalPolicy::GivenUp(uint64_t first, uint64_t last) const {
  auto it = given_up_.find(first);
  return it != given_up_.end() && it->second.last_seq == last ? &it->second : nullptr;
}

void RefusalPolicy::Forget(uint64_t acked) {
  while (!given_up_.empty() && given_up_.begin()->second.last_seq <= acked) {
    given_up_.erase(given_up_.begin());
  }
  while (!refusals_.empty() && refusals_.begin()->second.first <= acked) {
    refusals_.erase(refusals_.begin());
  }
}

}  // namespace weir::pipeline
