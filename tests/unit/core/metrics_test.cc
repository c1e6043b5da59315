// Metrics: exact Prometheus text, escaping, labelled families, snapshots, concurrent updates.
#include "agent/core/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace weir {
namespace {

TEST(Metrics, RendersFamiliesSortedWithHelpTypeAndSeries) {
  MetricsRegistry registry;
  registry.GetCounter("weir_readings_ingested_total", "Readings accepted at ingest.").Increment(42);
  registry.GetGauge("weir_queue_depth", "Items waiting in a queue.", {{"queue", "store"}}).Set(3);
  registry
      .GetGauge("weir_queue_depth", "ignored: help comes from the first call",
                {{"queue", "forward"}})
      .Set(0.25);
  registry
      .GetCounter("weir_dead_letters_total", "Inputs rejected, by reason.",
                  {{"reason", "nan_value"}})
      .Increment();
  registry.GetCounter("weir_dead_letters_total", "", {{"reason", "bad_json"}}).Increment(2);

  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP weir_dead_letters_total Inputs rejected, by reason.\n"
            "# TYPE weir_dead_letters_total counter\n"
            "weir_dead_letters_total{reason=\"bad_json\"} 2\n"
            "weir_dead_letters_total{reason=\"nan_value\"} 1\n"
            "# HELP weir_queue_depth Items waiting in a queue.\n"
            "# TYPE weir_queue_depth gauge\n"
            "weir_queue_depth{queue=\"forward\"} 0.25\n"
            "weir_queue_depth{queue=\"store\"} 3\n"
            "# HELP weir_readings_ingested_total Readings accepted at ingest.\n"
            "# TYPE weir_readings_ingested_total counter\n"
            "weir_readings_ingested_total 42\n");
}

TEST(Metrics, EscapesLabelValuesAndHelpText) {
  MetricsRegistry registry;
  registry
      .GetCounter("weir_x_total", "line one\nback\\slash \"quoted\"",
                  {{"path", "C:\\tmp"}, {"msg", "say \"hi\"\nbye"}})
      .Increment();
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP weir_x_total line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE weir_x_total counter\n"
            "weir_x_total{path=\"C:\\\\tmp\",msg=\"say \\\"hi\\\"\\nbye\"} 1\n");
}

// Also: without help text the optional HELP line is left out.
TEST(Metrics, RendersSpecialGaugeValuesAsPrometheusSpellsThem) {
  MetricsRegistry registry;
  registry.GetGauge("a", "", {{"k", "nan"}}).Set(std::numeric_limits<double>::quiet_NaN());
  registry.GetGauge("a", "", {{"k", "pinf"}}).Set(std::numeric_limits<double>::infinity());
  registry.GetGauge("a", "", {{"k", "ninf"}}).Set(-std::numeric_limits<double>::infinity());
  registry.GetGauge("a", "", {{"k", "big"}}).Set(1e21);
  registry.GetGauge("a", "", {{"k", "neg"}}).Set(-1.5);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# TYPE a gauge\n"
            "a{k=\"big\"} 1e+21\n"
            "a{k=\"nan\"} NaN\n"
            "a{k=\"neg\"} -1.5\n"
            "a{k=\"ninf\"} -Inf\n"
            "a{k=\"pinf\"} +Inf\n");
}

TEST(Metrics, TheSameNameAndLabelsReturnTheSameMetric) {
  MetricsRegistry registry;
  Counter& a = registry.GetCounter("c_total", "help", {{"lane", "defects"}});
  Counter& b = registry.GetCounter("c_total", "help", {{"lane", "defects"}});
  Counter& other = registry.GetCounter("c_total", "help", {{"lane", "readings"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  Gauge& g1 = registry.GetGauge("g", "help");
  EXPECT_EQ(&g1, &registry.GetGauge("g", "help"));
}

TEST(Metrics, GaugesSetAndAdd) {
  MetricsRegistry registry;
  Gauge& g = registry.GetGauge("weir_bytes", "Bytes.");
  g.Set(10);
  g.Add(5);
  g.Add(-20);
  EXPECT_EQ(g.value(), -5);
}

TEST(Metrics, SnapshotListsEverySeriesByNameAndLabels) {
  MetricsRegistry registry;
  registry.GetCounter("weir_in_total", "").Increment(3);
  registry.GetCounter("weir_dead_total", "", {{"reason", "nan"}}).Increment(1);
  registry.GetGauge("weir_depth", "").Set(7.5);
  const std::map<std::string, double> expected = {
      {"weir_dead_total{reason=\"nan\"}", 1.0},
      {"weir_depth", 7.5},
      {"weir_in_total", 3.0},
  };
  EXPECT_EQ(registry.Snapshot(), expected);
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted) {
  MetricsRegistry registry;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&registry, t] {
      // Each thread looks the metrics up itself, racing on registration, then uses them lock-free.
      Counter& total = registry.GetCounter("weir_ops_total", "Ops.");
      Counter& mine = registry.GetCounter("weir_ops_by_thread_total", "Ops.",
                                          {{"thread", std::to_string(t % 2)}});
      Gauge& gauge = registry.GetGauge("weir_level", "Level.");
      for (int i = 0; i < kPerThread; ++i) {
        total.Increment();
        mine.Increment();
        gauge.Add(1);
      }
    });
  }
  // Rendering and snapshotting while the counters move must be safe (checked under TSan).
  for (int i = 0; i < 20; ++i) {
    (void)registry.RenderPrometheus();
    (void)registry.Snapshot();
  }
  for (auto& t : threads) t.join();
  const auto snap = registry.Snapshot();
  EXPECT_EQ(snap.at("weir_ops_total"), kThreads * kPerThread);
  EXPECT_EQ(snap.at("weir_ops_by_thread_total{thread=\"0\"}"), 2 * kPerThread);
  EXPECT_EQ(snap.at("weir_ops_by_thread_total{thread=\"1\"}"), 2 * kPerThread);
  EXPECT_EQ(snap.at("weir_level"), kThreads * kPerThread);
}

}  // namespace
}  // namespace weir
