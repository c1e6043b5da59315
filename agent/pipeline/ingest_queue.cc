#include "agent/pipeline/ingest_queue.h"

#include <algorithm>
#include <utility>

namespace weir::pipeline {

size_t IngestItemBytes(const IngestItem& item) {
  size_t bytes = sizeof(IngestItem) + item.readings.capacity() * sizeof(Reading);
  for (const Reading& r : item.readings) {
    if (r.sensor.capacity() > 15) bytes += r.sensor.capacity();  // beyond the inline buffer
  }
  if (item.dead_letter) {
    bytes += item.dead_letter->payload_head.size() + item.dead_letter->reason.size() +
             item.dead_letter->topic.size();
  }
  return bytes;
}

Status IngestQueue::Push(IngestItem&& item) {
  const size_t bytes = IngestItemBytes(item);
  {
    std::lock_guard lock(mu_);
    if (closed_) return Cancelled("ingest queue closed");
    items_.push_back(std::move(item));
    bytes_ += bytes;
    high_water_bytes_ = std::max(high_water_bytes_, bytes_);
  }
  not_empty_.notify_one();
  return Status::Ok();
}

Status IngestQueue::PushSpilled(uint64_t first, uint64_t last) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return Cancelled("ingest queue closed");
    spilled_ += last - first + 1;
    if (!items_.empty() && items_.back().spilled() && items_.back().spilled_last + 1 == first) {
      items_.back().spilled_last = last;
      return Status::Ok();  // the consumer is already woken for that item
    }
    IngestItem run;
    run.intake_number = first;
    run.spilled_last = last;
    items_.push_back(std::move(run));
    bytes_ += sizeof(IngestItem);
  }
  not_empty_.notify_one();
  return Status::Ok();
}

namespace {
// Takes the front item; the caller holds the lock.
IngestItem TakeFront(std::deque<IngestItem>& items, size_t& bytes, uint64_t& spilled) {
  IngestItem item = std::move(items.front());
  items.pop_front();
  const size_t b = item.spilled() ? sizeof(IngestItem) : IngestItemBytes(item);
  bytes -= std::min(bytes, b);
  if (item.spilled()) spilled -= std::min(spilled, item.spilled_last - item.intake_number + 1);
  return item;
}
}  // namespace

Result<IngestItem> IngestQueue::PopUntil(TimePoint deadline) {
  std::unique_lock lock(mu_);
  not_empty_.wait_until(lock, deadline, [&] { return closed_ || !items_.empty(); });
  if (items_.empty()) {
    return closed_ ? Cancelled("ingest queue closed") : DeadlineExceeded("no items");
  }
  return TakeFront(items_, bytes_, spilled_);
}

std::optional<IngestItem> IngestQueue::TryPop() {
  std::lock_guard lock(mu_);
  if (items_.empty()) return std::nullopt;
  return TakeFront(items_, bytes_, spilled_);
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

size_t IngestQueue::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

uint64_t IngestQueue::spilled_messages() const {
  std::lock_guard lock(mu_);
  return spilled_;
}

size_t IngestQueue::high_water_bytes() const {
  std::lock_guard lock(mu_);
  return high_water_bytes_;
}

}  // namespace weir::pipeline
