#include "agent/pipeline/store_stage.h"

#include <algorithm>
#include <utility>

#include "agent/core/logging.h"

namespace weir::pipeline {
namespace {
size_t LaneIndex(Lane lane) { return lane == Lane::kDefects ? 0 : 1; }
}  // namespace

StoreStage::StoreStage(std::unique_ptr<store::Log> log, IngestQueue& queue,
                       StoreStageOptions options, const Clock& clock, DetectHook* detect,
                       std::function<void()> on_commit, IntakeSource intake)
    : log_(std::move(log)),
      queue_(queue),
      options_(std::move(options)),
      clock_(clock),
      detect_(detect),
      on_commit_(std::move(on_commit)),
      intake_(std::move(intake)) {}

Result<std::unique_ptr<StoreStage>> StoreStage::Start(std::unique_ptr<store::Log> log,
                                                      IngestQueue& queue, StoreStageOptions options,
                                                      const Clock& clock, DetectHook* detect,
                                                      std::function<void()> on_commit,
                                                      IntakeSource intake) {
  std::unique_ptr<StoreStage> stage(new StoreStage(std::move(log), queue, std::move(options), clock,
                                                   detect, std::move(on_commit),
                                                   std::move(intake)));
  for (Lane lane : {Lane::kDefects, Lane::kReadings}) {
    const uint64_t pos = stage->log_->CursorPosition(stage->options_.cursor, lane);
    stage->acked_[LaneIndex(lane)] = pos;
    stage->applied_acks_[LaneIndex(lane)] = pos;
  }
  stage->last_committed_ = stage->log_->last_committed_seq();
  stage->counters_.last_committed_seq = stage->log_->last_committed_seq();
  StoreStage* raw = stage.get();
  WEIR_ASSIGN_OR_RETURN(stage->worker_,
                        Worker::Start("weir-store", [raw](Worker& w) { raw->Run(w); }));
  return stage;
}

StoreStage::~StoreStage() { (void)Stop(); }

void StoreStage::Ack(Lane lane, uint64_t seq) {
  std::atomic<uint64_t>& a = acked_[LaneIndex(lane)];
  uint64_t cur = a.load(std::memory_order_relaxed);
  while (seq > cur && !a.compare_exchange_weak(cur, seq, std::memory_order_release)) {
  }
}

uint64_t StoreStage::acked(Lane lane) const {
  return acked_[LaneIndex(lane)].load(std::memory_order_acquire);
}

void StoreStage::AddDeadLetter(store::DeadLetter letter) {
  std::lock_guard lock(mu_);
  letters_.push_back(std::move(letter));
}

StoreStageCounters StoreStage::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

std::optional<Status> StoreStage::fatal_error() const {
  std::lock_guard lock(mu_);
  return fatal_;
}

void StoreStage::Fail(const Status& status) {
  LogError("store", "the log refuses writes, stopping: " + status.ToString());
  std::lock_guard lock(mu_);
  if (!fatal_) fatal_ = status;
}

void StoreStage::Committed(const store::CommitResult& result) {
  if (intake_.journal != nullptr) intake_.journal->Release(log_->committed_intake_mark());
  if (result.empty() && result.dead_letters == 0) return;
  {
    std::lock_guard lock(mu_);
    ++counters_.commits;
    counters_.readings_committed += result.readings;
    counters_.defects_committed += result.defects;
    counters_.dead_letters_committed += result.dead_letters;
    if (!result.empty()) counters_.last_committed_seq = result.last_seq;
  }
  if (!result.empty()) {
    last_committed_.store(result.last_seq, std::memory_order_release);
    if (on_commit_) on_commit_();
  }
}

bool StoreStage::AfterCommit(const Result<store::CommitResult>& committed) {
  if (committed.ok()) {
    Committed(*committed);
    return true;
  }
  if (committed.status().code() == StatusCode::kResourceExhausted && log_->sticky_error().ok()) {
    std::lock_guard lock(mu_);
    if (counters_.disk_full_commits++ == 0 || counters_.limit != store::StoreLimit::kDiskFull) {
      LogWarn("store", "disk full; keeping what is buffered until space returns: " +
                           committed.status().ToString());
    }
    return true;
  }
  Fail(committed.status());
  return false;
}

void StoreStage::RefreshLogFigures() {
  std::lock_guard lock(mu_);
  counters_.limit = log_->limit();
  counters_.evictions = log_->evictions();
  counters_.usage = log_->usage();
}

void StoreStage::ApplyAcksAndLetters() {
  for (Lane lane : {Lane::kDefects, Lane::kReadings}) {
    const size_t i = LaneIndex(lane);
    const uint64_t want = acked_[i].load(std::memory_order_acquire);
    if (want <= applied_acks_[i]) continue;
    const Status s = log_->Ack(options_.cursor, lane, want);
    if (!s.ok()) {
      LogWarn("store", "ack of " + std::string(store::LaneName(lane)) + " up to " +
                           std::to_string(want) + " refused: " + s.ToString());
    }
    applied_acks_[i] = want;
  }
  std::vector<store::DeadLetter> letters;
  {
    std::lock_guard lock(mu_);
    letters.swap(letters_);
  }
  for (const store::DeadLetter& letter : letters) {
    const Status s = log_->AppendDeadLetter(letter);
    if (!s.ok()) LogWarn("store", "dead letter not stored: " + s.ToString());
  }
}

bool StoreStage::ProcessTick() {
  if (detect_ == nullptr) return true;
  if (tick_.readings.empty() && tick_defects_.empty()) {
    detect_->OnTick(&tick_.readings, &tick_defects_);
    tick_.detected = true;  // these come from the detector itself
  }
  return Process(tick_, tick_defects_);
}

bool StoreStage::Process(IngestItem& item, std::vector<Defect>& defects) {
  if (item.dead_letter) {
    const Status s = log_->AppendDeadLetter(*item.dead_letter);
    if (!s.ok()) {
      if (!log_->sticky_error().ok()) {
        Fail(s);
        return false;
      }
      LogWarn("store", "dead letter not stored: " + s.ToString());
    }
    item.dead_letter.reset();
  }
  // Detection runs once per item: a retried item (quota pause) keeps its defects.
  if (detect_ != nullptr && !item.detected && !item.readings.empty()) {
    detect_->OnReadings(item.readings, item.arrived, &defects);
  }
  item.detected = true;
  while (!defects.empty()) {
    auto r = log_->AppendDefect(defects.front());
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kResourceExhausted) Fail(r.status());
      return false;
    }
    Committed(*r);
    defects.erase(defects.begin());
  }
  if (!item.readings.empty()) {
    // The mark goes with the readings: an Append that commits makes both durable together.
    const uint64_t mark_before = log_->intake_mark();
    if (item.intake_number != 0) log_->SetIntakeMark(item.intake_number);
    auto r = log_->Append(item.readings);
    if (!r.ok()) {
      log_->SetIntakeMark(mark_before);  // a refused Append buffered nothing
      if (r.status().code() != StatusCode::kResourceExhausted) Fail(r.status());
      return false;
    }
    Committed(*r);
    item.readings.clear();
  }
  if (item.intake_number != 0) log_->SetIntakeMark(item.intake_number);
  return true;
}

