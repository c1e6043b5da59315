// Streaming CSV reader; see csv.h for the accepted format.
#include "agent/codec/csv.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include "agent/codec/parse_checks.h"
#include "agent/codec/sensor_id.h"

namespace weir::codec {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kMaxLineBytes = 64 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view Unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return Trim(s.substr(1, s.size() - 2));
  return s;
}

bool IsInteger(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

std::string SensorIdFromPath(const std::filesystem::path& path) { return path.stem().string(); }

Result<CsvReader> CsvReader::Open(const std::filesystem::path& path, CsvOptions options) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    const int err = errno;
    std::string msg = "opening " + path.string() + ": " + std::strerror(err);
    if (err == ENOENT) return NotFound(std::move(msg));
    return IoError(std::move(msg));
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return CsvReader(std::move(file), std::string(), std::move(options), ec ? 0 : size);
}

CsvReader CsvReader::FromText(std::string text, CsvOptions options) {
  const uint64_t size = text.size();
  return CsvReader(nullptr, std::move(text), std::move(options), size);
}

CsvReader::CsvReader(std::unique_ptr<std::FILE, FileCloser> file, std::string text,
                     CsvOptions options, uint64_t total_bytes)
    : file_(std::move(file)),
      options_(std::move(options)),
      buf_(std::move(text)),
      total_bytes_(total_bytes),
      eof_(file_ == nullptr) {}

CsvReader::CsvReader(CsvReader&&) noexcept = default;
CsvReader& CsvReader::operator=(CsvReader&&) noexcept = default;
CsvReader::~CsvReader() = default;

bool CsvReader::Refill() {
  if (eof_) return false;
  // Drop consumed bytes so the buffer holds at most one partial line plus one chunk.
  consumed_before_buf_ += pos_;
  buf_.erase(0, pos_);
  pos_ = 0;
  const size_t old = buf_.size();
  buf_.resize(old + kChunkBytes);
  const size_t n = std::fread(buf_.data() + old, 1, kChunkBytes, file_.get());
  buf_.resize(old + n);
  if (n < kChunkBytes) {
    eof_ = true;
    if (std::ferror(file_.get())) io_error_ = true;
  }
  return n > 0;
}

CsvReader::LineResult CsvReader::NextLine(std::string_view* line) {
  bool discarding = false;  // inside an over-long line: skip to its end
  for (;;) {
    const char* begin = buf_.data() + pos_;
    const size_t avail = buf_.size() - pos_;
    const void* nl = std::memchr(begin, '\n', avail);
    if (nl != nullptr) {
      const size_t len = static_cast<const char*>(nl) - begin;
      *line = std::string_view(begin, len);
      pos_ += len + 1;
      ++line_no_;
      if (discarding || len > kMaxLineBytes) return LineResult::kTooLong;
      return LineResult::kLine;
    }
    if (avail > kMaxLineBytes) {
      discarding = true;
      pos_ = buf_.size();
    }
    if (!Refill()) {
      if (io_error_) return LineResult::kIoError;
      if (pos_ == buf_.size()) {
        if (!discarding) return LineResult::kEnd;
        ++line_no_;
        return LineResult::kTooLong;
      }
      // The last line has no newline.
      *line = std::string_view(buf_.data() + pos_, buf_.size() - pos_);
      pos_ = buf_.size();
      ++line_no_;
      return discarding ? LineResult::kTooLong : LineResult::kLine;
    }
  }
}

