// StoreStage: the store thread, the only writer of the on-device log.
//
// It takes what Ingest queued, runs the detection hook over each batch of readings (defects are
// appended to their own lane), appends readings and dead letters to the log, and commits in
// groups (store.group_commit_records or group_commit_interval_ms, whichever first; the log
// decides). After each commit it publishes the last committed sequence and calls `on_commit`,
// which wakes the forwarder. The forwarder's acknowledgements and its dead letters come back
// through Ack() and AddDeadLetter(), because the log has one writer.
//
// Intake journal (store/intake_journal.h): every item carries its journal number; the stage sets
// the log's intake mark to it as the item is appended, so the commit that makes the item durable
// also records that it did, and after each commit the journal's wholly committed segments are
// released. A spilled run (ingest_queue.h) is read back from the journal a slice at a time and
// parsed here, in queue order. Numbers the journal can no longer produce (damage) are counted
// in intake_lost and logged.
//
// Quota pause (store.quota_policy pause_ingest): when the log refuses readings, the stage keeps
// the batch and retries every retry_interval while applying acks (which free space); meanwhile
// new messages wait in the journal, with only their numbers in memory (ingest_queue.h). Nothing
// accepted is dropped.
//
// Disk space (store.min_free_bytes, and a write that found the disk full) holds ingest back the
// same way as the quota: the batch is kept and retried, acks keep being applied so that the
// forwarder's progress can free space, and counters().limit says why ("quota", "disk_reserve",
// "disk_full"). A full disk is not fatal: the log keeps what it buffered and commits it when
// space returns.
//
// Any other write error (a failed fsync) is fatal: the log refuses writes until reopened
// (agent/store/log.h), so the stage stops taking items and reports the error through
// fatal_error(); the owner logs it and exits so that a supervisor restarts the agent.
//
// Threads: one Worker thread ("weir-store") owns the Log. Ack, AddDeadLetter and the accessors
// are thread-safe. Stop() blocks until the thread has drained the (closed) queue and committed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/core/worker.h"
#include "agent/pipeline/ingest.h"
#include "agent/store/log.h"

namespace weir::pipeline {

struct StoreStageOptions {
  std::string cursor = "upstream";  // the log cursor the forwarder's acks move
  size_t max_batch_items = 256;     // queue items taken per loop turn
  // The longest the thread sleeps with nothing to do: bounds how late acks are persisted.
  std::chrono::milliseconds idle_wake{100};
  std::chrono::milliseconds retry_interval{100};  // while the quota pauses ingest
};

// Detection on the store thread (DetectStage implements it; tests may fake it). Both calls must
// not throw and must not block for long.
class DetectHook {
 public:
  virtual ~DetectHook() = default;
  // Called once per inbound message with its readings before they are appended. May append
  // defects, and may replace readings (window aggregates); what is left in `readings` is stored.
  virtual void OnReadings(std::vector<Reading>& readings, Clock::TimePoint arrived,
                          std::vector<Defect>* defects) = 0;
  // Called on every turn of the store loop (at least every idle_wake); may add readings and
  // defects that do not come from a message (aggregates of closed windows, dropouts).
  virtual void OnTick(std::vector<Reading>* readings, std::vector<Defect>* defects) = 0;
};

// Where spilled runs are read back from; empty without a journal.
struct IntakeSource {
  store::IntakeJournal* journal = nullptr;                     // must outlive the stage
  std::function<IngestItem(const store::IntakeEntry&)> parse;  // Ingest::ParseEntry
};

struct StoreStageCounters {
  uint64_t readings_committed = 0;
  uint64_t defects_committed = 0;
  uint64_t dead_letters_committed = 0;
  uint64_t commits = 0;
  uint64_t last_committed_seq = 0;
  uint64_t ingest_paused_ms = 0;     // total time the quota or the disk held ingest back
  bool paused = false;               // the quota or the disk holds ingest back now
  uint64_t dropped_at_shutdown = 0;  // held by the quota at shutdown; replayed from the journal
  uint64_t intake_replayed = 0;      // journaled messages parsed here (spilled, or at start)
  uint64_t intake_lost = 0;          // journal numbers that could not be read back (damage)
  // Why the log holds writes back now (kNone when it does not), and the log's own figures,
  // refreshed every loop turn.
  store::StoreLimit limit = store::StoreLimit::kNone;
  uint64_t disk_full_commits = 0;  // commits that found the disk full (retried later)
  store::EvictionStats evictions;
  store::UsageBytes usage;
};

class StoreStage {
 public:
  // Starts the store thread. `queue` and `clock` must outlive the stage; `log` is owned.
  // `detect` may be null; it must outlive the stage. `on_commit` runs on the store thread after
  // each commit; keep it short.
  static Result<std::unique_ptr<StoreStage>> Start(std::unique_ptr<store::Log> log,
                                                   IngestQueue& queue, StoreStageOptions options,
                                                   const Clock& clock, DetectHook* detect,
                                                   std::function<void()> on_commit,
                                                   IntakeSource intake = {});
  ~StoreStage();  // Stop()s

