#include "platform/log_output.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>

#include "agent/core/logging.h"
#include "platform/thread_name.h"

namespace weir::platform {
namespace {

std::atomic<int> g_fd{2};

void WriteToLogFd(std::string_view line) {
  const int fd = g_fd.load(std::memory_order_relaxed);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing stderr
    done += static_cast<size_t>(n);
  }
}

bool ParseDecimal(std::string_view text, uint64_t& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

}  // namespace

int SetLogFd(int fd) {
  SetLogWriter(&WriteToLogFd);
  return g_fd.exchange(fd);
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

void SetUpProcessLogging() {
  SetLogFd(2);
  const char* stream = std::getenv("JOURNAL_STREAM");
  const bool journal = stream != nullptr && IsJournalStream(stream, 2);
  SetLogFormat(journal ? LogFormat::kJournal : LogFormat::kPlain);
  UseKernelThreadNames();
}

}  // namespace weir::platform
