#include "agent/pipeline/redelivery_filter.h"

#include <algorithm>
#include <functional>

namespace weir::pipeline {

RedeliveryFilter::RedeliveryFilter(size_t window) : window_(std::max<size_t>(window, 1)) {
  current_.reserve(window_);
}

uint64_t RedeliveryFilter::Digest(std::string_view topic, std::string_view payload) {
  const uint64_t t = std::hash<std::string_view>{}(topic);
  const uint64_t p = std::hash<std::string_view>{}(payload);
  return p ^ (t * 0x9E3779B97F4A7C15ull) ^ (payload.size() << 1);
}

void RedeliveryFilter::Remember(std::string_view topic, std::string_view payload) {
  const uint64_t d = Digest(topic, payload);
  if (current_.size() < window_) {
    current_.push_back(d);
  } else {
    current_[next_] = d;
  }
  next_ = (next_ + 1) % window_;
}

void RedeliveryFilter::Seed(std::string_view topic, std::string_view payload) {
  Remember(topic, payload);
}

void RedeliveryFilter::OnConnected() {
  previous_ = current_;
  std::sort(previous_.begin(), previous_.end());
  current_.clear();
  next_ = 0;
}

bool RedeliveryFilter::IsRedelivery(std::string_view topic, std::string_view payload,
                                    bool duplicate) {
  if (!duplicate || previous_.empty()) return false;
  const uint64_t d = Digest(topic, payload);
  auto it = std::lower_bound(previous_.begin(), previous_.end(), d);
  if (it == previous_.end() || *it != d) return false;
  previous_.erase(it);  // each remembered message matches once
  ++dropped_;
  return true;
}

}  // namespace weir::pipeline