  // Moves the forwarder's acknowledged position of `lane` (monotonic; lower values are ignored).
  // Persisted with the next commit. Non-blocking.
  void Ack(Lane lane, uint64_t seq);
  // Queues a dead letter from another thread (the forwarder). Non-blocking.
  void AddDeadLetter(store::DeadLetter letter);

  // Shutdown, step 1: closes the ingest queue. The thread drains it, commits, sets drained(),
  // and keeps applying acks (the forwarder's drain) until Stop(). Non-blocking.
  void CloseInput();
  bool drained() const { return drained_.load(std::memory_order_acquire); }

  // Closes the queue, lets the thread drain it, apply pending acks and commit what is buffered,
  // and joins it. Blocks. Returns the log's sticky error, if any. Idempotent.
  Status Stop();

  uint64_t last_committed_seq() const { return last_committed_.load(std::memory_order_acquire); }
  // The acked position the store knows for `lane` (as given to Ack, or read at start).
  uint64_t acked(Lane lane) const;
  StoreStageCounters counters() const;
  // The write error that stopped the stage, if any.
  std::optional<Status> fatal_error() const;
  const store::RecoveryReport& recovery() const { return log_->recovery(); }
  const std::string& cursor() const { return options_.cursor; }
  // When the store thread's current stretch of work began, nullopt while it waits (Worker's
  // busy_since, for the watchdog). Call from the thread that calls Stop.
  std::optional<Clock::TimePoint> busy_since() const {
    return worker_ ? worker_->busy_since() : std::nullopt;
  }

 private:
  StoreStage(std::unique_ptr<store::Log> log, IngestQueue& queue, StoreStageOptions options,
             const Clock& clock, DetectHook* detect, std::function<void()> on_commit,
             IntakeSource intake);
  // Replaces the spilled run at batch[next] by the parsed messages of its next slice (the rest
  // of the run stays behind them).
  void ExpandSpilled(std::vector<IngestItem>& batch, size_t next);
  // The store thread's loop state: the batch taken from the queue and the pause bookkeeping.
  struct RunState {
    std::vector<IngestItem> batch;
    std::vector<Defect> defects;
    size_t next = 0;  // first unprocessed item of `batch`
    bool paused = false;
    Clock::TimePoint paused_since{};
    bool closed = false;  // the queue is closed and drained
  };
  void Run(Worker& worker);
  // One turn of Run's loop; false when the loop ends.
  bool Turn(Worker& worker, RunState& rs);
  // Input is over: commits, then stays until Stop() to persist the forwarder's acks of the
  // drain. False when the loop ends.
  bool WaitForStop(Worker& worker);
  // Takes the next items from the queue into an empty batch (waits up to the idle wake or the
  // next commit deadline).
  void TakeBatch(RunState& rs);
  // Appends the batch's items until one is refused (the quota) or the batch is done.
  void ProcessBatch(RunState& rs);
  // Records a change of the ingest pause (counters, log lines).
  void SetPaused(RunState& rs, bool held);
  // Shutting down while the quota holds ingest back: counts what cannot be stored and drops it
  // (with a journal it is replayed at the next start).
  void DropHeldAtShutdown(RunState& rs);
  // The last commit when the loop ends.
  void FinalCommit();
  // Appends one item; false when the quota refused it (retry later) or on a fatal error.
  bool Process(IngestItem& item, std::vector<Defect>& defects);
  // Appends what the detection tick produced; false when the quota refused it (kept for later).
  bool ProcessTick();
  void ApplyAcksAndLetters();
  void Committed(const store::CommitResult& result);
  // A commit's outcome: true when the loop may go on (committed, or the disk is full and the log
  // kept what it buffered); false after a fatal error.
  bool AfterCommit(const Result<store::CommitResult>& committed);
  void RefreshLogFigures();
  void Fail(const Status& status);

  std::unique_ptr<store::Log> log_;
  IngestQueue& queue_;
  const StoreStageOptions options_;
  const Clock& clock_;
  DetectHook* const detect_;
  std::function<void()> on_commit_;
  const IntakeSource intake_;
  std::unique_ptr<Worker> worker_;

  std::atomic<uint64_t> last_committed_{0};
  std::atomic<uint64_t> acked_[2] = {0, 0};  // indexed by Lane
  std::atomic<bool> stopping_{false};
  std::atomic<bool> drained_{false};
  mutable std::mutex mu_;  // guards the members below
  std::vector<store::DeadLetter> letters_;
  uint64_t applied_acks_[2] = {0, 0};
  IngestItem tick_;  // readings and defects from DetectHook::OnTick not yet appended
  std::vector<Defect> tick_defects_;
  StoreStageCounters counters_;
  std::optional<Status> fatal_;
};

}  // namespace weir::pipeline
