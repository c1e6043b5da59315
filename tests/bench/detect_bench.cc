// Throughput of the `auto` detector: the scorer alone and through the Engine (sensor lookup,
// windows, evidence ring), on a synthetic noisy series with occasional spikes. Reports
// readings/s (items_per_second) and the fixed state bytes per sensor.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "agent/detect/auto_score.h"
#include "agent/detect/engine.h"
#include "agent/detect/group.h"

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

// The issue-14 budget: 1,000 sensors in multivariate groups of 8-16 at 1 Hz. One iteration is one
// second of the gateway: 1,000 readings through Engine::Observe (sensor lookup, grid sampling,
// and the groups' T²/Q rows). Per-sensor detectors are off so the figure is the groups' own
// cost (plus the engine's lookup). After learning (warm-up, outside the timing). CPU time per
// iteration / 1 s is the share of one core; `group_heap_bytes` is the groups' heap (learnt
// models, samplers, names), `learning_heap_bytes` the same while every group still learns.
struct Plant {
  std::vector<std::string> ids;
  std::vector<size_t> group_of;  // per sensor
  std::vector<double> factor_a, factor_b;
  weir::detect::EngineConfig config;
};

Plant MakePlant(size_t sensors) {
  Plant p;
  p.config.fallback.auto_score.enabled = false;
  p.config.incident_close_after_us = 300 * weir::detect::kSecond;
  size_t next = 0, g = 0;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  while (next < sensors) {
    const size_t size = std::min<size_t>(8 + g % 9, sensors - next);  // 8..16
    weir::detect::GroupConfig gc;
    gc.name = "machine" + std::to_string(g);
    gc.sensors = {gc.name + ".*"};
    p.config.groups.push_back(gc);
    for (size_t j = 0; j < size; ++j, ++next) {
      p.ids.push_back(gc.name + ".s" + std::to_string(j));
      p.group_of.push_back(g);
      p.factor_a.push_back(u(rng));
      p.factor_b.push_back(u(rng));
    }
    ++g;
  }
  return p;
}

void FeedSecond(weir::detect::Engine& engine, const Plant& p, int64_t t, std::mt19937_64& rng,
                std::vector<weir::Defect>* out) {
  std::normal_distribution<double> n(0, 1);
  const double cycle = std::sin(static_cast<double>(t) / 100.0);
  weir::Reading r;
  for (size_t i = 0; i < p.ids.size(); ++i) {
    r.sensor = p.ids[i];
    r.time_us = (1'700'000'000 + t) * weir::detect::kSecond + static_cast<int64_t>(i % 97) * 1000;
    r.value = 10 + 5 * (p.factor_a[i] * cycle + p.factor_b[i] * std::cos(t * 0.013)) + 0.2 * n(rng);
    engine.Observe(r, out);
  }
}

size_t GroupHeap(const weir::detect::Engine& engine) {
  size_t bytes = 0;
  for (const auto& g : engine.groups()->groups()) bytes += g.HeapBytes() + sizeof(g);
  return bytes;
}

void BM_Groups1000SensorsAt1Hz(benchmark::State& state) {
  const Plant plant = MakePlant(1000);
  weir::detect::Engine engine(plant.config);
  std::mt19937_64 rng(2);
  std::vector<weir::Defect> defects;
  int64_t t = 0;
  for (; t < 10; ++t) FeedSecond(engine, plant, t, rng, &defects);
  const size_t learning = GroupHeap(engine);
  for (; t < 2000; ++t) FeedSecond(engine, plant, t, rng, &defects);  // learn (1,800 rows)
  for (const auto& g : engine.groups()->groups()) {
    if (g.phase() != weir::detect::GroupPhase::kDetecting) state.SkipWithError("still learning");
  }
  defects.clear();
  for (auto _ : state) {
    FeedSecond(engine, plant, t++, rng, &defects);
    defects.clear();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(plant.ids.size()));
  state.counters["groups"] = static_cast<double>(plant.config.groups.size());
  state.counters["group_heap_bytes"] = static_cast<double>(GroupHeap(engine));
  state.counters["learning_heap_bytes"] = static_cast<double>(learning);
}
BENCHMARK(BM_Groups1000SensorsAt1Hz)->Unit(benchmark::kMicrosecond);

// One group row of 16 sensors (the T²/Q maths alone).
void BM_MspcScore16(benchmark::State& state) {
  constexpr size_t p = 16;
  weir::detect::CovarianceAccumulator acc(p);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0, 1);
  std::vector<double> row(p);
  for (int i = 0; i < 1000; ++i) {
    const double f = n(rng), h = n(rng);
    for (size_t j = 0; j < p; ++j) row[j] = f * (j + 1) + h * (p - j) + n(rng);
    acc.Add(row);
  }
  const auto model = weir::detect::PcaModel::Fit(acc, 0.9, 0.001);
  bool present[p];
  std::fill(present, present + p, true);
  std::vector<double> contributions;
  double sum = 0;
  for (auto _ : state) {
    row[3] += 1e-3;
    sum += model.Score(row, std::span<const bool>(present, p), &contributions).t2;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MspcScore16);

}  // namespace

BENCHMARK_MAIN();
