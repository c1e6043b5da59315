// Internal to agent/store: thin RAII helpers over the SQLite C API (statements, errors, exec)
// and the pieces shared by the writer and the reader (row checksum, row reads, stats).
// Not thread-safe; each helper works on the connection it is given. Every call may block on I/O.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "agent/core/status.h"

namespace weir::store::internal {

// Maps an SQLite result code to a Status naming the operation: corruption -> DataLoss,
// full -> ResourceExhausted, I/O -> IoError, busy/locked/no memory -> Unavailable, anything else
// -> Internal.
Status SqlStatus(sqlite3* db, int rc, std::string_view what);

// Runs SQL without results (may hold several statements).
Status Exec(sqlite3* db, const char* sql);

// A prepared statement, finalized on destruction. Movable.
class Stmt {
 public:
  Stmt() = default;
  static Result<Stmt> Prepare(sqlite3* db, std::string_view sql);
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(Stmt&& o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)), db_(o.db_) {}
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    db_ = o.db_;
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  sqlite3_stmt* get() const { return stmt_; }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindText(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  // The bytes must stay alive until the statement is stepped.
  void BindBlobStatic(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC);
  }
  // Returns true for a row, false when done, or the error.
  Result<bool> Step(std::string_view what);
  // Steps to completion (for statements without rows) and resets for reuse.
  Status Run(std::string_view what);
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string_view Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }
  std::string_view Blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// A single-value query ("PRAGMA page_count"); returns the first column of the first row.
Result<int64_t> QueryInt(sqlite3* db, const char* sql);

}  // namespace weir::store::internal
