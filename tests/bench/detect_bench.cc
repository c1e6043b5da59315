// Throughput of the `auto` detector: the scorer alone and through the Engine (sensor lookup,
// windows, evidence ring), on a synthetic noisy series with occasional spikes. Reports
// readings/s (items_per_second) and the fixed state bytes per sensor.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "agent/detect/auto_score.h"
#include "agent/detect/engine.h"

namespace {

std::vector<double> Series(size_t n) {
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 20.0 + noise(rng) + (i % 5000 == 4999 ? 15.0 : 0.0);
  return v;
}

void BM_AutoScorer(benchmark::State& state) {
  const std::vector<double> values = Series(1 << 16);
  weir::detect::AutoScorer scorer;
  size_t i = 0;
  double sum = 0;
  for (auto _ : state) {
    sum += scorer.Observe(values[i]);
    i = (i + 1) & (values.size() - 1);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["state_bytes"] = sizeof(weir::detect::AutoScorer);
}
BENCHMARK(BM_AutoScorer);

void BM_EngineAuto(benchmark::State& state) {
  const std::vector<double> values = Series(1 << 16);
  weir::detect::Engine engine(weir::detect::EngineConfig{});
  weir::Reading r{"boiler.temp", 0, 0, 0};
  std::vector<weir::Defect> defects;
  size_t i = 0;
  double sum = 0;
  for (auto _ : state) {
    r.time_us += 1'000'000;
    r.value = values[i];
    defects.clear();
    sum += engine.Observe(r, &defects);
    i = (i + 1) & (values.size() - 1);
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["state_bytes"] = static_cast<double>(
      weir::detect::Engine::StateBytesPerSensor(weir::detect::DetectorConfig{}));
}
BENCHMARK(BM_EngineAuto);

}  // namespace

BENCHMARK_MAIN();
