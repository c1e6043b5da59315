#include "agent/pipeline/ingest.h"

#include <utility>

#include "agent/pipeline/topic_filter.h"

namespace weir::pipeline {

std::string_view ClassifyParseError(const Status& error, size_t payload_bytes,
                                    size_t max_payload_bytes) {
  // The parsers report every problem as InvalidArgument with a message that names the field; the
  // phrases matched here are the stable ones of agent/codec/parse_checks.h and sensor_id.cc
  // (pinned by ingest_test.cc), so a reworded message shows up as a failing test, not as a
  // silently different count.
  if (payload_bytes > max_payload_bytes) return "too_large";
  const std::string_view m = error.message();
  if (m.find("not a finite number") != std::string_view::npos) return "not_finite";
  if (m.find("outside the accepted range") != std::string_view::npos) return "bad_time";
  if (m.find("sensor id") != std::string_view::npos) return "bad_sensor";
  return "malformed";
}

Ingest::Ingest(std::vector<IngestRoute> routes, size_t max_payload_bytes, IngestQueue& queue,
               const Clock& clock)
    : queue_(queue), clock_(clock) {
  SetRoutes(std::move(routes), max_payload_bytes);
}

void Ingest::SetRoutes(std::vector<IngestRoute> routes, size_t max_payload_bytes) {
  auto table = std::make_shared<Table>();
  table->routes = std::move(routes);
  table->max_payload_bytes = max_payload_bytes;
  std::lock_guard lock(mu_);
  table_ = std::move(table);
}

std::vector<std::string> Ingest::Filters() const {
  std::shared_ptr<const Table> table;
  {
    std::lock_guard lock(mu_);
    table = table_;
  }
  std::vector<std::string> filters;
  for (const IngestRoute& route : table->routes) filters.push_back(route.filter);
  return filters;
}

std::map<std::string, uint64_t> Ingest::RejectedByReason() const {
  std::lock_guard lock(mu_);
  return by_reason_;
}

void Ingest::Reject(std::string_view topic, std::string_view payload, std::string_view code,
                    std::string reason, IngestItem* item) {
  store::DeadLetter letter;
  letter.time_us = clock_.WallMicros();
  letter.source = "ingest";
  letter.topic = std::string(topic);
  letter.reason_code = std::string(code);
  letter.reason = std::move(reason);
  letter.payload_head = std::string(payload.substr(0, store::kDeadLetterHeadBytes));
  letter.payload_bytes = payload.size();
  item->readings.clear();
  item->dead_letter = std::move(letter);
  rejected_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  ++by_reason_[std::string(code)];
}

void Ingest::OnMessage(const transport::InboundMessage& message) noexcept {
  try {
    messages_.fetch_add(1, std::memory_order_relaxed);
    std::shared_ptr<const Table> table;
    {
      std::lock_guard lock(mu_);
      table = table_;
    }
    IngestItem item;
    item.arrived = clock_.Now();
    const IngestRoute* route = nullptr;
    for (const IngestRoute& r : table->routes) {
      if (TopicMatches(r.filter, message.topic)) {
        route = &r;
        break;
      }
    }
    if (route == nullptr) {
      Reject(message.topic, message.payload, "no_route",
             "topic '" + std::string(message.topic) + "' matches no configured subscription",
             &item);
    } else {
      const codec::ParseContext ctx{message.topic, clock_.WallMicros()};
      const Status parsed = route->parser->Parse(message.payload, ctx, &item.readings);
      if (parsed.ok()) {
        readings_.fetch_add(item.readings.size(), std::memory_order_relaxed);
      } else {
        Reject(message.topic, message.payload,
               ClassifyParseError(parsed, message.payload.size(), table->max_payload_bytes),
               parsed.message(), &item);
      }
    }
    if (!queue_.Push(std::move(item)).ok()) {
      dropped_.fetch_add(1, std::memory_order_relaxed);  // closed: shutting down
    }
  } catch (...) {
    // Only allocation can throw here. Counting it is all a callback can do; the message was
    // already acknowledged to the broker (the stated inbound loss window).
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace weir::pipeline