void StoreStage::ExpandSpilled(std::vector<IngestItem>& batch, size_t next) {
  constexpr size_t kSliceEntries = 256;
  constexpr size_t kSliceBytes = 1 << 20;
  IngestItem& run = batch[next];
  std::vector<store::IntakeEntry> entries;
  if (intake_.journal != nullptr && intake_.parse) {
    auto read = intake_.journal->ReadAfter(run.intake_number - 1, run.spilled_last, kSliceEntries,
                                           kSliceBytes);
    if (read.ok()) {
      entries = std::move(read).value();
    } else {
      LogError("store", "reading the intake journal: " + read.status().ToString());
    }
  }
  // Numbers the journal skipped (damage) or could not give at all are lost; say how many.
  const uint64_t upto = entries.empty() ? run.spilled_last : entries.back().number;
  const uint64_t lost = upto - run.intake_number + 1 - entries.size();
  std::vector<IngestItem> parsed;
  parsed.reserve(entries.size());
  for (const store::IntakeEntry& e : entries) parsed.push_back(intake_.parse(e));
  {
    std::lock_guard lock(mu_);
    counters_.intake_replayed += parsed.size();
    counters_.intake_lost += lost;
  }
  if (lost > 0) {
    LogError("store", "intake journal: " + std::to_string(lost) +
                          " acknowledged messages up to number " + std::to_string(upto) +
                          " could not be read back and are lost");
    if (entries.empty()) log_->SetIntakeMark(std::max(log_->intake_mark(), upto));
  }
  if (upto >= run.spilled_last) {
    batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(next));
  } else {
    run.intake_number = upto + 1;
  }
  batch.insert(batch.begin() + static_cast<std::ptrdiff_t>(next),
               std::make_move_iterator(parsed.begin()), std::make_move_iterator(parsed.end()));
}

void StoreStage::Run(Worker& worker) {
  RunState rs;
  while (!fatal_error() && Turn(worker, rs)) {
  }
  if (!fatal_error()) FinalCommit();
}

