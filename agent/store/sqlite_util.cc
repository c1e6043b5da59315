#include "agent/store/sqlite_util.h"

#include <string>

#include "agent/store/log.h"

namespace weir::store::internal {

Status SqlStatus(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
  std::string msg(what);
  msg += ": ";
  msg += (db != nullptr && sqlite3_errcode(db) == rc) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (sqlite " + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(std::move(msg));
    case SQLITE_FULL:
      return ResourceExhausted(std::move(msg)).WithReason(StoreLimitName(StoreLimit::kDiskFull));
    case SQLITE_ERROR:  // what prepare says of a missing table or column
      return Internal(std::move(msg)).WithReason(kReasonSchemaMismatch);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return IoError(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:  // can pass, like busy: Log::Open retries it (FORMAT.md "Recovery")
      return Unavailable(std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  return SqlStatus(db, rc, sql);
}

Result<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql) {
  Stmt s;
  s.db_ = db;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s.stmt_, nullptr);
  if (rc != SQLITE_OK) return SqlStatus(db, rc, "preparing '" + std::string(sql) + "'");
  return s;
}

Result<bool> Stmt::Step(std::string_view what) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqlStatus(db_, rc, what);
}

Status Stmt::Run(std::string_view what) {
  int rc = sqlite3_step(stmt_);
  while (rc == SQLITE_ROW) rc = sqlite3_step(stmt_);
  Reset();
  return SqlStatus(db_, rc, what);
}

Result<int64_t> QueryInt(sqlite3* db, const char* sql) {
  WEIR_ASSIGN_OR_RETURN(Stmt s, Stmt::Prepare(db, sql));
  WEIR_ASSIGN_OR_RETURN(bool row, s.Step(sql));
  if (!row) return NotFound(std::string(sql) + ": no row");
  return s.Int(0);
}

}  // namespace weir::store::internal
