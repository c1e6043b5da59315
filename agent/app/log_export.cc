// `weir log export`: readings (and defects, gaps) from the log as JSON lines or CSV, selected by
// sequence range, event-time range, lane and sensor. Values are written in the shortest form
// that reads back to the same double, so an export re-imported gives the same readings.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/app/exit_codes.h"
#include "agent/app/log_cli.h"
#include "agent/app/log_open.h"
#include "agent/app/progress.h"
#include "agent/codec/defect_codec.h"
#include "agent/codec/timestamp.h"

namespace weir::app {

namespace {

constexpr size_t kRowsPerRead = 64;

// A time bound from the command line: RFC 3339 or integer epoch seconds.
Result<TimeMicros> ParseTimeFlag(const std::string& flag, const std::string& text) {
  auto t = codec::ParseTimestamp(text);
  if (!t.ok()) t = codec::ParseEpoch(text, codec::EpochUnit::kSeconds);
  if (!t.ok()) {
    return InvalidArgument("flag " + flag + ": '" + text +
                           "' is neither an RFC 3339 time nor epoch seconds");
  }
  return t;
}

// Sensor ids are valid UTF-8 when accepted, but a damaged log can hand back anything: never let
// one bad byte abort the export.
std::string SafeDump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string FormatDouble(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("nan");
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Writes selected records to one output; counts what it wrote.
class Writer {
 public:
  Writer(std::FILE* out, const LogExportOptions& options, std::optional<TimeMicros> from,
         std::optional<TimeMicros> to)
      : out_(out), options_(options), csv_(options.format == "csv"), from_(from), to_(to) {
    if (csv_) std::fputs("timestamp,value,sensor,quality,seq\n", out_);
  }

  void Write(const store::StoredRecord& r) {
    switch (r.kind) {
      case store::RecordKind::kReadings:
        for (size_t i = 0; i < r.readings.size(); ++i) WriteReading(r.first_seq + i, r.readings[i]);
        if (r.damaged) WriteGap(r, "damaged row");
        break;
      case store::RecordKind::kDefect:
        if (r.defect && Selected(r.defect->sensor, r.defect->detected_at_us)) WriteDefect(r);
        break;
      case store::RecordKind::kGap:
        WriteGap(r, r.gap_reason == store::kGapDamaged ? "damaged on the device"
                                                       : "evicted under the disk quota");
        break;
    }
  }

  uint64_t readings() const { return readings_; }
  uint64_t skipped() const { return skipped_; }

 private:
  bool Selected(const std::string& sensor, TimeMicros t) const {
    if (!options_.sensor.empty() && sensor != options_.sensor) return false;
    if (from_ && t < *from_) return false;
    if (to_ && t > *to_) return false;
    return true;
  }

  void WriteReading(uint64_t seq, const Reading& r) {
    if (!Selected(r.sensor, r.time_us)) return;
    if (options_.from_seq != 0 && seq < options_.from_seq) return;
    if (options_.to_seq != 0 && seq > options_.to_seq) return;
    ++readings_;
    if (csv_) {
      std::fprintf(out_, "%s,%s,%s,%u,%llu\n", codec::FormatRfc3339(r.time_us).c_str(),
                   FormatDouble(r.value).c_str(), CsvField(r.sensor).c_str(), r.quality,
                   static_cast<unsigned long long>(seq));
      return;
    }
    nlohmann::json j = {
        {"seq", seq},           {"sensor", r.sensor}, {"ts", codec::FormatRfc3339(r.time_us)},
        {"time_us", r.time_us}, {"value", r.value},   {"quality", r.quality}};
    std::fprintf(out_, "%s\n", SafeDump(j).c_str());
  }

  void WriteDefect(const store::StoredRecord& r) {
    if (csv_) {
      ++skipped_;
      return;
    }
    std::fprintf(out_, "{\"seq\":%llu,\"lane\":\"defects\",\"defect\":%s}\n",
                 static_cast<unsigned long long>(r.first_seq),
                 codec::DefectToJsonText(*r.defect).c_str());
  }

  void WriteGap(const store::StoredRecord& r, const char* reason) {
    if (csv_) {
      ++skipped_;
      return;
    }
    nlohmann::json j = {{"gap",
                         {{"first_seq", r.first_seq},
                          {"last_seq", r.last_seq},
                          {"lane", std::string(store::LaneName(r.lane))},
                          {"records", r.count},
                          {"oldest_us", r.min_time_us},
                          {"newest_us", r.max_time_us},
                          {"reason", reason}}}};
    std::fprintf(out_, "%s\n", SafeDump(j).c_str());
  }

  std::FILE* out_;
  const LogExportOptions& options_;
  bool csv_;
  std::optional<TimeMicros> from_, to_;
  uint64_t readings_ = 0;
  uint64_t skipped_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

int RunLogExport(const LogExportOptions& options) {
  auto fail = [](const Status& s, int code) {
    std::fprintf(stderr, "weir log export: %s\n", s.ToString().c_str());
    return code;
  };
  std::optional<TimeMicros> from, to;
  if (!options.from.empty()) {
    auto t = ParseTimeFlag("--from", options.from);
    if (!t.ok()) return fail(t.status(), kExitUsage);
    from = *t;
  }
  if (!options.to.empty()) {
    auto t = ParseTimeFlag("--to", options.to);
    if (!t.ok()) return fail(t.status(), kExitUsage);
    to = *t;
  }
  if (options.to_seq != 0 && options.to_seq < options.from_seq) {
    return fail(InvalidArgument("flag --to-seq: below --from-seq"), kExitUsage);
  }
  if (options.format == "csv" && options.lane != "readings") {
    return fail(InvalidArgument("flag --lane: csv export holds readings only; use jsonl"),
                kExitUsage);
  }

  auto opened = OpenLogForInspection(options.log);
  if (!opened.ok()) {
    return fail(opened.status(),
                opened.status().code() == StatusCode::kNotFound ? kExitUsage : kExitFailure);
  }
  std::unique_ptr<std::FILE, FileCloser> file;
  std::FILE* out = stdout;
  if (!options.output.empty()) {
    file.reset(std::fopen(options.output.c_str(), "w"));
    if (!file) {
      return fail(IoError("cannot write '" + options.output.string() + "'"), kExitFailure);
    }
    out = file.get();
  }

  store::ReadQuery query;
  if (options.lane == "readings") query.lane = Lane::kReadings;
  if (options.lane == "defects") query.lane = Lane::kDefects;
  query.after_seq = options.from_seq > 0 ? options.from_seq - 1 : 0;
  if (options.to_seq != 0) query.to_seq = options.to_seq;
  query.from_us = from;
  query.to_us = to;
  query.max_records = kRowsPerRead;
  query.with_blob = false;

  ProgressBar progress("export", 0, "seq");
  // No bar when the rows themselves go to the terminal: they would interleave.
  if (!options.progress || (options.output.empty() && ::isatty(STDOUT_FILENO) == 1)) {
    progress.set_enabled(false);
  }
  if (progress.enabled()) {
    // Sizing the bar costs a pass over the row index: only when a bar is drawn.
    auto stats = opened->Stats();
    const uint64_t last_seq = stats.ok() ? stats->next_seq : 0;
    progress.set_total(last_seq > query.after_seq ? last_seq - query.after_seq : 0);
  }
  const uint64_t start_seq = query.after_seq;
  Writer writer(out, options, from, to);
  while (true) {
    auto rows = opened->Read(query);
    if (!rows.ok()) return fail(rows.status(), kExitFailure);
    if (rows->empty()) break;
    for (const auto& r : *rows) writer.Write(r);
    query.after_seq = rows->back().last_seq;
    progress.Update(query.after_seq - start_seq);
  }
  progress.Finish();
  if (std::ferror(out) || std::fflush(out) != 0) {
    return fail(IoError("writing the export failed"), kExitFailure);
  }
  std::fprintf(stderr, "exported %llu readings%s\n",
               static_cast<unsigned long long>(writer.readings()),
               writer.skipped() > 0 ? " (defects and gaps are not written in csv)" : "");
  return kExitOk;
}

}  // namespace weir::app
