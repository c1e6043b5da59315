// Store benchmark: append throughput (encode + compress + commit, one thread, 1,000-reading
// group commits) and stored bytes per reading when the whole NAB corpus is imported into a fresh
// log (each file in 1,000-reading batches, sensor id = the file's path under data/), measured as
// the closed log file's size divided by the readings.
//
//   build-*/tests/bench/store_bench [--benchmark_filter=Nab]
//
// The NAB location comes from env WEIR_NAB_DIR, else the build's WEIR_NAB_DIR. Logs are written
// under $TMPDIR (the disk under test).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "agent/codec/csv.h"
#include "agent/core/clock.h"
#include "agent/store/intake_journal.h"
#include "agent/store/log.h"

namespace weir::store {
namespace {

namespace fs = std::filesystem;
constexpr size_t kBatch = 1000;

fs::path NabData() {
  const char* env = std::getenv("WEIR_NAB_DIR");
  return fs::path(env != nullptr && *env != '\0' ? env : WEIR_NAB_DIR) / "data";
}

// A fresh directory removed at scope exit.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "weir-store-bench-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? fs::path(pattern) : fs::path();
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every NAB file as its readings, loaded once, in path order.
const std::vector<std::vector<Reading>>& NabFiles() {
  static const std::vector<std::vector<Reading>> files = [] {
    std::vector<std::vector<Reading>> out;
    const fs::path data = NabData();
    std::error_code ec;
    std::vector<fs::path> paths;
    for (auto it = fs::recursive_directory_iterator(data, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().extension() == ".csv") paths.push_back(it->path());
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& path : paths) {
      codec::CsvOptions options;
      options.sensor = fs::relative(path, data).string();
      auto reader = codec::CsvReader::Open(path, options);
      if (!reader.ok()) continue;
      std::vector<Reading> all;
      Reading r;
      for (;;) {
        auto more = reader->Next(&r);
        if (!more.ok()) continue;
        if (!*more) break;
        all.push_back(r);
      }
      out.push_back(std::move(all));
    }
    return out;
  }();
  return files;
}

// 1,000-reading batches: NAB's when present, else a synthetic 10-sensor random walk.
std::vector<std::vector<Reading>> AppendBatches() {
  std::vector<std::vector<Reading>> batches;
  for (const auto& file : NabFiles()) {
    for (size_t begin = 0; begin + kBatch <= file.size(); begin += kBatch) {
      batches.emplace_back(file.begin() + static_cast<std::ptrdiff_t>(begin),
                           file.begin() + static_cast<std::ptrdiff_t>(begin + kBatch));
    }
  }
  if (batches.empty()) {
    std::mt19937_64 rng(42);
    std::vector<int64_t> level(10, 2000);
    for (int b = 0; b < 100; ++b) {
      std::vector<Reading> batch;
      for (size_t i = 0; i < kBatch; ++i) {
        const size_t s = i % 10;
        level[s] += static_cast<int64_t>(rng() % 11) - 5;
        batch.push_back({"site/sensor-" + std::to_string(s),
                         1'700'000'000'000'000 + static_cast<int64_t>(b * 100 + i / 10) * 1'000'000,
                         static_cast<double>(level[s]) / 100.0, 0});
      }
      batches.push_back(std::move(batch));
    }
  }
  return batches;
}

// Readings/s through Append (encode + compress + one transaction per group commit).
// Arg 0: synchronous=FULL (an fsync per commit) or 1: NORMAL. Arg 1: readings per group commit
// (a multiple of 1,000; a commit stores its readings as one chunk row).
void BM_AppendCommit(benchmark::State& state) {
  const auto batches = AppendBatches();
  const size_t group = static_cast<size_t>(state.range(1));
  ScratchDir dir;
  LogOptions options;
  options.path = dir.path() / "log.db";
  options.commit_records = group;
  options.synchronous = state.range(0) == 0 ? Synchronous::kFull : Synchronous::kNormal;
  options.verify_rows_on_open = false;
  auto log = Log::Open(options, SystemClock::Instance());
  if (!log.ok()) {
    state.SkipWithError(log.status().ToString().c_str());
    return;
  }
  size_t i = 0;
  uint64_t readings = 0;
  for (auto _ : state) {
    // group / kBatch appends; the last one reaches commit_records and commits.
    for (size_t n = 0; n < group / kBatch; ++n) {
      auto c = (*log)->Append(batches[i++ % batches.size()]);
      if (!c.ok()) {
        state.SkipWithError(c.status().ToString().c_str());
        return;
      }
      readings += c->readings;
    }
  }
  if (readings != group * state.iterations()) {
    state.SkipWithError("a group did not commit");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(readings));
  state.SetLabel(std::string(state.range(0) == 0 ? "synchronous=full" : "synchronous=normal") +
                 " group=" + std::to_string(group));
}
BENCHMARK(BM_AppendCommit)
    ->Args({0, 1000})
    ->Args({1, 1000})
    ->Args({0, 10000})
    ->Args({1, 10000})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(3.0)
    ->UseRealTime();

// The cost of the disk reserve's check after each commit (FORMAT.md "Disk space"): a statvfs,
// two header reads and a stat of the WAL on top of the quota check. Arg: 0 quota only (1 GiB),
// 1 quota and the automatic reserve (the agent's defaults). synchronous=NORMAL, 1,000 per commit.
void BM_CommitWithDiskReserve(benchmark::State& state) {
  const auto batches = AppendBatches();
  ScratchDir dir;
  LogOptions options;
  options.path = dir.path() / "log.db";
  options.commit_records = 1000;
  options.synchronous = Synchronous::kNormal;
  options.verify_rows_on_open = false;
  options.quota_bytes = uint64_t{1} << 30;
  options.min_free_bytes = state.range(0) == 0 ? 0 : kMinFreeAuto;
  auto log = Log::Open(options, SystemClock::Instance());
  if (!log.ok()) {
    state.SkipWithError(log.status().ToString().c_str());
    return;
  }
  size_t i = 0;
  for (auto _ : state) {
    for (size_t n = 0; n < 1000 / kBatch; ++n) {
      auto c = (*log)->Append(batches[i++ % batches.size()]);
      if (!c.ok()) {
        state.SkipWithError(c.status().ToString().c_str());
        return;
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_CommitWithDiskReserve)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(3.0)
    ->UseRealTime();

// The intake journal's cost per inbound message (intake_journal.h): one writev(2) of a typical
// one-reading JSON message (66-byte payload, 16-byte topic), no fsync, with segment rotation and
// release as the store thread does after commits. Arg: payload bytes.
void BM_IntakeJournalAppend(benchmark::State& state) {
  ScratchDir dir;
  auto journal = IntakeJournal::Open({.dir = dir.path() / "intake"}, 0);
  if (!journal.ok()) {
    state.SkipWithError(journal.status().ToString().c_str());
    return;
  }
  const std::string topic = "sensors/s0042/t";
  const std::string payload(static_cast<size_t>(state.range(0)), 'x');
  uint64_t n = 0;
  for (auto _ : state) {
    auto r = (*journal)->Append(topic, payload, 1'700'000'000'000'000);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    if ((++n & 0xfff) == 0) (*journal)->Release(*r);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_IntakeJournalAppend)->Arg(66)->Arg(1000)->Unit(benchmark::kNanosecond)->MinTime(2.0);

// Imports the whole corpus into a fresh log; bytes_per_reading = closed file size / readings.
// Arg: synchronous as above.
void BM_ImportNab(benchmark::State& state) {
  const auto& files = NabFiles();
  if (files.empty()) {
    state.SkipWithError("NAB data not found; set WEIR_NAB_DIR");
    return;
  }
  uint64_t readings = 0, file_bytes = 0, encoded_bytes = 0;
  double ratio = 0;
  for (auto _ : state) {
    ScratchDir dir;
    LogOptions options;
    options.path = dir.path() / "log.db";
    options.commit_records = kBatch;
    options.synchronous = state.range(0) == 0 ? Synchronous::kFull : Synchronous::kNormal;
    readings = 0;
    {
      auto log = Log::Open(options, SystemClock::Instance());
      if (!log.ok()) {
        state.SkipWithError(log.status().ToString().c_str());
        return;
      }
      for (const auto& file : files) {
        // Commit at the end of each file so every file is chunked on its own.
        auto c = (*log)->Append(file);
        auto tail = (*log)->Commit();
        if (!c.ok() || !tail.ok()) {
          state.SkipWithError("append failed");
          return;
        }
        readings += file.size();
      }
      auto stats = (*log)->Stats();
      if (stats.ok()) {
        encoded_bytes = stats->encoded_bytes;
        ratio = stats->compression_ratio;
      }
    }  // closing checkpoints the WAL into the file
    state.PauseTiming();
    file_bytes = fs::file_size(options.path);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * readings));
  state.counters["readings"] = static_cast<double>(readings);
  state.counters["file_bytes"] = static_cast<double>(file_bytes);
  state.counters["bytes_per_reading"] =
      static_cast<double>(file_bytes) / static_cast<double>(readings);
  state.counters["blob_bytes_per_reading"] =
      static_cast<double>(encoded_bytes) / static_cast<double>(readings);
  state.counters["compression_ratio"] = ratio;
}
BENCHMARK(BM_ImportNab)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseRealTime();

}  // namespace
}  // namespace weir::store

BENCHMARK_MAIN();
