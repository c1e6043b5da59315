// Internal to agent/store: what Log::Open does about damage: the integrity check, per-row
// verification, whole-file quarantine and salvage, and the sequence side file <path>.seq that
// lets a fresh log continue above anything ever issued (FORMAT.md "Sequences", "Quarantine").
// Called by the writer only; not thread-safe. Every function blocks on disk I/O.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/store/log.h"
#include "agent/store/log_rows.h"

namespace weir::store::internal {

// --- The sequence side file ---------------------------------------------------------------

std::filesystem::path SeqFilePath(const std::filesystem::path& db);
// The reservation in the side file; nullopt when it is missing or damaged (then ignored).
std::optional<uint64_t> ReadSeqFile(const std::filesystem::path& path);
// Atomically replaces the side file (platform::WriteFileAtomically). IoError, or
// ResourceExhausted when the disk is full.
Status WriteSeqFile(const std::filesystem::path& path, uint64_t value);

// --- Checks on an existing file -----------------------------------------------------------

// Checks that the open file is a readable weir log: schema version, then integrity_check (small
// files) or quick_check, then that every table and column the writer uses exists (a damaged
// schema text can pass integrity_check). Sets `empty_file` (and returns OK) when the file has no
// tables.
// FailedPrecondition for a newer schema (not damage), DataLoss for damage, or the SQLite error.
Status CheckExisting(sqlite3* db, const std::filesystem::path& path, bool& empty_file);

// Reads every row once; rows whose checksum fails move to the quarantine table (in their own
// transaction) and are counted in `report`. An SQLite error while scanning means the b-tree
// itself is damaged: it is returned (DataLoss) and the caller quarantines the file.
Status VerifyRows(sqlite3* db, const Clock& clock, RecoveryReport& report);

// --- Whole-file quarantine and salvage ----------------------------------------------------

// Moves the file at `path` and its -wal/-shm into <dir>/quarantine/<stamp>/ and records that in
// `report` (with `why`). The caller must have closed its connection to the file. Returns where
// the database file now is, or IoError.
Result<std::filesystem::path> QuarantineFile(const std::filesystem::path& path, const Clock& clock,
                                             const Status& why, RecoveryReport& report);

// What Salvage recovered besides the rows it copied.
struct Salvaged {
  uint64_t next_seq = 0;  // above every sequence the old file recorded or held (0: none)
  std::vector<std::tuple<std::string, Lane, uint64_t>> cursors;  // (name, lane, acked_seq)
};

// Best effort, never fails: copies the rows of `old_db` that can still be read and verified
// into the fresh log `db` (which has the schema) in one transaction, and counts them in
// `report`. Rows are read forwards until the first error, then backwards from the end until an
// error or the forward position, so damage in the middle loses only what it touched.
// Ranges lost to damage (rows that failed their checksum, the stretch no scan could read, up to
// `known_next_seq` - 1 when the old file cannot tell) become gap records with reason "damaged"
// in the fresh log (FORMAT.md "Recovery", step 5).
Salvaged Salvage(const std::filesystem::path& old_db, sqlite3* db, uint64_t known_next_seq,
                 RecoveryReport& report);

// Writes (or replaces) a gap row with reason kGapDamaged and counts it in `report`.
Status WriteDamagedGap(sqlite3* db, const RowHeader& gap, RecoveryReport& report);

}  // namespace weir::store::internal
