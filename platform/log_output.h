// Where core's log lines go on Linux: a file descriptor written with write(2), one call per line,
// and whether that descriptor is the systemd journal (which selects core's journal format).
// core/logging.h formats lines and is std-only; this is its Linux back end, installed by the
// composition root at start (SetUpProcessLogging) and by tests that capture lines.
#pragma once

#include <string_view>

namespace weir::platform {

// Sends every log line to `fd` (one write(2) per line, retried on EINTR; a failing descriptor
// drops the line: there is nowhere to report it). Returns the previous descriptor of this
// writer (2 until changed). Thread-safe.
int SetLogFd(int fd);

// Whether `fd` is the stream that `journal_stream` (the JOURNAL_STREAM value, "<dev>:<inode>" in
// decimal) names. False for an empty or malformed value or when fstat fails. Does not block.
bool IsJournalStream(std::string_view journal_stream, int fd);

// Log lines to stderr through SetLogFd's writer, in the journal format when $JOURNAL_STREAM
// names stderr (systemd's rule, sd_journal_stream_fd(3): the variable is inherited by children
// whose stderr may go elsewhere, so it counts only when it names our stderr), plain otherwise.
// Call once at start, before other threads log; `weir`'s main does.
void SetUpProcessLogging();

}  // namespace weir::platform
