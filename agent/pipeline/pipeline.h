// Pipeline: the running agent's stages wired together, and their shutdown order.
//
//   local broker -> LocalLink/Ingest (MQTT callback thread: parse, hand off)
//                   (the raw message goes to the intake journal first: store/intake_journal.h)
//                -> IngestQueue (never blocks; past its memory budget it holds only journal
//                   numbers, which the store thread reads back: ingest_queue.h)
//                -> StoreStage (store thread: DetectStage, append, group commit, apply acks)
//                -> Forwarder (forward thread: read the log, publish, in-order acks)
//                -> upstream broker
//
// Shutdown (Shutdown()) drains in this fixed order, so nothing accepted is dropped:
//   1. stop ingest: LocalLink disconnects (no new messages; the ones received are queued);
//   2. the store thread drains the queue and commits;
//   3. the forwarder sends what is committed until the backlog is acknowledged, the upstream is
//      down, or the drain timeout passes (whatever is left stays in the log for the next start);
//   4. the forwarder stops and disconnects;
//   5. the store thread applies the last acks, commits and closes the log.
// No step waits on a backoff sleep.
//
// Threads: Start, Shutdown and Reload are called from one thread (main); Snapshot from any.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/core/status.h"
#include "agent/pipeline/detect_stage.h"
#include "agent/pipeline/forwarder.h"
#include "agent/pipeline/ingest.h"
#include "agent/pipeline/local_link.h"
#include "agent/pipeline/store_stage.h"
#include "agent/store/intake_journal.h"
#include "agent/store/log.h"
#include "agent/transport/mqtt_client.h"

namespace weir::pipeline {

struct PipelineOptions {
  std::vector<IngestRoute> routes;
  size_t max_payload_bytes = 64 * 1024;
  int ingest_qos = 1;
  // Memory parsed messages may hold between the MQTT callback and the store thread
  // (ingest.queue_budget_bytes); beyond it messages wait in the intake journal (ingest_queue.h).
  size_t ingest_queue_budget_bytes = size_t{2} << 20;
  // The intake journal's cap (ingest.journal_max_bytes; local_link.h); 0: none.
  uint64_t journal_max_bytes = uint64_t{256} << 20;
  BackoffOptions local_backoff{std::chrono::milliseconds(200), std::chrono::seconds(10)};
  StoreStageOptions store;
  ForwarderOptions forward;  // device_id, topics, log_path and settings filled by the caller
  std::optional<DetectStageOptions> detect;  // nullopt: no detection
};

// A consistent-enough view for the status file (each part is read atomically on its own).
struct PipelineSnapshot {
  std::string log_id;  // the log's identity (32 hex digits), as every envelope carries it
  LinkState local = LinkState::kDisconnected;
  uint64_t local_connects = 0;
  uint64_t local_connect_failures = 0;
  uint64_t ingest_messages = 0;
  uint64_t ingest_readings = 0;
  uint64_t ingest_rejected = 0;
  std::map<std::string, uint64_t> rejected_by_reason;
  uint64_t ingest_dropped_at_shutdown = 0;
  size_t ingest_queue_depth = 0;
  size_t ingest_queue_bytes = 0;
  uint64_t ingest_spilled_now = 0;    // messages waiting in the journal only
  uint64_t ingest_spilled_total = 0;  // messages ever spilled
  uint64_t ingest_journal_errors = 0;
  uint64_t ingest_redeliveries_dropped = 0;
  bool ingest_paused_by_journal = false;
  uint64_t ingest_journal_pauses = 0;
  bool journal_enabled = false;
  store::IntakeJournalStats journal;
  StoreStageCounters store;
  // What opening the log found (immutable after start; owned by the pipeline's log).
  const store::RecoveryReport* recovery = nullptr;
  ForwarderCounters forward;
  bool detect_enabled = false;
  DetectCounters detect;
};

class Pipeline {
 public:
  // Starts every stage; the clients and the journal are owned, the log is handed to the store
  // thread. `journal` may be null (no kill -9 protection of the inbound window; tests). With a
  // journal, the messages it holds above the log's intake mark (accepted before a crash but not
  // committed) are queued first, before the local connection starts.
  static Result<std::unique_ptr<Pipeline>> Start(PipelineOptions options,
                                                 std::unique_ptr<store::Log> log,
                                                 std::unique_ptr<transport::MqttClient> local,
                                                 std::unique_ptr<transport::MqttClient> upstream,
                                                 const Clock& clock,
                                                 std::unique_ptr<store::IntakeJournal> journal);
  ~Pipeline();  // Shutdown(0) if not done

  // The fixed-order drain above. Blocks up to about drain_timeout plus a few disconnect
  // timeouts. Returns the log's write error, if any. Idempotent.
  Status Shutdown(std::chrono::milliseconds drain_timeout);

  // Applies settings that may change while running: the routes (new filters are subscribed;
  // messages on removed filters are dead-lettered as no_route until the next restart, because
  // the persistent session keeps their subscriptions) and the forwarder's settings.
  void Reload(std::vector<IngestRoute> routes, size_t max_payload_bytes,
              const ForwarderSettings& forward, std::optional<DetectStageOptions> detect);

  PipelineSnapshot Snapshot() const;
  // The name of a stage thread ("store", "forward") that has been working without once waiting
  // for longer than `limit` at `now` — stuck, as far as the systemd watchdog is concerned — or
  // nullopt when both make progress. From the thread that calls Shutdown (main).
  std::optional<std::string> StalledStage(Clock::TimePoint now, Clock::Duration limit) const;
  // Set when the store can no longer write: the agent should exit (and be restarted).
  std::optional<Status> fatal_error() const { return store_->fatal_error(); }
  const store::RecoveryReport& recovery() const { return store_->recovery(); }

 private:
  Pipeline() = default;

  std::unique_ptr<transport::MqttClient> local_client_;
  std::unique_ptr<transport::MqttClient> upstream_client_;
  std::unique_ptr<store::IntakeJournal> journal_;  // outlives the stages that use it
  std::unique_ptr<IngestQueue> queue_;
  std::unique_ptr<Ingest> ingest_;
  std::unique_ptr<DetectStage> detect_;  // used by the store thread; outlives it
  std::unique_ptr<StoreStage> store_;
  std::unique_ptr<Forwarder> forwarder_;
  std::atomic<Forwarder*> forwarder_ptr_{nullptr};  // for the store thread's commit callback
  std::unique_ptr<LocalLink> local_;
  std::string log_id_;
  bool shut_down_ = false;
  Status shutdown_status_;
};

}  // namespace weir::pipeline