bool StoreStage::Turn(Worker& worker, RunState& rs) {
  worker.Beat();  // the idle wait below is the queue's, not the worker's (worker.h, Progress)
  if (rs.next == rs.batch.size()) {
    rs.batch.clear();
    rs.next = 0;
    if (rs.closed) return WaitForStop(worker);
    TakeBatch(rs);
  }
  ProcessBatch(rs);
  const bool tick_held = !ProcessTick();
  const bool held = (rs.next < rs.batch.size() || tick_held) && !fatal_error();
  if (held != rs.paused) SetPaused(rs, held);
  ApplyAcksAndLetters();
  if (!AfterCommit(log_->CommitIfDue())) return false;
  RefreshLogFigures();
  if (held) {
    if (stopping_.load(std::memory_order_acquire) && queue_.closed()) {
      DropHeldAtShutdown(rs);
      return true;
    }
    worker.WaitFor(options_.retry_interval);
  }
  return true;
}

bool StoreStage::WaitForStop(Worker& worker) {
  ApplyAcksAndLetters();
  if (!AfterCommit(log_->Commit())) return false;
  RefreshLogFigures();
  drained_.store(true, std::memory_order_release);
  if (worker.stop_requested()) return false;
  worker.WaitFor(options_.idle_wake);
  return true;
}

void StoreStage::TakeBatch(RunState& rs) {
  Clock::TimePoint deadline = clock_.Now() + options_.idle_wake;
  if (auto due = log_->NextCommitDeadline()) deadline = std::min(deadline, *due);
  auto first = queue_.PopUntil(deadline);
  if (first.ok()) {
    rs.batch.push_back(std::move(*first));
    while (rs.batch.size() < options_.max_batch_items) {
      auto more = queue_.TryPop();
      if (!more) break;
      rs.batch.push_back(std::move(*more));
    }
  } else if (first.status().code() == StatusCode::kCancelled) {
    rs.closed = true;  // closed and drained: commit and leave
  }
}

void StoreStage::ProcessBatch(RunState& rs) {
  while (rs.next < rs.batch.size()) {
    if (rs.batch[rs.next].spilled()) {
      // Drop what is done first: a long run would otherwise keep every processed item.
      rs.batch.erase(rs.batch.begin(), rs.batch.begin() + static_cast<std::ptrdiff_t>(rs.next));
      rs.next = 0;
      ExpandSpilled(rs.batch, rs.next);
      continue;
    }
    if (!Process(rs.batch[rs.next], rs.defects)) break;
    ++rs.next;
  }
}

void StoreStage::SetPaused(RunState& rs, bool held) {
  rs.paused = held;
  std::lock_guard lock(mu_);
  counters_.paused = held;
  if (held) {
    rs.paused_since = clock_.Now();
    LogWarn("store", "ingest paused (" + std::string(store::StoreLimitName(log_->limit())) +
                         ") until acknowledgements or the disk free space");
  } else {
    counters_.ingest_paused_ms += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now() - rs.paused_since)
            .count());
    LogInfo("store", "ingest resumed");
  }
}

void StoreStage::DropHeldAtShutdown(RunState& rs) {
  // With a journal they are replayed at the next start (the intake mark is below them).
  auto messages = [](const IngestItem& item) -> uint64_t {
    return item.spilled() ? item.spilled_last - item.intake_number + 1
                          : (item.readings.empty() ? 0 : 1);
  };
  uint64_t dropped = 0;
  for (size_t i = rs.next; i < rs.batch.size(); ++i) dropped += messages(rs.batch[i]);
  while (auto more = queue_.TryPop()) dropped += messages(*more);
  {
    std::lock_guard lock(mu_);
    counters_.dropped_at_shutdown += dropped;
  }
  rs.batch.clear();
  rs.next = 0;
  rs.closed = true;
}

void StoreStage::FinalCommit() {
  ApplyAcksAndLetters();
  const size_t buffered = log_->buffered_records();
  auto committed = log_->Commit();
  if (committed.ok()) {
    Committed(*committed);
  } else if (committed.status().code() == StatusCode::kResourceExhausted) {
    LogError("store", "disk full at shutdown: " + std::to_string(buffered) +
                          " buffered record(s) not stored: " + committed.status().ToString());
    std::lock_guard lock(mu_);
    counters_.dropped_at_shutdown += buffered;
  } else {
    Fail(committed.status());
  }
}

void StoreStage::CloseInput() {
  stopping_.store(true, std::memory_order_release);
  queue_.Close();
}

Status StoreStage::Stop() {
  CloseInput();  // idempotent; the thread drains what was queued before leaving
  if (worker_) {
    worker_->RequestStop();
    worker_->Join();
    worker_.reset();
  }
  if (!log_) return Status::Ok();
  return log_->sticky_error();
}

}  // namespace weir::pipeline
