// `weir log import`: CSV (timestamp,value[,sensor], as in NAB) or JSON lines files into a log,
// for gateways that have history in files. Readings are committed in chunks of --batch; a bad
// line is reported with its file and line number and skipped (or stops the import with
// --strict); everything accepted before a stop is committed. Exit code 2 when any line was
// rejected, so scripts notice.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "agent/app/exit_codes.h"
#include "agent/app/log_cli.h"
#include "agent/app/log_open.h"
#include "agent/app/progress.h"
#include "agent/codec/csv.h"
#include "agent/codec/payload_parser.h"

namespace weir::app {

namespace {

// At most this many rejected lines are printed; the rest are only counted.
constexpr uint64_t kMaxReportedErrors = 20;

struct ImportTotals {
  uint64_t readings = 0;
  uint64_t rejected = 0;
  uint64_t bytes_done = 0;  // input bytes of finished files
};

// Collects readings and hands them to the log a chunk at a time, so every committed chunk holds
// exactly `slice` readings (the last one fewer).
class Sink {
 public:
  Sink(store::Log& log, size_t slice) : log_(log), slice_(slice) { buffer_.reserve(slice); }
  Status Add(Reading r) {
    buffer_.push_back(std::move(r));
    return buffer_.size() >= slice_ ? Flush() : Status::Ok();
  }
  Status Flush() {
    if (buffer_.empty()) return Status::Ok();
    auto committed = log_.Append(buffer_);
    buffer_.clear();
    return committed.status();
  }
  // Hands over what is buffered and commits everything the log still holds.
  Status Commit() {
    WEIR_RETURN_IF_ERROR(Flush());
    return log_.Commit().status();
  }

 private:
  store::Log& log_;
  const size_t slice_;
  std::vector<Reading> buffer_;
};

class Importer {
 public:
  Importer(const LogImportOptions& options, store::Log& log, uint64_t total_bytes)
      : options_(options), sink_(log, options.batch), progress_("import", total_bytes, "B") {
    if (!options.progress) progress_.set_enabled(false);
  }

  // Imports one file. Returns a non-OK status only when the import must stop (I/O error, store
  // error, or a bad line under --strict).
  Status ImportFile(const std::filesystem::path& path) {
    const bool csv =
        options_.format == "csv" || (options_.format == "auto" && path.extension() == ".csv");
    Status s = csv ? ImportCsv(path) : ImportJsonLines(path);
    std::error_code ec;
    totals_.bytes_done += std::filesystem::file_size(path, ec);
    return s;
  }

  Status Finish() {
    WEIR_RETURN_IF_ERROR(sink_.Commit());
    progress_.Update(totals_.bytes_done);
    progress_.Finish();
    return Status::Ok();
  }

  const ImportTotals& totals() const { return totals_; }

 private:
  std::string SensorFor(const std::filesystem::path& path) const {
    return options_.sensor.empty() ? codec::SensorIdFromPath(path) : options_.sensor;
  }

  // A rejected line: reported, counted; fatal under --strict.
  Status Reject(const std::filesystem::path& path, const Status& why) {
    ++totals_.rejected;
    if (totals_.rejected <= kMaxReportedErrors) {
      std::fprintf(stderr, "\rweir log import: %s: %s\n", path.c_str(), why.message().c_str());
    }
    if (options_.strict) return why.WithContext(path.string());
    return Status::Ok();
  }

  Status Accept(Reading r) {
    ++totals_.readings;
    return sink_.Add(std::move(r));
  }

  Status ImportCsv(const std::filesystem::path& path) {
    codec::CsvOptions csv_options;
    csv_options.sensor = SensorFor(path);
    csv_options.epoch_unit = EpochUnitFromFlag(options_.epoch_unit);
    WEIR_ASSIGN_OR_RETURN(codec::CsvReader reader, codec::CsvReader::Open(path, csv_options));
    Reading r;
    while (true) {
      Result<bool> more = reader.Next(&r);
      if (!more.ok()) {
        if (more.status().code() != StatusCode::kInvalidArgument) {
          return more.status().WithContext(path.string());
        }
        WEIR_RETURN_IF_ERROR(Reject(path, more.status()));
        continue;
      }
      if (!*more) return Status::Ok();
      WEIR_RETURN_IF_ERROR(Accept(std::move(r)));
      if ((totals_.readings & 0xFFF) == 0) {
        progress_.Update(totals_.bytes_done + reader.bytes_consumed());
      }
    }
  }

