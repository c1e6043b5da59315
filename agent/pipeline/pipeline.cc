#include "agent/pipeline/pipeline.h"

#include <thread>
#include <utility>

#include "agent/core/logging.h"

namespace weir::pipeline {
namespace {

// What the journal holds beyond the log's mark was accepted before a crash and never committed:
// it goes first, ahead of anything the local broker sends now. Returns how the store thread reads
// spilled messages back.
Result<IntakeSource> ReplayJournal(store::IntakeJournal& journal, uint64_t mark, IngestQueue& queue,
                                   Ingest& ingest) {
  const uint64_t last = journal.last_number();
  if (last > mark) {
    LogWarn("store", "intake journal: replaying " + std::to_string(last - mark) +
                         " messages accepted before the last stop but not committed");
    WEIR_RETURN_IF_ERROR(queue.PushSpilled(mark + 1, last));
  }
  ingest.SeedRedeliveries();
  IntakeSource intake;
  intake.journal = &journal;
  Ingest* parser = &ingest;
  intake.parse = [parser](const store::IntakeEntry& e) { return parser->ParseEntry(e); };
  return intake;
}

// The local link's limit on the journal: its size, and the store's disk limits.
JournalLimit LimitOf(store::IntakeJournal& journal, StoreStage& store, uint64_t max_bytes) {
  JournalLimit limit;
  limit.journal_bytes = [j = &journal] { return j->Stats().bytes; };
  limit.max_bytes = max_bytes;
  limit.disk_low = [s = &store] {
    const store::StoreLimit l = s->counters().limit;
    return l == store::StoreLimit::kDiskReserve || l == store::StoreLimit::kDiskFull;
  };
  return limit;
}

}  // namespace

Result<std::unique_ptr<Pipeline>> Pipeline::Start(PipelineOptions options,
                                                  std::unique_ptr<store::Log> log,
                                                  std::unique_ptr<transport::MqttClient> local,
                                                  std::unique_ptr<transport::MqttClient> upstream,
                                                  const Clock& clock,
                                                  std::unique_ptr<store::IntakeJournal> journal) {
  std::unique_ptr<Pipeline> p(new Pipeline());
  p->local_client_ = std::move(local);
  p->upstream_client_ = std::move(upstream);
  p->journal_ = std::move(journal);
  p->queue_ = std::make_unique<IngestQueue>(options.ingest_queue_budget_bytes);
  p->ingest_ = std::make_unique<Ingest>(std::move(options.routes), options.max_payload_bytes,
                                        *p->queue_, clock, p->journal_.get());
  IntakeSource intake;
  if (p->journal_) {
    WEIR_ASSIGN_OR_RETURN(
        intake, ReplayJournal(*p->journal_, log->committed_intake_mark(), *p->queue_, *p->ingest_));
  }
  options.forward.log_path = log->options().path;
  options.forward.log_id = log->log_id();
  p->log_id_ = log->log_id().ToHex();
  Pipeline* raw = p.get();
  // The forwarder starts after the store (it reads the cursor the store loaded), but the store's
  // commit callback needs the forwarder: it looks it up through the pipeline, and a commit before
  // the forwarder exists is picked up by the forwarder's first read.
  if (options.detect) {
    p->detect_ =
        std::make_unique<DetectStage>(std::move(*options.detect), p->local_client_.get(), clock);
  }
  WEIR_ASSIGN_OR_RETURN(p->store_,
                        StoreStage::Start(
                            std::move(log), *p->queue_, options.store, clock, p->detect_.get(),
                            [raw] {
                              if (Forwarder* f = raw->forwarder_ptr_.load()) {
                                f->NotifyCommitted();
                              }
                            },
                            std::move(intake)));
  JournalLimit limit;
  if (p->journal_) limit = LimitOf(*p->journal_, *p->store_, options.journal_max_bytes);
  WEIR_ASSIGN_OR_RETURN(p->forwarder_, Forwarder::Start(std::move(options.forward),
                                                        *p->upstream_client_, *p->store_, clock));
  p->forwarder_ptr_.store(p->forwarder_.get());
  WEIR_ASSIGN_OR_RETURN(
      p->local_, LocalLink::Start(*p->local_client_, *p->ingest_, *p->queue_, options.local_backoff,
                                  options.ingest_qos, clock, std::move(limit)));
  return p;
}

Pipeline::~Pipeline() { (void)Shutdown(std::chrono::milliseconds(0)); }

Status Pipeline::Shutdown(std::chrono::milliseconds drain_timeout) {
  if (shut_down_) return shutdown_status_;
  shut_down_ = true;
  const auto start = std::chrono::steady_clock::now();
  // 1. No new input.
  if (local_) local_->Stop();
  // 2. Commit what was received.
  if (store_) {
    store_->CloseInput();
    while (!store_->drained() && !store_->fatal_error()) {
      // The store thread is committing the last batch; it takes milliseconds.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  // 3. Forward what is committed, within the drain timeout.
  if (forwarder_ && store_ && !store_->fatal_error()) {
    forwarder_->NotifyCommitted();
    const bool done = forwarder_->Drain(start + drain_timeout);
    const auto c = forwarder_->counters();
    LogInfo("agent", std::string(done ? "drained: " : "drain incomplete: ") +
                         "acked up to readings " + std::to_string(c.acked_seq[1]) + ", defects " +
                         std::to_string(c.acked_seq[0]) +
                         (done ? "" : "; the rest is kept in the log for the next start"));
  }
  // 4. Stop forwarding.
  if (forwarder_) {
    forwarder_ptr_.store(nullptr);
    forwarder_->Stop();
  }
  // 5. Last acks, last commit, close the log.
  if (store_) shutdown_status_ = store_->Stop();
  return shutdown_status_;
}

void Pipeline::Reload(std::vector<IngestRoute> routes, size_t max_payload_bytes,
                      const ForwarderSettings& forward, std::optional<DetectStageOptions> detect) {
  if (detect && detect_) detect_->UpdateOptions(std::move(*detect));
  ingest_->SetRoutes(std::move(routes), max_payload_bytes);
  local_->Resubscribe();
  forwarder_->UpdateSettings(forward);
}

PipelineSnapshot Pipeline::Snapshot() const {
  PipelineSnapshot s;
  s.recovery = &store_->recovery();
  s.local = local_ ? local_->state() : LinkState::kDisconnected;
  s.local_connects = local_ ? local_->connects() : 0;
  s.local_connect_failures = local_ ? local_->connect_failures() : 0;
  s.ingest_messages = ingest_->messages();
  s.ingest_readings = ingest_->readings();
  s.ingest_rejected = ingest_->rejected();
  s.rejected_by_reason = ingest_->RejectedByReason();
  s.ingest_dropped_at_shutdown = ingest_->dropped_at_shutdown();
  s.ingest_queue_depth = queue_->size();
  s.log_id = log_id_;
  s.ingest_queue_bytes = queue_->bytes();
  s.ingest_spilled_now = queue_->spilled_messages();
  s.ingest_spilled_total = ingest_->spilled();
  s.ingest_journal_errors = ingest_->journal_errors();
  s.ingest_redeliveries_dropped = ingest_->redeliveries_dropped();
  if (local_) {
    s.ingest_paused_by_journal = local_->paused();
    s.ingest_journal_pauses = local_->pauses();
  }
  if (journal_) {
    s.journal_enabled = true;
    s.journal = journal_->Stats();
  }
  s.store = store_->counters();
  s.forward = forwarder_->counters();
  if (detect_) {
    s.detect_enabled = true;
    s.detect = detect_->counters();
  }
  return s;
}

std::optional<std::string> Pipeline::StalledStage(Clock::TimePoint now,
                                                  Clock::Duration limit) const {
  const auto stuck = [&](std::optional<Clock::TimePoint> since) {
    return since && now - *since > limit;
  };
  if (store_ && stuck(store_->busy_since())) return "store";
  if (forwarder_ && stuck(forwarder_->busy_since())) return "forward";
  return std::nullopt;
}

}  // namespace weir::pipeline