void CsvReader::SplitFields(std::string_view line) {
  fields_.clear();
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    const std::string_view field = line.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    fields_.push_back(Unquote(Trim(field)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
}

bool CsvReader::LooksLikeHeader() const {
  const std::string_view first = fields_[0];
  if (IsInteger(first) || ParseTimestamp(first).ok()) return false;
  // A bad first data line ("2014-13-01,5") must be reported, not swallowed as a header: a
  // header's second field is a name, never a number.
  if (fields_.size() >= 2) {
    double ignored = 0;
    std::string_view second = fields_[1];
    if (!second.empty() && second.front() == '+') second.remove_prefix(1);
    const auto [end, ec] = std::from_chars(second.data(), second.data() + second.size(), ignored);
    if (ec == std::errc() && end == second.data() + second.size()) return false;
  }
  return true;
}

void CsvReader::MapHeader() {
  int time_col = -1, value_col = -1, sensor_col = -1;
  for (size_t i = 0; i < fields_.size(); ++i) {
    const std::string_view name = fields_[i];
    const int col = static_cast<int>(i);
    if (time_col < 0 && (EqualsIgnoreCase(name, "timestamp") || EqualsIgnoreCase(name, "time") ||
                         EqualsIgnoreCase(name, "ts"))) {
      time_col = col;
    } else if (value_col < 0 && EqualsIgnoreCase(name, "value")) {
      value_col = col;
    } else if (sensor_col < 0 && EqualsIgnoreCase(name, "sensor")) {
      sensor_col = col;
    }
  }
  if (time_col >= 0 && value_col >= 0) {
    time_col_ = time_col;
    value_col_ = value_col;
    sensor_col_ = sensor_col;
  }
}

Status CsvReader::LineError(std::string_view what) const {
  return InvalidArgument("line " + std::to_string(line_no_) + ": " + std::string(what));
}

Status CsvReader::ParseFields(Reading* out) {
  const int needed = std::max(time_col_, value_col_) + 1;
  if (static_cast<int>(fields_.size()) < needed) {
    return LineError("expected at least " + std::to_string(needed) + " fields, got " +
                     std::to_string(fields_.size()));
  }
  const std::string_view ts = fields_[time_col_];
  if (ts.empty()) return LineError("field 'timestamp': empty");
  Result<TimeMicros> t = IsInteger(ts) ? ParseEpoch(ts, options_.epoch_unit) : ParseTimestamp(ts);
  if (!t.ok()) return LineError("field 'timestamp': " + t.status().message());

  const std::string_view v = fields_[value_col_];
  if (v.empty()) return LineError("field 'value': empty");
  Result<double> value = internal::ParseDecimal(v, "value");
  if (!value.ok()) return LineError(value.status().message());

  std::string_view sensor;
  if (sensor_col_ >= 0 && static_cast<size_t>(sensor_col_) < fields_.size()) {
    sensor = fields_[sensor_col_];
  }
  if (sensor.empty()) sensor = options_.sensor;
  if (sensor.empty()) return LineError("field 'sensor': no sensor column and no default sensor");
  if (sensor != last_valid_sensor_) {
    Status s = ValidateSensorId(sensor);
    if (!s.ok()) return LineError("field 'sensor': " + s.message());
    last_valid_sensor_.assign(sensor);
  }
  out->sensor.assign(sensor);
  out->time_us = *t;
  out->value = *value;
  out->quality = 0;
  return Status::Ok();
}

Result<bool> CsvReader::Next(Reading* out) {
  for (;;) {
    std::string_view line;
    switch (NextLine(&line)) {
      case LineResult::kEnd:
        return false;
      case LineResult::kIoError:
        return IoError("reading CSV after line " + std::to_string(line_no_) + ": read failed");
      case LineResult::kTooLong:
        seen_first_line_ = true;
        return LineError("longer than " + std::to_string(kMaxLineBytes) + " bytes");
      case LineResult::kLine:
        break;
    }
    if (line_no_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
    if (Trim(line).empty()) continue;
    SplitFields(line);
    if (!seen_first_line_) {
      seen_first_line_ = true;
      if (LooksLikeHeader()) {
        has_header_ = true;
        MapHeader();
        continue;
      }
    }
    Status s = ParseFields(out);
    if (!s.ok()) return s;
    return true;
  }
}

}  // namespace weir::codec
