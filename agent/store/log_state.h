// Internal to agent/store: the writer's state, shared by the pieces of the writer — opening and
// recovery (log_open.h), group commit and the quota glue (log_commit.h), and the public Log
// (log.cc), which owns one LogState and forwards to those pieces. Plain data with no invariants
// of its own beyond the field comments; not thread-safe (the store thread only).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/codec/batch_codec.h"
#include "agent/core/clock.h"
#include "agent/core/log_id.h"
#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/store/log.h"
#include "agent/store/log_quota.h"
#include "agent/store/sqlite_util.h"
#include "platform/instance_lock.h"

namespace weir::store::internal {

using CursorKey = CursorPositions::key_type;

// What the next commit writes, the cursors' positions, and the writer's prepared statements
// (finalized with this object, so it is destroyed before the connection is closed).
struct PendingWrites {
  std::vector<Reading> readings;
  uint64_t readings_raw_bytes = 0;
  std::vector<std::string> defects;  // serialized weir.v1.Defect
  std::vector<std::pair<TimeMicros, TimeMicros>> defect_times;
  std::vector<DeadLetter> dead_letters;
  CursorPositions cursors;  // acked positions, including unpersisted ones
  std::set<CursorKey> dirty;
  std::optional<Clock::TimePoint> acks_since;
  codec::BatchEncoder encoder;
  codec::BatchDecoder decoder;
  Stmt insert_row;
  Stmt set_meta;
  Stmt upsert_cursor;
  Stmt insert_dead_letter;
  Stmt count_dead_letters;
  Stmt trim_dead_letters;
};

struct LogState {
  LogState(const LogOptions& o, const Clock& c)
      : options(o), clock(c), pending(std::make_unique<PendingWrites>()) {}

  // FailedPrecondition naming the sticky error once one is set; OK before. The one guard of
  // every write entry point (FORMAT.md "Sticky error").
  Status RefuseIfFailed() const;

  LogOptions options;
  const Clock& clock;
  sqlite3* db = nullptr;
  std::optional<platform::InstanceLock> lock;  // <path>.lock: one writer per log
  RecoveryReport recovery;
  Status sticky;
  uint64_t next_seq = 1;
  LogId log_id;
  uint64_t seq_reserved = 0;  // sequences below this are reserved in the side file
  EvictionStats evictions;
  std::unique_ptr<PendingWrites> pending;
  size_t buffered_records = 0;
  std::optional<Clock::TimePoint> first_buffered_at;
  StoreLimit limit = StoreLimit::kNone;
  Clock::TimePoint disk_full_at{};  // when a write last found the disk full
  UsageBytes usage;
  bool usage_dirty = true;             // dead letters or quarantine changed: recount their bytes
  std::filesystem::path salvage_from;  // a quarantined file an earlier open attempt left
  uint64_t intake_mark = 0;
  uint64_t committed_intake_mark = 0;
  bool log_id_unsaved = false;  // assigned at open, not yet in meta (a full disk at open)
};

}  // namespace weir::store::internal
