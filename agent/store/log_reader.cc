// LogReader: the read-only connection (see log.h). The queries it shares with the writer are in
// log_rows.cc.
#include <sqlite3.h>

#include <string>
#include <system_error>

#include "agent/codec/batch_codec.h"
#include "agent/store/log.h"
#include "agent/store/log_rows.h"
#include "agent/store/sqlite_util.h"

namespace weir::store {

LogReader::~LogReader() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<std::unique_ptr<LogReader>> LogReader::Open(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return NotFound("log " + path.string() + " does not exist");
  std::unique_ptr<LogReader> reader(new LogReader(path));
  int rc = sqlite3_open_v2(path.c_str(), &reader->db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return internal::SqlStatus(reader->db_, rc, "opening " + path.string());
  sqlite3_busy_timeout(reader->db_, 5000);
  WEIR_RETURN_IF_ERROR(internal::Exec(
      reader->db_, ("PRAGMA cache_size=-" + std::to_string(kReaderCacheKib)).c_str()));
  auto version = internal::ReadMeta(reader->db_, "schema_version", 0);
  if (!version.ok()) {
    return DataLoss("not a readable weir log: " + version.status().message());
  }
  if (*version != internal::kSchemaVersion) {
    return DataLoss("unexpected log schema version " + std::to_string(*version));
  }
  return reader;
}

Result<std::vector<StoredRecord>> LogReader::Read(const ReadQuery& query) {
  return internal::ReadRows(db_, query, decoder_);
}

Result<std::vector<StoredRecord>> LogReader::Read(Lane lane, uint64_t after_seq,
                                                  size_t max_records) {
  ReadQuery q;
  q.lane = lane;
  q.after_seq = after_seq;
  q.max_records = max_records;
  return Read(q);
}

Result<uint64_t> LogReader::CursorPosition(std::string_view cursor, Lane lane) {
  return internal::ReadCursor(db_, cursor, lane);
}

Result<std::vector<StoredDeadLetter>> LogReader::ReadDeadLetters(uint64_t after_id, size_t max) {
  return internal::ReadDeadLetters(db_, after_id, max);
}

Result<LogStats> LogReader::Stats() { return internal::ComputeStats(db_, path_); }

}  // namespace weir::store
