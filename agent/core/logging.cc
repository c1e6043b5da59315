#include "agent/core/logging.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace weir {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_fd{2};
std::atomic<int> g_format{static_cast<int>(LogFormat::kPlain)};

constexpr char kLetters[] = {'E', 'W', 'I', 'D', 'T'};
// syslog priorities (sd-daemon.h's SD_ERR ... SD_DEBUG) by LogLevel; trace is debug to journald.
constexpr char kPriorities[] = {'3', '4', '6', '7', '7'};

bool ParseDecimal(std::string_view text, uint64_t& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

// "2026-11-22T07:10:00.123Z " for now, UTC.
std::string TimeStamp() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[96];  // room for any int the compiler assumes tm fields may hold
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  return stamp;
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

int SetLogFd(int fd) { return g_fd.exchange(fd); }

void SetLogFormat(LogFormat format) { g_format.store(static_cast<int>(format)); }
LogFormat GetLogFormat() {
  return static_cast<LogFormat>(g_format.load(std::memory_order_relaxed));
}

bool IsJournalStream(std::string_view journal_stream, int fd) {
  const size_t colon = journal_stream.find(':');
  uint64_t dev = 0;
  uint64_t ino = 0;
  if (colon == std::string_view::npos || !ParseDecimal(journal_stream.substr(0, colon), dev) ||
      !ParseDecimal(journal_stream.substr(colon + 1), ino)) {
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino;
}

void SetLogFormatFromEnvironment() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  // systemd's rule (sd_journal_stream_fd(3)): the variable is inherited by children whose stderr
  // may go elsewhere, so it counts only when it names our stderr.
  const bool journal = stream != nullptr && IsJournalStream(stream, 2);
  SetLogFormat(journal ? LogFormat::kJournal : LogFormat::kPlain);
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
  const int fd = g_fd.load(std::memory_order_relaxed);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing stderr
    done += static_cast<size_t>(n);
  }
}

}  // namespace weir
