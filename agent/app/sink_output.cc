// The outputs of `weir sink`; see sink_output.h.
#include "agent/app/sink_output.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/app/log_open.h"
#include "agent/codec/defect_codec.h"
#include "agent/codec/timestamp.h"

namespace weir::app {
namespace {

namespace fs = std::filesystem;

nlohmann::json Number(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

class FileOutput : public SinkOutput {
 public:
  explicit FileOutput(const fs::path& path) : path_(path), out_(path, std::ios::trunc) {}
  bool ok() const { return static_cast<bool>(out_); }
  Status Flush() override {
    out_.flush();
    return out_ ? Status::Ok() : IoError("cannot write " + path_.string());
  }

 protected:
  fs::path path_;
  std::ofstream out_;
};

class JsonLinesOutput final : public FileOutput {
 public:
  using FileOutput::FileOutput;
  Status Write(const codec::Envelope& e, const SinkLedger::Delivery& d) override {
    for (size_t i : d.readings) {
      const Reading& r = e.readings[i];
      nlohmann::json j = {{"device", e.device_id}, {"log_id", e.log_id.ToHex()},
                          {"lane", "readings"},    {"seq", e.first_seq + i},
                          {"sensor", r.sensor},    {"ts", codec::FormatRfc3339(r.time_us)},
                          {"time_us", r.time_us},  {"value", Number(r.value)},
                          {"quality", r.quality}};
      out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    for (size_t i : d.defects) {
      nlohmann::json j = {{"device", e.device_id},
                          {"log_id", e.log_id.ToHex()},
                          {"lane", "defects"},
                          {"seq", e.defect_seqs[i]},
                          {"defect", codec::DefectToJson(e.defects[i])}};
      out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    return out_ ? Status::Ok() : IoError("cannot write " + path_.string());
  }
};

class CsvOutput final : public FileOutput {
 public:
  explicit CsvOutput(const fs::path& path) : FileOutput(path) {
    out_ << "device,seq,sensor,ts,time_us,value,quality,log_id\n";
  }
  Status Write(const codec::Envelope& e, const SinkLedger::Delivery& d) override {
    char value[32];
    for (size_t i : d.readings) {
      const Reading& r = e.readings[i];
      std::snprintf(value, sizeof(value), "%.17g", r.value);
      // Ids are validated at ingest; quote them anyway so a comma cannot shift columns.
      out_ << Quote(e.device_id) << ',' << e.first_seq + i << ',' << Quote(r.sensor) << ','
           << codec::FormatRfc3339(r.time_us) << ',' << r.time_us << ',' << value << ','
           << r.quality << ',' << e.log_id.ToHex() << '\n';
    }
    return out_ ? Status::Ok() : IoError("cannot write " + path_.string());
  }

 private:
  static std::string Quote(const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) {
      if (c == '"') q += '"';
      q += c;
    }
    return q + '"';
  }
};

class LogOutput final : public SinkOutput {
 public:
  explicit LogOutput(OpenedLog log) : log_(std::move(log)) {}
  ~LogOutput() override { (void)Flush(); }
  Status Write(const codec::Envelope& e, const SinkLedger::Delivery& d) override {
    if (!d.readings.empty()) {
      batch_.clear();
      for (size_t i : d.readings) batch_.push_back(e.readings[i]);
      WEIR_RETURN_IF_ERROR(log_.writer->Append(batch_).status());
    }
    for (size_t i : d.defects)
      WEIR_RETURN_IF_ERROR(log_.writer->AppendDefect(e.defects[i]).status());
    return log_.writer->CommitIfDue().status();
  }
  Status Flush() override { return log_.writer->Commit().status(); }

 private:
  OpenedLog log_;
  std::vector<Reading> batch_;
};

}  // namespace

Result<std::unique_ptr<SinkOutput>> OpenSinkOutput(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".db" || ext == ".sqlite" || ext == ".log") {
    WEIR_ASSIGN_OR_RETURN(OpenedLog log, OpenLogForWriting(path, 1000));
    return std::unique_ptr<SinkOutput>(std::make_unique<LogOutput>(std::move(log)));
  }
  std::unique_ptr<FileOutput> out;
  if (ext == ".csv") {
    out = std::make_unique<CsvOutput>(path);
  } else {
    out = std::make_unique<JsonLinesOutput>(path);
  }
  if (!out->ok()) return IoError("cannot create " + path.string());
  return std::unique_ptr<SinkOutput>(std::move(out));
}

}  // namespace weir::app
