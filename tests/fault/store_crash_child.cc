// Child process for the crash test: appends readings and defects to a log under load and prints
// "C <first_seq> <last_seq>\n" on stdout after each commit returned, until it is killed.
// Every reading's value and quality are a function of its time, so the parent can check that
// each reading it finds is intact. Usage: store_crash_child <log path> <seed>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "agent/store/log.h"

namespace {

using weir::Reading;
using weir::TimeMicros;

double ValueFor(TimeMicros t) { return static_cast<double>(t % 1'000'003) * 0.25; }

void Report(const weir::store::CommitResult& c) {
  if (c.empty()) return;
  char line[64];
  int n = std::snprintf(line, sizeof(line), "C %llu %llu\n",
                        static_cast<unsigned long long>(c.first_seq),
                        static_cast<unsigned long long>(c.last_seq));
  // One write per line: the parent never sees a line for a commit that did not return.
  if (::write(STDOUT_FILENO, line, static_cast<size_t>(n)) != n) std::_Exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <log path> <seed>\n", argv[0]);
    return 2;
  }
  weir::store::LogOptions options;
  options.path = argv[1];
  options.commit_records = 256;
  options.commit_interval = std::chrono::milliseconds(2);
  options.seq_reserve_block = 4096;  // small, so reservations happen while being killed
  auto log = weir::store::Log::Open(options, weir::SystemClock::Instance());
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 rng(std::strtoull(argv[2], nullptr, 10));
  // Event times continue from the wall clock so every run writes distinct readings.
  TimeMicros t = weir::SystemClock::Instance().WallMicros();
  for (;;) {
    std::vector<Reading> batch(1 + rng() % 300);
    for (Reading& r : batch) {
      t += 1 + static_cast<TimeMicros>(rng() % 1000);
      r = Reading{"sensor/" + std::to_string(t % 5), t, ValueFor(t), static_cast<uint32_t>(t % 7)};
    }
    auto c = (*log)->Append(batch);
    if (!c.ok()) {
      std::fprintf(stderr, "append: %s\n", c.status().ToString().c_str());
      return 1;
    }
    Report(*c);
    if (rng() % 4 == 0) {
      weir::Defect d;
      d.sensor = "sensor/0";
      d.window_start_us = t - 1000;
      d.window_end_us = t;
      d.detected_at_us = t;
      d.message = "crash test " + std::to_string(t);
      auto dc = (*log)->AppendDefect(d);
      if (!dc.ok()) return 1;
      Report(*dc);
    }
    auto due = (rng() % 2 == 0) ? (*log)->Commit() : (*log)->CommitIfDue();
    if (!due.ok()) {
      std::fprintf(stderr, "commit: %s\n", due.status().ToString().c_str());
      return 1;
    }
    Report(*due);
  }
}
