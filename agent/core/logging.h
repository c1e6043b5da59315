// Logging: one line per event on stderr, with a level, for journald and a terminal alike.
//
//   2026-11-22T07:10:00.123Z W forward: upstream connection lost: ... (retry in 740 ms)   terminal
//   <4>forward: upstream connection lost: ... (retry in 740 ms)                        journal
//
// When stderr is connected to the journal (systemd sets JOURNAL_STREAM=<dev>:<inode> of that
// stream), each line starts with the syslog priority in angle brackets, which journald turns into
// the entry's PRIORITY (so `journalctl -p warning` filters by level), and carries no time stamp
// (the journal keeps its own). Anywhere else (a terminal, a file, a test's pipe) the format above.
//
// A deliberately small logger instead of a library: core is std-only (DESIGN.md), the agent
// writes few lines (state changes, not per-message chatter), and journald adds its own metadata.
// Thread-safe: each line is formatted first and handed whole to the writer (one write(2) with
// platform's writer), so lines from several threads never interleave. The level is process-wide and
// may change at any time (SIGHUP reload). Never blocks for long (a write to stderr), never throws.
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

enum class LogFormat {
  kPlain,    // "<UTC time> <level letter> <component>: <message>"
  kJournal,  // "<N><component>: <message>", N the syslog priority (error 3, warn 4, info 6, debug
             // 7)
};
void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();

// Where finished lines go: a function given one whole line (ending in '\n'), called from any
// thread; it must not log. The default writes to stderr with one fwrite. platform/log_output.h
// installs a writer on a file descriptor (stderr in `weir`, a pipe in tests) and picks the
// format from JOURNAL_STREAM. Returns the previous writer. Thread-safe.
using LogWriter = void (*)(std::string_view line);
LogWriter SetLogWriter(LogWriter writer);

}  // namespace weir
