// Ingest: turns messages from the local broker into readings for the store thread.
//
// Each configured route maps an MQTT topic filter to a payload parser (agent/codec). OnMessage is
// the local client's on_message callback: it first appends the raw message to the intake journal
// (store/intake_journal.h: one write(2), so a kill -9 from then on loses nothing), then finds the
// first route whose filter matches, parses the payload, and hands the result to the store thread
// through the ingest queue. A payload that does not parse becomes a dead letter (topic, reason
// code, message, first bytes), counted per reason; it never stalls ingest.
//
// Queue policy: OnMessage never blocks. When the queue's memory budget is spent, the message is
// not parsed here: the queue keeps its journal number and the store thread parses it later with
// ParseEntry (ingest_queue.h says why this bounds memory without losing order). After Close() at
// shutdown a message can no longer be queued; it is counted (`ingest_dropped_at_shutdown`) and,
// being in the journal, is replayed at the next start.
//
// The inbound loss window left: the microseconds between Paho's PUBACK to the local broker and
// the journal's write(2) returning in this callback. A power cut can lose what the kernel had not
// yet written back of the journal and the log's unsynced tail (agent/store/FORMAT.md).
//
// Threads: OnMessage runs on the MQTT client's callback thread, is noexcept and is the only
// producer; ParseEntry runs on the store thread; SetRoutes may be called from any thread (SIGHUP
// reload) and swaps the table atomically. Counters are atomic.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/codec/payload_parser.h"
#include "agent/core/clock.h"
#include "agent/core/record.h"
#include "agent/pipeline/ingest_queue.h"
#include "agent/pipeline/redelivery_filter.h"
#include "agent/store/intake_journal.h"
#include "agent/store/log.h"
#include "agent/transport/mqtt_client.h"

namespace weir::pipeline {

// One subscription: a topic filter and the parser for what arrives on it.
struct IngestRoute {
  std::string filter;
  std::shared_ptr<const codec::PayloadParser> parser;
};

// The reason codes of ingest dead letters (store::DeadLetter::reason_code), stable for counting
// and for operators' alerts:
//   too_large   the payload is over ingest.max_payload_bytes (not parsed)
//   malformed   not valid in the route's format (bad JSON, wrong type, missing field)
//   not_finite  a value that is NaN or infinite
//   bad_time    an event time outside [now - max_past, now + max_future]
//   bad_sensor  an empty or invalid sensor id
//   no_route    no configured filter matches the topic (after a reload narrowed them)
// The parser's message (which names the field) is kept as the dead letter's reason.
std::string_view ClassifyParseError(const Status& error, size_t payload_bytes,
                                    size_t max_payload_bytes);

class Ingest {
 public:
  // `queue` and `clock` must outlive the Ingest, and `journal` unless null (no journal: messages
  // are durable only from their commit, and always queued parsed). `max_payload_bytes` is the
  // parsers' limit, used to classify oversize payloads.
  Ingest(std::vector<IngestRoute> routes, size_t max_payload_bytes, IngestQueue& queue,
         const Clock& clock, store::IntakeJournal* journal = nullptr);

  // The local client's on_message. Never blocks (see the file comment).
  void OnMessage(const transport::InboundMessage& message) noexcept;
  // The local connection is up (its on_connected callback; callback thread): a redelivery of
  // what was journaled before it is recognised from now on (redelivery_filter.h).
  void OnConnected() noexcept;
  // Remembers the journal's last messages as those a broker may redeliver after a restart. Call
  // once before the local connection starts (the store thread must not be reading the journal).
  void SeedRedeliveries();
  // Parses a journaled message as OnMessage would have when it arrived (its arrival time is the
  // "now" of the time checks). For the store thread: spilled runs and the replay at start.
  IngestItem ParseEntry(const store::IntakeEntry& entry);

  // Replaces the routes (reload). Messages already parsed are unaffected.
  void SetRoutes(std::vector<IngestRoute> routes, size_t max_payload_bytes);
  // The filters of the current routes, for subscribing.
  std::vector<std::string> Filters() const;

  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  uint64_t readings() const { return readings_.load(std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  uint64_t dropped_at_shutdown() const { return dropped_.load(std::memory_order_relaxed); }
  // Messages the journal refused (kept in memory only; not safe from a kill -9).
  uint64_t journal_errors() const { return journal_errors_.load(std::memory_order_relaxed); }
  // Redeliveries of journaled messages recognised and dropped (redelivery_filter.h).
  uint64_t redeliveries_dropped() const {
    return redeliveries_dropped_.load(std::memory_order_relaxed);
  }
  // Messages left in the journal unparsed because the queue's budget was spent.
  uint64_t spilled() const { return spilled_.load(std::memory_order_relaxed); }
  // Rejected messages per reason code since start.
  std::map<std::string, uint64_t> RejectedByReason() const;

 private:
  struct Table {
    std::vector<IngestRoute> routes;
    size_t max_payload_bytes = 0;
  };
  void Reject(std::string_view topic, std::string_view payload, TimeMicros now,
              std::string_view code, std::string reason, IngestItem* item);
  // Routes and parses one message into `item` (readings or a dead letter).
  void Parse(std::string_view topic, std::string_view payload, TimeMicros now, IngestItem* item);
  std::shared_ptr<const Table> table() const;

  IngestQueue& queue_;
  const Clock& clock_;
  store::IntakeJournal* const journal_;
  bool journal_error_logged_ = false;  // callback thread only
  RedeliveryFilter redeliveries_;      // callback thread only
  mutable std::mutex mu_;              // guards table_ (the pointer) and by_reason_
  std::shared_ptr<const Table> table_;
  std::map<std::string, uint64_t> by_reason_;
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> readings_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> journal_errors_{0};
  std::atomic<uint64_t> spilled_{0};
  std::atomic<uint64_t> redeliveries_dropped_{0};
};

}  // namespace weir::pipeline
