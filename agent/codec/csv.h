// A streaming reader of `timestamp,value[,sensor]` CSV files, as in the Numenta Anomaly
// Benchmark (NAB), yielding Readings one at a time. Used by `weir log import`, `weir detect` and
// the benchmarks.
//
// Format accepted:
//   - Lines end in LF or CRLF; a UTF-8 byte order mark at the start is ignored; empty lines (and
//     lines of only spaces) are skipped and are not errors.
//   - Fields are separated by ','; spaces around a field are trimmed and one pair of surrounding
//     double quotes is stripped (no escaped quotes or embedded commas).
//   - An optional header line: the first non-empty line is a header when its first field is not a
//     timestamp and its second field is not a number. A header names its columns: time is the
//     column named `timestamp`, `time` or `ts`, the value `value`, the sensor `sensor`
//     (case-insensitive). When a header lacks the time or value name, or there is no header, the
//     columns are positional: 0 time, 1 value, 2 sensor (when the line has a third field). Other
//     columns are ignored.
//   - Time: any form ParseTimestamp accepts (NAB's `2014-04-01 00:00:00` is UTC), or an integer
//     epoch in CsvOptions::epoch_unit.
//   - Value: a finite decimal number (strtod syntax, a leading '+' allowed; NaN and infinities are
//     rejected).
//   - Sensor: the sensor column when present and non-empty, otherwise CsvOptions::sensor; it must
//     pass ValidateSensorId. Quality is always 0 (good).
//
// Ownership and threads: a CsvReader owns its file handle and buffer; it is movable, not copyable,
// and not thread-safe (one reader per thread). Reads block on file I/O in 1 MiB chunks; memory is
// bounded by the chunk plus the longest line (lines over 64 KiB are reported as errors).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/codec/timestamp.h"
#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::codec {

struct CsvOptions {
  // Sensor id for lines without a sensor column (e.g. SensorIdFromPath(file)). May be empty when
  // every line names its sensor; a line with neither is an error.
  std::string sensor;
  // Unit of timestamps written as bare integers.
  EpochUnit epoch_unit = EpochUnit::kSeconds;
};

// The sensor id NAB-style files imply: the file name without directory and extension
// ("data/realKnownCause/nyc_taxi.csv" -> "nyc_taxi").
std::string SensorIdFromPath(const std::filesystem::path& path);

class CsvReader {
 public:
  // Opens `path` for reading. NotFound when it does not exist, IoError when it cannot be opened.
  static Result<CsvReader> Open(const std::filesystem::path& path, CsvOptions options);
  // Reads from text already in memory (tests, stdin slurped by the caller).
  static CsvReader FromText(std::string text, CsvOptions options);

  CsvReader(CsvReader&&) noexcept;
  CsvReader& operator=(CsvReader&&) noexcept;
  ~CsvReader();

  // Reads the next reading into *out. Returns true when one was read and false at the end of the
  // input. A bad line returns InvalidArgument naming the line and the problem ("line 12: field
  // 'value': not a number ('abc')"); the reader has already moved past that line, so the caller
  // may call Next again to skip it or stop. IoError when the file cannot be read (stop then).
  Result<bool> Next(Reading* out);

  // 1-based number of the last line read (0 before the first).
  uint64_t line_number() const { return line_no_; }
  // Whether the first non-empty line was a header.
  bool has_header() const { return has_header_; }
  // The fields of the line Next last read (trimmed, outer quotes stripped), for callers that
  // echo the input's own text (`weir detect`); valid until the next call to Next.
  const std::vector<std::string_view>& raw_fields() const { return fields_; }
  // The resolved column positions (see the header comment); sensor_column() is -1 when a header
  // named the columns without a sensor.
  int time_column() const { return time_col_; }
  int value_column() const { return value_col_; }
  int sensor_column() const { return sensor_col_; }
  // Bytes consumed so far and the input's total size, for progress reporting.
  uint64_t bytes_consumed() const { return consumed_before_buf_ + pos_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  enum class LineResult { kLine, kEnd, kTooLong, kIoError };

  CsvReader(std::unique_ptr<std::FILE, FileCloser> file, std::string text, CsvOptions options,
            uint64_t total_bytes);

  LineResult NextLine(std::string_view* line);
  bool Refill();  // false at EOF or on a read error (io_error_ set)
  void SplitFields(std::string_view line);
  bool LooksLikeHeader() const;
  void MapHeader();
  Status ParseFields(Reading* out);
  Status LineError(std::string_view what) const;

  std::unique_ptr<std::FILE, FileCloser> file_;
  CsvOptions options_;
  std::string buf_;
  size_t pos_ = 0;
  uint64_t consumed_before_buf_ = 0;
  uint64_t total_bytes_ = 0;
  bool eof_ = false;
  bool io_error_ = false;
  uint64_t line_no_ = 0;
  bool seen_first_line_ = false;
  bool has_header_ = false;
  int time_col_ = 0;
  int value_col_ = 1;
  int sensor_col_ = 2;  // -1: none
  std::vector<std::string_view> fields_;
  std::string last_valid_sensor_;  // skips re-validating the same id on every line
};

}  // namespace weir::codec
