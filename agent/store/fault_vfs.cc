#include "agent/store/fault_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace weir::store::testing {
namespace {

std::atomic<int> g_fail_opens{0};
std::atomic<int> g_skip_opens{0};
std::atomic<int> g_fail_reads{0};
std::atomic<int> g_fail_writes{0};
std::atomic<int> g_write_code{SQLITE_FULL};
std::atomic<int> g_open_code{SQLITE_IOERR};
std::atomic<int> g_read_code{SQLITE_IOERR_READ};
std::atomic<uint64_t> g_injected{0};

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;

int Code(Fault f, bool read) {
  switch (f) {
    case Fault::kIoError:
      return read ? SQLITE_IOERR_READ : SQLITE_IOERR;
    case Fault::kNoMem:
      return SQLITE_NOMEM;
    case Fault::kBusy:
      return SQLITE_BUSY;
    case Fault::kFull:
      return SQLITE_FULL;
  }
  return SQLITE_IOERR;
}

// Takes one pending fault, if any.
bool Take(std::atomic<int>& counter) {
  int n = counter.load();
  while (n > 0) {
    if (counter.compare_exchange_weak(n, n - 1)) {
      g_injected.fetch_add(1);
      return true;
    }
  }
  return false;
}

// Lets one open through before the pending open faults (FailOpensAfter).
bool Skip() {
  int n = g_skip_opens.load();
  while (n > 0) {
    if (g_skip_opens.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

struct File {
  sqlite3_file base;
  sqlite3_file* real;
  bool main_db;
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

int Close(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  if (reinterpret_cast<File*>(f)->main_db && Take(g_fail_reads)) return g_read_code.load();
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (Take(g_fail_writes)) return g_write_code.load();
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int Sync(sqlite3_file* f, int flags) { return Real(f)->pMethods->xSync(Real(f), flags); }
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int Lock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int Unlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
  return Real(f)->pMethods->xShmMap(Real(f), pg, sz, extend, p);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, p);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  auto* file = reinterpret_cast<File*>(f);
  file->base.pMethods = nullptr;
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  file->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  if (file->main_db && !Skip() && Take(g_fail_opens)) return g_open_code.load();
  int rc = g_real->xOpen(g_real, name, file->real, flags, out_flags);
  if (file->real->pMethods == nullptr) return rc;
  g_methods.iVersion = file->real->pMethods->iVersion;
  file->base.pMethods = &g_methods;
  return rc;
}

int Delete(sqlite3_vfs*, const char* name, int sync) { return g_real->xDelete(g_real, name, sync); }
int Access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}

void Register() {
  g_real = sqlite3_vfs_find(nullptr);
  g_methods = sqlite3_io_methods{3,
                                 Close,
                                 Read,
                                 Write,
                                 Truncate,
                                 Sync,
                                 FileSize,
                                 Lock,
                                 Unlock,
                                 CheckReservedLock,
                                 FileControl,
                                 SectorSize,
                                 DeviceCharacteristics,
                                 ShmMap,
                                 ShmLock,
                                 ShmBarrier,
                                 ShmUnmap,
                                 Fetch,
                                 Unfetch};
  g_vfs = *g_real;  // time, randomness, sleep, dlopen: the real VFS's
  g_vfs.zName = "weir-fault";
  g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_real->szOsFile;
  g_vfs.pNext = nullptr;
  g_vfs.xOpen = Open;
  g_vfs.xDelete = Delete;
  g_vfs.xAccess = Access;
  g_vfs.xFullPathname = FullPathname;
  sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
}

}  // namespace

const char* FaultVfsName() {
  static std::once_flag once;
  std::call_once(once, Register);
  return "weir-fault";
}

void FailNextOpens(int count, Fault fault) {
  g_open_code = Code(fault, /*read=*/false);
  g_fail_opens = count;
}

void FailOpensAfter(int skip, int count, Fault fault) {
  g_open_code = Code(fault, /*read=*/false);
  g_skip_opens = skip;
  g_fail_opens = count;
}

void FailNextReads(int count, Fault fault) {
  g_read_code = Code(fault, /*read=*/true);
  g_fail_reads = count;
}

void FailNextWrites(int count, Fault fault) {
  g_write_code = Code(fault, /*read=*/false);
  g_fail_writes = count;
}

uint64_t InjectedFaults() { return g_injected.load(); }

void ClearFaults() {
  g_fail_opens = 0;
  g_skip_opens = 0;
  g_fail_reads = 0;
  g_fail_writes = 0;
}

}  // namespace weir::store::testing
