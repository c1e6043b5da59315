// A fault seam for tests: an SQLite VFS ("weir-fault") that wraps the default one and makes the
// next N opens or reads of a database file fail with an error that can pass (I/O error, no
// memory, busy, full), as a flaky SD card would. A test sets LogOptions::vfs = FaultVfsName().
// Production never registers it, so it costs nothing there (library weir_store_fault_vfs, linked
// by tests only).
//
// Thread-safe: the counters are atomics; register once per process (FaultVfsName does).
#pragma once

#include <cstdint>

namespace weir::store::testing {

enum class Fault : uint8_t {
  kIoError,  // SQLITE_IOERR_READ (an EIO from the card)
  kNoMem,    // SQLITE_NOMEM
  kBusy,     // SQLITE_BUSY
  kFull,     // SQLITE_FULL
};

// Registers the VFS (not as the default) on first use and returns its name.
const char* FaultVfsName();

// The next `count` xOpen calls of a main database file through the VFS fail with `fault`.
void FailNextOpens(int count, Fault fault);
// As FailNextOpens, after letting `skip` opens of a main database file through.
void FailOpensAfter(int skip, int count, Fault fault);
// The next `count` xRead calls on a main database file through the VFS fail with `fault`.
void FailNextReads(int count, Fault fault);
// The next `count` xWrite calls on any file through the VFS (database, WAL) fail with `fault`
// (kFull: as a full disk would).
void FailNextWrites(int count, Fault fault);
// Faults injected since the process started.
uint64_t InjectedFaults();
// Drops the pending faults.
void ClearFaults();

}  // namespace weir::store::testing
