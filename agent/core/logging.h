// Logging: one line per event on stderr, with a level, for journald and a terminal alike.
//
//   2026-11-22T07:10:00.123Z W forward: upstream connection lost: ... (retry in 740 ms)
//
// A deliberately small logger instead of a library: core is std-only (DESIGN.md), the agent
// writes few lines (state changes, not per-message chatter), and journald adds its own metadata.
// Thread-safe: each line is formatted first and written with one write(2), so lines from several
// threads never interleave. The level is process-wide and may change at any time (SIGHUP reload).
// Never blocks for long (a write to stderr), never throws.
#pragma once

#include <optional>
#include <string_view>

namespace weir {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

// Parses "error", "warn", "info", "debug", "trace" (the config's `log_level` values).
std::optional<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

// The least severe level that is written (default kInfo).
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
inline bool LogEnabled(LogLevel level) { return level <= GetLogLevel(); }

// Writes one line if `level` is enabled: UTC time, level letter, component, message.
void LogLine(LogLevel level, std::string_view component, std::string_view message);

inline void LogError(std::string_view component, std::string_view message) {
  LogLine(LogLevel::kError, component, message);
}
inline void LogWarn(std::string_view component, std::string_view message) {
  LogLine(LogLevel::kWarn, component, message);
}
inline void LogInfo(std::string_view component, std::string_view message) {
  LogLine(LogLevel::kInfo, component, message);
}
inline void LogDebug(std::string_view component, std::string_view message) {
  LogLine(LogLevel::kDebug, component, message);
}

// Redirects lines to `fd` instead of stderr (2), for tests. Returns the previous descriptor.
int SetLogFd(int fd);

}  // namespace weir
