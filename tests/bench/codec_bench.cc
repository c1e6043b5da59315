// Batch codec benchmark: bytes per reading over the NAB corpus in 1,000-reading batches (each
// file chunked on its own, sensor id = the file's path under data/), and encode/decode speed.
//
//   build-*/tests/bench/codec_bench [--benchmark_filter=Nab]
//
// The NAB location comes from env WEIR_NAB_DIR, else the build's WEIR_NAB_DIR.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "agent/codec/batch_codec.h"
#include "agent/codec/csv.h"

namespace weir::codec {
namespace {

constexpr size_t kBatch = 1000;

std::filesystem::path NabData() {
  const char* env = std::getenv("WEIR_NAB_DIR");
  return std::filesystem::path(env != nullptr && *env != '\0' ? env : WEIR_NAB_DIR) / "data";
}

// Every NAB file cut into 1,000-reading batches, loaded once.
const std::vector<std::vector<Reading>>& NabBatches() {
  static const std::vector<std::vector<Reading>> batches = [] {
    std::vector<std::vector<Reading>> out;
    const std::filesystem::path data = NabData();
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (auto it = std::filesystem::recursive_directory_iterator(data, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->path().extension() == ".csv") files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      CsvOptions options;
      options.sensor = std::filesystem::relative(file, data).string();
      Result<CsvReader> reader = CsvReader::Open(file, options);
      if (!reader.ok()) continue;
      std::vector<Reading> all;
      Reading r;
      for (;;) {
        Result<bool> more = reader->Next(&r);
        if (!more.ok()) continue;  // NAB has no bad lines; skip one if it ever does
        if (!*more) break;
        all.push_back(r);
      }
      for (size_t begin = 0; begin < all.size(); begin += kBatch) {
        const size_t end = std::min(all.size(), begin + kBatch);
        out.emplace_back(all.begin() + begin, all.begin() + end);
      }
    }
    return out;
  }();
  return batches;
}

size_t CountReadings(const std::vector<std::vector<Reading>>& batches) {
  size_t n = 0;
  for (const auto& b : batches) n += b.size();
  return n;
}

// Encodes the corpus at zstd level state.range(0); reports bytes per reading.
void BM_EncodeNab(benchmark::State& state) {
  const auto& batches = NabBatches();
  if (batches.empty()) {
    state.SkipWithError("NAB data not found; set WEIR_NAB_DIR");
    return;
  }
  BatchEncoder encoder(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (const auto& batch : batches) {
      Result<std::string> blob = encoder.Encode(batch);
      if (!blob.ok()) {
        state.SkipWithError(blob.status().ToString().c_str());
        return;
      }
      bytes += blob->size();
    }
  }
  const size_t readings = CountReadings(batches);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * readings));
  state.counters["readings"] = static_cast<double>(readings);
  state.counters["bytes_per_reading"] = static_cast<double>(bytes) / static_cast<double>(readings);
}
BENCHMARK(BM_EncodeNab)->Arg(1)->Arg(3)->Arg(9)->Arg(19)->Unit(benchmark::kMillisecond);

void BM_DecodeNab(benchmark::State& state) {
  const auto& batches = NabBatches();
  if (batches.empty()) {
    state.SkipWithError("NAB data not found; set WEIR_NAB_DIR");
    return;
  }
  std::vector<std::string> blobs;
  BatchEncoder encoder;
  for (const auto& batch : batches) blobs.push_back(*encoder.Encode(batch));
  BatchDecoder decoder;
  for (auto _ : state) {
    for (const std::string& blob : blobs) {
      Result<std::vector<Reading>> readings = decoder.Decode(blob);
      if (!readings.ok()) {
        state.SkipWithError(readings.status().ToString().c_str());
        return;
      }
      benchmark::DoNotOptimize(readings->data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * CountReadings(batches)));
}
BENCHMARK(BM_DecodeNab)->Unit(benchmark::kMillisecond);

// 1,000 readings interleaved from state.range(0) sensors with 2-decimal random-walk values.
std::vector<Reading> SyntheticBatch(int sensors) {
  std::mt19937_64 rng(42);
  std::vector<Reading> out;
  std::vector<int64_t> level(static_cast<size_t>(sensors), 2000);
  for (size_t i = 0; i < kBatch; ++i) {
    const auto s = static_cast<size_t>(i % static_cast<size_t>(sensors));
    level[s] += static_cast<int64_t>(rng() % 11) - 5;
    out.push_back({"site/sensor-" + std::to_string(s),
                   1'700'000'000'000'000 + static_cast<int64_t>(i / sensors) * 1'000'000,
                   static_cast<double>(level[s]) / 100.0, 0});
  }
  return out;
}

void BM_EncodeSynthetic(benchmark::State& state) {
  const std::vector<Reading> batch = SyntheticBatch(static_cast<int>(state.range(0)));
  BatchEncoder encoder;
  size_t bytes = 0;
  for (auto _ : state) {
    Result<std::string> blob = encoder.Encode(batch);
    bytes = blob.ok() ? blob->size() : 0;
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch.size()));
  state.counters["bytes_per_reading"] = static_cast<double>(bytes) / kBatch;
}
BENCHMARK(BM_EncodeSynthetic)->Arg(1)->Arg(10)->Arg(100);

void BM_DecodeSynthetic(benchmark::State& state) {
  const std::vector<Reading> batch = SyntheticBatch(static_cast<int>(state.range(0)));
  const std::string blob = *EncodeBatch(batch);
  BatchDecoder decoder;
  for (auto _ : state) {
    Result<std::vector<Reading>> readings = decoder.Decode(blob);
    benchmark::DoNotOptimize(readings.ok());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch.size()));
}
BENCHMARK(BM_DecodeSynthetic)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
}  // namespace weir::codec

BENCHMARK_MAIN();
