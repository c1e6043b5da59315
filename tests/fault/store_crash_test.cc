// Crash test: a child process appends to the log under load and is killed with SIGKILL at
// random moments, many times. After every kill the log reopens cleanly (a torn WAL tail is not
// corruption), every record whose commit had returned is present and intact, sequences are
// strictly increasing, and no sequence is ever issued twice.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "agent/store/log.h"
#include "tests/support/test_support.h"

extern char** environ;

namespace weir::store {
namespace {

using weir::testing::TempDir;

constexpr int kKills = 60;

struct Child {
  pid_t pid = -1;
  int out = -1;  // read end of the child's stdout
};

Child Spawn(const std::string& log_path, uint64_t seed) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::string seed_arg = std::to_string(seed);
  std::string exe = WEIR_STORE_CRASH_CHILD;
  char* argv[] = {exe.data(), const_cast<char*>(log_path.c_str()), seed_arg.data(), nullptr};
  Child child;
  if (posix_spawn(&child.pid, exe.c_str(), &actions, nullptr, argv, environ) != 0) child.pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  child.out = fds[0];
  return child;
}

// Reads whatever the child printed within `timeout`, appending complete "C a b" lines' ranges.
void Drain(int fd, std::string& buffer, std::vector<std::pair<uint64_t, uint64_t>>& commits,
           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (bool first = true;; first = false) {
    const auto now = std::chrono::steady_clock::now();
    if (!first && now >= deadline) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) break;
    char chunk[4096];
    ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  size_t pos;
  while ((pos = buffer.find('\n')) != std::string::npos) {
    unsigned long long a = 0, b = 0;
    if (std::sscanf(buffer.c_str(), "C %llu %llu", &a, &b) == 2) commits.emplace_back(a, b);
    buffer.erase(0, pos + 1);
  }
}

TEST(StoreCrashTest, CommittedRecordsSurviveRepeatedKill9) {
  TempDir dir;
  const std::string path = (dir / "log.db").string();
  std::mt19937_64 rng(20261122);
  std::vector<std::pair<uint64_t, uint64_t>> committed;  // every range ever reported
  uint64_t highest_reported = 0;

  for (int round = 0; round < kKills; ++round) {
    Child child = Spawn(path, rng());
    ASSERT_GT(child.pid, 0) << "spawning " << WEIR_STORE_CRASH_CHILD;
    std::string buffer;
    std::vector<std::pair<uint64_t, uint64_t>> fresh;
    // Wait for the child to be under load (a first commit), then a random moment more.
    ASSERT_TRUE(weir::testing::WaitFor(
        [&] {
          Drain(child.out, buffer, fresh, std::chrono::milliseconds(5));
          return !fresh.empty();
        },
        std::chrono::seconds(20)))
        << "round " << round << ": the child never committed";
    Drain(child.out, buffer, fresh, std::chrono::milliseconds(rng() % 40));
    ASSERT_EQ(::kill(child.pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited by itself, status " << status;
    Drain(child.out, buffer, fresh, std::chrono::seconds(5));  // to EOF: lines before death
    ::close(child.out);

    // Sequences reported in this run are increasing and above every earlier run's.
    for (const auto& [first, last] : fresh) {
      ASSERT_LE(first, last);
      ASSERT_GT(first, highest_reported) << "round " << round << ": sequence reused";
      highest_reported = last;
    }
    committed.insert(committed.end(), fresh.begin(), fresh.end());

    weir::testing::FakeClock clock;
    LogOptions options;
    options.path = path;
    auto log = Log::Open(options, clock);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE((*log)->recovery().integrity_ok)
        << "round " << round << ": a kill -9 is not corruption";

    ReadQuery q;
    q.max_records = 1u << 30;
    auto rows = (*log)->Read(q);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    std::vector<std::pair<uint64_t, uint64_t>> present;
    uint64_t prev_last = 0;
    for (const StoredRecord& r : *rows) {
      ASSERT_FALSE(r.damaged) << "row " << r.first_seq;
      ASSERT_GT(r.first_seq, prev_last) << "sequences must strictly increase";
      prev_last = r.last_seq;
      if (r.kind == RecordKind::kReadings) {
        ASSERT_EQ(r.readings.size(), r.last_seq - r.first_seq + 1);
        for (const Reading& reading : r.readings) {
          ASSERT_EQ(reading.value, static_cast<double>(reading.time_us % 1'000'003) * 0.25);
          ASSERT_EQ(reading.quality, static_cast<uint32_t>(reading.time_us % 7));
        }
      } else {
        ASSERT_EQ(r.kind, RecordKind::kDefect);
        ASSERT_TRUE(r.defect.has_value());
      }
      present.emplace_back(r.first_seq, r.last_seq);
    }
    // Every reported commit range is covered by stored rows (rows are never merged, so each
    // reported range is a run of consecutive rows starting at its first sequence).
    size_t i = 0;
    for (const auto& [first, last] : committed) {
      while (i < present.size() && present[i].first < first) ++i;
      ASSERT_LT(i, present.size()) << "commit " << first << ".." << last << " lost";
      ASSERT_EQ(present[i].first, first) << "commit " << first << ".." << last << " lost";
      while (i < present.size() && present[i].second < last) ++i;
      ASSERT_LT(i, present.size()) << "commit " << first << ".." << last << " truncated";
      ASSERT_EQ(present[i].second, last) << "commit " << first << ".." << last << " truncated";
    }
  }
  EXPECT_GE(committed.size(), static_cast<size_t>(kKills));
}

}  // namespace
}  // namespace weir::store
