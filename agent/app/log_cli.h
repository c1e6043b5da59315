// Options and entry points of the `weir log` subcommands (internal to agent/app). Each Run*
// function prints its output to stdout, its errors to stderr, and returns an exit code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace weir::app {

// The log every `weir log` command uses unless --log says otherwise.
inline constexpr const char* kDefaultLogPath = "/var/lib/weir/log.db";

struct LogStatsOptions {
  std::filesystem::path log = kDefaultLogPath;
  bool json = false;
};

struct LogExportOptions {
  std::filesystem::path log = kDefaultLogPath;
  std::string format = "jsonl";   // jsonl | csv
  std::string lane = "readings";  // readings | defects | all
  std::string from;               // timestamp text; empty = unbounded
  std::string to;
  uint64_t from_seq = 0;         // inclusive; 0 = unbounded
  uint64_t to_seq = 0;           // inclusive; 0 = unbounded
  std::string sensor;            // only this sensor; empty = all
  std::filesystem::path output;  // empty = stdout
  bool progress = true;
};

struct LogImportOptions {
  std::filesystem::path log = kDefaultLogPath;
  std::vector<std::filesystem::path> files;
  std::string format = "auto";   // auto (by extension) | csv | jsonl
  std::string sensor;            // overrides the file-name sensor id
  std::string epoch_unit = "s";  // unit of integer CSV timestamps: s | ms | us | ns
  uint32_t batch = 1000;         // readings per committed chunk
  bool strict = false;           // stop at the first bad line
  bool progress = true;
};

struct LogDeadLettersOptions {
  std::filesystem::path log = kDefaultLogPath;
  bool json = false;
  uint64_t limit = 100;  // the newest N matching letters; 0 = all
  std::string reason;    // only this reason_code; empty = all
};

int RunLogStats(const LogStatsOptions& options);
int RunLogExport(const LogExportOptions& options);
int RunLogImport(const LogImportOptions& options);
int RunLogDeadLetters(const LogDeadLettersOptions& options);

}  // namespace weir::app
