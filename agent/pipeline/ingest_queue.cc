#include "agent/pipeline/ingest_queue.h"

#include <algorithm>
#include <utility>

namespace weir::pipeline {

Status IngestQueue::Push(IngestItem&& item) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return Cancelled("ingest queue closed");
    items_.push_back(std::move(item));
    high_water_ = std::max(high_water_, items_.size());
  }
  not_empty_.notify_one();
  return Status::Ok();
}

Result<IngestItem> IngestQueue::PopUntil(TimePoint deadline) {
  std::unique_lock lock(mu_);
  not_empty_.wait_until(lock, deadline, [&] { return closed_ || !items_.empty(); });
  if (items_.empty()) {
    return closed_ ? Cancelled("ingest queue closed") : DeadlineExceeded("no items");
  }
  IngestItem item = std::move(items_.front());
  items_.pop_front();
  return item;
}

std::optional<IngestItem> IngestQueue::TryPop() {
  std::lock_guard lock(mu_);
  if (items_.empty()) return std::nullopt;
  IngestItem item = std::move(items_.front());
  items_.pop_front();
  return item;
}

void IngestQueue::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  not_empty_.notify_all();
}

bool IngestQueue::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

size_t IngestQueue::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

size_t IngestQueue::high_water() const {
  std::lock_guard lock(mu_);
  return high_water_;
}

}  // namespace weir::pipeline
