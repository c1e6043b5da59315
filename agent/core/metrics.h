// Metrics: counters and gauges, optionally labelled, owned by a registry that renders the
// Prometheus text exposition format and a flat snapshot for the status report.
//
// Hot path: look a metric up once (the lookup takes the registry's lock), keep the reference,
// then Increment/Set/Add are single atomic operations without a lock. References stay valid for
// the registry's lifetime. All members are thread-safe.
//
// Names and label names are fixed by the code, so a malformed one, or one name used for both a
// counter and a gauge, is a programming error (asserted; in release builds the caller gets a
// working metric that is not exported).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir {

// Label name/value pairs, e.g. {{"reason", "nan_value"}}. Their order is part of the identity.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A monotonic count. Cache-line aligned so that counters bumped by different threads (ingest,
// store, forward) do not slow each other down through false sharing.
class alignas(64) Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (queue depth, bytes on disk, last commit latency).
class alignas(64) Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the counter `name` with `labels`, creating it (at 0) on first use. `help` is kept
  // from the first call for the family. Takes a lock; call once and keep the reference.
  Counter& GetCounter(std::string_view name, std::string_view help,
                      const MetricLabels& labels = {});
  // As GetCounter, for a gauge.
  Gauge& GetGauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});

  // The Prometheus text exposition format (version 0.0.4): families sorted by name, each with
  // a "# HELP" line (omitted when the help text is empty) and a "# TYPE" line, then its series
  // sorted by label text. Label values and help text are escaped as the format requires.
  std::string RenderPrometheus() const;

  // Every series as "name" or "name{label=\"value\",...}" -> current value.
  std::map<std::string, double> Snapshot() const;

 private:
  struct Family;
  Family& FamilyFor(std::string_view name, std::string_view help, bool is_counter);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
  // Metrics handed out for misuse in release builds; kept alive, never exported.
  std::vector<std::unique_ptr<Counter>> orphan_counters_;
  std::vector<std::unique_ptr<Gauge>> orphan_gauges_;
};

}  // namespace weir