  Status ImportJsonLines(const std::filesystem::path& path) {
    codec::JsonParserOptions json;
    json.sensor_topic_segment = codec::kWholeTopic;  // the file's sensor when a line has none
    // History may be old: accept any past time, and up to a day ahead.
    json.limits.max_past_us = INT64_MAX / 2;
    WEIR_ASSIGN_OR_RETURN(auto parser, codec::MakeJsonParser(json));
    std::ifstream in(path, std::ios::binary);
    if (!in) return IoError("cannot open '" + path.string() + "'");
    const std::string sensor = SensorFor(path);
    const codec::ParseContext ctx{sensor, SystemClock::Instance().WallMicros()};
    std::string line;
    std::vector<Reading> parsed;
    uint64_t line_no = 0, bytes = 0;
    while (std::getline(in, line)) {
      ++line_no;
      bytes += line.size() + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      parsed.clear();
      Status s = parser->Parse(line, ctx, &parsed);
      if (!s.ok()) {
        WEIR_RETURN_IF_ERROR(Reject(path, s.WithContext("line " + std::to_string(line_no))));
        continue;
      }
      for (auto& r : parsed) WEIR_RETURN_IF_ERROR(Accept(std::move(r)));
      if ((line_no & 0xFFF) == 0) progress_.Update(totals_.bytes_done + bytes);
    }
    if (in.bad()) return IoError("reading '" + path.string() + "' failed");
    return Status::Ok();
  }

  static codec::EpochUnit EpochUnitFromFlag(const std::string& unit) {
    if (unit == "ms") return codec::EpochUnit::kMillis;
    if (unit == "us") return codec::EpochUnit::kMicros;
    if (unit == "ns") return codec::EpochUnit::kNanos;
    return codec::EpochUnit::kSeconds;
  }

  const LogImportOptions& options_;
  Sink sink_;
  ProgressBar progress_;
  ImportTotals totals_;
};

}  // namespace

int RunLogImport(const LogImportOptions& options) {
  auto opened = OpenLogForWriting(options.log, options.batch);
  if (!opened.ok()) {
    std::fprintf(stderr, "weir log import: %s\n", opened.status().ToString().c_str());
    return opened.status().code() == StatusCode::kAlreadyExists ? kExitLocked : kExitFailure;
  }
  store::Log& log = *opened->writer;
  const uint64_t first_seq = log.last_committed_seq() + 1;

  uint64_t total_bytes = 0;
  for (const auto& f : options.files) {
    std::error_code ec;
    total_bytes += std::filesystem::file_size(f, ec);
  }
  Importer importer(options, log, total_bytes);
  Status stopped;
  for (const auto& f : options.files) {
    stopped = importer.ImportFile(f);
    if (!stopped.ok()) break;
  }
  // Whatever was accepted before a stop is committed.
  Status finished = importer.Finish();
  const ImportTotals& t = importer.totals();
  if (!finished.ok()) {
    std::fprintf(stderr, "weir log import: committing failed: %s\n", finished.ToString().c_str());
    return kExitFailure;
  }
  std::fprintf(stderr, "imported %llu readings from %zu file(s) as sequences %llu..%llu",
               static_cast<unsigned long long>(t.readings), options.files.size(),
               static_cast<unsigned long long>(t.readings ? first_seq : 0),
               static_cast<unsigned long long>(t.readings ? log.last_committed_seq() : 0));
  if (t.rejected > 0) {
    std::fprintf(stderr, "; %llu line(s) rejected%s", static_cast<unsigned long long>(t.rejected),
                 t.rejected > kMaxReportedErrors ? " (first 20 shown)" : "");
  }
  std::fputc('\n', stderr);
  if (!stopped.ok()) {
    std::fprintf(stderr, "weir log import: stopped: %s\n", stopped.ToString().c_str());
    return stopped.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  return t.rejected > 0 ? kExitUsage : kExitOk;
}

}  // namespace weir::app
