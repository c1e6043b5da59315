#include "agent/pipeline/ingest.h"

#include <utility>

#include "agent/core/logging.h"
#include "agent/pipeline/topic_filter.h"

namespace weir::pipeline {

std::string_view ClassifyParseError(const Status& error, size_t payload_bytes,
                                    size_t max_payload_bytes) {
  // The parsers name the kind of a rejection in Status::reason() (codec::parse_reason); the
  // message is for people and is never matched. The size is checked here too because ingest's
  // limit is the one that applies to every parser.
  if (payload_bytes > max_payload_bytes) return codec::parse_reason::kTooLarge;
  return error.reason().empty() ? codec::parse_reason::kMalformed : error.reason();
}

Ingest::Ingest(std::vector<IngestRoute> routes, size_t max_payload_bytes, IngestQueue& queue,
               const Clock& clock, store::IntakeJournal* journal)
    : queue_(queue), clock_(clock), journal_(journal) {
  SetRoutes(std::move(routes), max_payload_bytes);
}

void Ingest::SetRoutes(std::vector<IngestRoute> routes, size_t max_payload_bytes) {
  auto table = std::make_shared<Table>();
  table->routes = std::move(routes);
  table->max_payload_bytes = max_payload_bytes;
  std::lock_guard lock(mu_);
  table_ = std::move(table);
}

std::shared_ptr<const Ingest::Table> Ingest::table() const {
  std::lock_guard lock(mu_);
  return table_;
}

std::vector<std::string> Ingest::Filters() const {
  std::vector<std::string> filters;
  for (const IngestRoute& route : table()->routes) filters.push_back(route.filter);
  return filters;
}

std::map<std::string, uint64_t> Ingest::RejectedByReason() const {
  std::lock_guard lock(mu_);
  return by_reason_;
}

void Ingest::Reject(std::string_view topic, std::string_view payload, TimeMicros now,
                    std::string_view code, std::string reason, IngestItem* item) {
  store::DeadLetter letter;
  letter.time_us = now;
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

void Ingest::Parse(std::string_view topic, std::string_view payload, TimeMicros now,
                   IngestItem* item) {
  const std::shared_ptr<const Table> t = table();
  const IngestRoute* route = nullptr;
  for (const IngestRoute& r : t->routes) {
    if (TopicMatches(r.filter, topic)) {
      route = &r;
      break;
    }
  }
  if (route == nullptr) {
    Reject(topic, payload, now, "no_route",
           "topic '" + std::string(topic) + "' matches no configured subscription", item);
    return;
  }
  const codec::ParseContext ctx{topic, now};
  const Status parsed = route->parser->Parse(payload, ctx, &item->readings);
  if (parsed.ok()) {
    readings_.fetch_add(item->readings.size(), std::memory_order_relaxed);
  } else {
    Reject(topic, payload, now, ClassifyParseError(parsed, payload.size(), t->max_payload_bytes),
           parsed.message(), item);
  }
}

IngestItem Ingest::ParseEntry(const store::IntakeEntry& entry) {
  IngestItem item;
  item.arrived = clock_.Now();
  item.intake_number = entry.number;
  Parse(entry.topic, entry.payload, entry.wall_us, &item);
  return item;
}

void Ingest::OnConnected() noexcept { redeliveries_.OnConnected(); }

void Ingest::SeedRedeliveries() {
  if (journal_ == nullptr) return;
  constexpr uint64_t kWindow = 1024;
  const uint64_t last = journal_->last_number();
  auto tail = journal_->ReadAfter(last > kWindow ? last - kWindow : 0, last, kWindow, 16 << 20);
  if (!tail.ok()) {
    LogWarn("ingest", "reading the intake journal's tail: " + tail.status().ToString());
    return;
  }
  for (const store::IntakeEntry& e : *tail) redeliveries_.Seed(e.topic, e.payload);
}

void Ingest::OnMessage(const transport::InboundMessage& message) noexcept {
  try {
    messages_.fetch_add(1, std::memory_order_relaxed);
    const TimeMicros now = clock_.WallMicros();
    uint64_t number = 0;
    if (journal_ != nullptr) {
      if (redeliveries_.IsRedelivery(message.topic, message.payload, message.duplicate)) {
        redeliveries_dropped_.fetch_add(1, std::memory_order_relaxed);
        return;  // already journaled before the connection was lost
      }
      // First of all: on disk (page cache) before anything else can fail or be killed.
      auto n = journal_->Append(message.topic, message.payload, now);
      if (n.ok()) {
        number = *n;
        redeliveries_.Remember(message.topic, message.payload);
        if (journal_error_logged_) {
          journal_error_logged_ = false;
          LogInfo("ingest", "the intake journal takes messages again");
        }
      } else {
        journal_errors_.fetch_add(1, std::memory_order_relaxed);
        if (!journal_error_logged_) {
          journal_error_logged_ = true;
          LogError("ingest",
                   "intake journal refused a message, keeping it in memory only (a kill "
                   "-9 now would lose it): " +
                       n.status().ToString());
        }
      }
    }
    if (number != 0 && queue_.over_budget()) {
      if (!queue_.PushSpilled(number, number).ok()) {
        dropped_.fetch_add(1, std::memory_order_relaxed);  // closed; replayed at the next start
      }
      spilled_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    IngestItem item;
    item.arrived = clock_.Now();
    item.intake_number = number;
    Parse(message.topic, message.payload, now, &item);
    if (!queue_.Push(std::move(item)).ok()) {
      dropped_.fetch_add(1, std::memory_order_relaxed);  // closed: shutting down
    }
  } catch (...) {
    // Only allocation can throw here. Counting it is all a callback can do; the message is in
    // the journal when number != 0 and is replayed at the next start.
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace weir::pipeline
