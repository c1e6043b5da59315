#include "agent/core/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "agent/core/utc_time.h"

namespace weir {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kPlain)};

constexpr char kLetters[] = {'E', 'W', 'I', 'D', 'T'};
// syslog priorities (sd-daemon.h's SD_ERR ... SD_DEBUG) by LogLevel; trace is debug to journald.
constexpr char kPriorities[] = {'3', '4', '6', '7', '7'};

// The default writer: stderr is unbuffered, so one fwrite is one write(2) in glibc, and the
// stream's lock keeps lines from several threads whole.
void WriteToStderr(std::string_view line) { std::fwrite(line.data(), 1, line.size(), stderr); }

std::atomic<LogWriter> g_writer{&WriteToStderr};

// "2026-11-22T07:10:00.123Z " for now, UTC.
std::string TimeStamp() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return FormatUtc(std::chrono::duration_cast<std::chrono::microseconds>(now).count(),
                   UtcFraction::kMillis) +
         ' ';
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(LogLevel::kTrace); ++i) {
    if (name == LogLevelName(static_cast<LogLevel>(i))) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kTrace:
      return "trace";
  }
  return "info";
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

LogWriter SetLogWriter(LogWriter writer) { return g_writer.exchange(writer); }

void SetLogFormat(LogFormat format) { g_format.store(static_cast<int>(format)); }
LogFormat GetLogFormat() {
  return static_cast<LogFormat>(g_format.load(std::memory_order_relaxed));
}

void LogLine(LogLevel level, std::string_view component, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::string line;
  line.reserve(64 + component.size() + message.size());
  if (GetLogFormat() == LogFormat::kJournal) {
    line += '<';
    line += kPriorities[static_cast<int>(level)];
    line += '>';
  } else {
    line += TimeStamp();
    line += kLetters[static_cast<int>(level)];
    line += ' ';
  }
  line += component;
  line += ": ";
  line += message;
  line += '\n';
  g_writer.load(std::memory_order_relaxed)(line);
}

}  // namespace weir
