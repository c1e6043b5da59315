// LaneWindow: see lane_window.h.
#include "agent/pipeline/lane_window.h"

#include <algorithm>
#include <utility>

namespace weir::pipeline {

InflightMessage& LaneWindow::Push(ForwardPiece piece) {
  InflightMessage& m = messages_.emplace_back();
  m.piece = std::move(piece);
  return m;
}

ForwardPiece LaneWindow::PopNewest() {
  ForwardPiece piece = std::move(messages_.back().piece);
  messages_.pop_back();
  return piece;
}

InflightMessage* LaneWindow::Find(transport::PublishToken token) {
  auto it = std::find_if(messages_.begin(), messages_.end(),
                         [token](const InflightMessage& m) { return m.token == token; });
  return it == messages_.end() ? nullptr : &*it;
}

InflightMessage* LaneWindow::FirstRefused() {
  for (InflightMessage& m : messages_) {
    if (m.refused && !m.done) return &m;
  }
  return nullptr;
}

const InflightMessage* LaneWindow::FirstRefused() const {
  for (const InflightMessage& m : messages_) {
    if (m.refused && !m.done) return &m;
  }
  return nullptr;
}

std::optional<uint64_t> LaneWindow::PopSettled() {
  std::optional<uint64_t> acked;
  while (!messages_.empty() && messages_.front().done) {
    acked = messages_.front().piece.last_seq;
    messages_.pop_front();
  }
  return acked;
}

size_t LaneWindow::Unsettled() const {
  return static_cast<size_t>(std::count_if(messages_.begin(), messages_.end(),
                                           [](const InflightMessage& m) { return !m.done; }));
}

}  // namespace weir::pipeline
