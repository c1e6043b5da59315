// The log line formats: plain (time stamp and level letter) and journal (syslog priority prefix),
// and how the journal is recognised from JOURNAL_STREAM.
#include "agent/core/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "platform/log_output.h"

namespace weir {
namespace {

// Captures the logger's output through a pipe and restores the logger afterwards.
class LogCapture {
 public:
  LogCapture() {
    EXPECT_EQ(::pipe(fds_), 0);
    old_fd_ = platform::SetLogFd(fds_[1]);
    old_format_ = GetLogFormat();
    old_level_ = GetLogLevel();
  }
  ~LogCapture() {
    platform::SetLogFd(old_fd_);
    SetLogFormat(old_format_);
    SetLogLevel(old_level_);
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  // What was written so far (lines are single writes far below the pipe's capacity).
  std::string Take() {
    ::close(fds_[1]);
    fds_[1] = ::open("/dev/null", O_WRONLY);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

 private:
  int fds_[2] = {-1, -1};
  int old_fd_ = 2;
  LogFormat old_format_ = LogFormat::kPlain;
  LogLevel old_level_ = LogLevel::kInfo;
};

std::string StreamId(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

TEST(Logging, JournalLinesStartWithTheSyslogPriorityAndHaveNoTimeStamp) {
  LogCapture capture;
  SetLogFormat(LogFormat::kJournal);
  SetLogLevel(LogLevel::kDebug);
  LogError("store", "disk gone");
  LogWarn("forward", "upstream lost");
  LogInfo("agent", "running");
  LogDebug("ingest", "detail");
  EXPECT_EQ(capture.Take(),
            "<3>store: disk gone\n<4>forward: upstream lost\n<6>agent: running\n"
            "<7>ingest: detail\n");
}

TEST(Logging, PlainLinesKeepTheTimeStampAndLevelLetter) {
  LogCapture capture;
  SetLogFormat(LogFormat::kPlain);
  LogWarn("forward", "upstream lost");
  const std::string line = capture.Take();
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z W forward: upstream lost\n)")))
      << line;
}

TEST(Logging, JournalStreamMustNameTheDescriptorsDeviceAndInode) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  const int fd = ::fileno(f);
  EXPECT_TRUE(platform::IsJournalStream(StreamId(fd), fd));
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  // Another inode on the same device: stderr was redirected, JOURNAL_STREAM was inherited.
  EXPECT_FALSE(platform::IsJournalStream(
      std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1), fd));
  EXPECT_FALSE(platform::IsJournalStream("", fd));
  EXPECT_FALSE(platform::IsJournalStream("12", fd));
  EXPECT_FALSE(platform::IsJournalStream("12:x", fd));
  EXPECT_FALSE(platform::IsJournalStream(":" + std::to_string(st.st_ino), fd));
  EXPECT_FALSE(platform::IsJournalStream(StreamId(fd), -1));
  std::fclose(f);
}

TEST(Logging, EnvironmentSelectsTheJournalOnlyForStderrItself) {
  const LogFormat before = GetLogFormat();
  ::setenv("JOURNAL_STREAM", StreamId(2).c_str(), 1);
  platform::SetUpProcessLogging();
  EXPECT_EQ(GetLogFormat(), LogFormat::kJournal);
  ::setenv("JOURNAL_STREAM", "1:1", 1);
  platform::SetUpProcessLogging();
  EXPECT_EQ(GetLogFormat(), LogFormat::kPlain);
  ::unsetenv("JOURNAL_STREAM");
  platform::SetUpProcessLogging();
  EXPECT_EQ(GetLogFormat(), LogFormat::kPlain);
  SetLogFormat(before);
}

}  // namespace
}  // namespace weir
