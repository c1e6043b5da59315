// Each detector through the Engine on synthetic series with known answers: a spike at t, a step
// at t, a ramp, a stuck sensor, a gap, noise only; plus hold-off, rules, bounds and validation.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include "agent/detect/engine.h"

// Counts live heap allocations so a test can show the engine's memory stays flat.
// Also counts their bytes (as the allocator rounds them) to measure the engine's state per sensor.
namespace {
std::atomic<long> g_live_allocations{0};
std::atomic<long> g_live_bytes{0};
void Forget(void* p) {
  if (p == nullptr) return;
  --g_live_allocations;
  g_live_bytes -= static_cast<long>(malloc_usable_size(p));
}
}  // namespace
void* operator new(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  ++g_live_allocations;
  g_live_bytes += static_cast<long>(malloc_usable_size(p));
  return p;
}
void operator delete(void* p) noexcept {
  Forget(p);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  Forget(p);
  std::free(p);
}

namespace weir::detect {
namespace {

constexpr TimeMicros kS = kSecond;
constexpr TimeMicros kStart = 1'700'000'000 * kS;

// A config with every detector off (auto included); tests switch on the one they test.
DetectorConfig Quiet() {
  DetectorConfig c;
  c.name = "test";
  c.auto_score.enabled = false;
  c.holdoff_us = 0;
  return c;
}

EngineConfig With(const DetectorConfig& c) {
  EngineConfig e;
  e.fallback = c;
  return e;
}

// Noise around 20 with sd 1, one reading per second; `shape` adds the anomaly.
template <typename Shape>
std::vector<Defect> Feed(Engine& engine, int n, Shape shape, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<Defect> out;
  for (int i = 0; i < n; ++i) {
    engine.Observe(Reading{"boiler.temp", kStart + i * kS, 20.0 + noise(rng) + shape(i), 0}, &out);
  }
  return out;
}

int IndexOf(const Defect& d) { return static_cast<int>((d.detected_at_us - kStart) / kS); }

TEST(DetectorsTest, NoiseOnlyRaisesNoDefect) {
  DetectorConfig c = Quiet();
  c.limits = {true, 0, 40};
  c.rate = {true, 20};
  c.spike.enabled = true;
  c.shift.enabled = true;
  c.flatline = {true, 5, 0.0};
  c.dropout = {true, 10 * kS};
  c.auto_score.enabled = true;
  Engine engine(With(c));
  for (const Defect& d : Feed(engine, 20'000, [](int) { return 0.0; })) {
    ADD_FAILURE() << d.detector << " at " << IndexOf(d) << ": " << d.message;
  }
}

TEST(DetectorsTest, LimitsFireOnTheReadingAboveMax) {
  DetectorConfig c = Quiet();
  c.limits = {true, 0, 30};
  Engine engine(With(c));
  const auto defects = Feed(engine, 500, [](int i) { return i == 300 ? 50.0 : 0.0; });
  ASSERT_EQ(defects.size(), 1u);
  EXPECT_EQ(defects[0].kind, DefectKind::kThreshold);
  EXPECT_EQ(defects[0].severity, Severity::kCritical);
  EXPECT_EQ(IndexOf(defects[0]), 300);
  EXPECT_EQ(defects[0].detector, "test.limits");
  EXPECT_NE(defects[0].message.find("above limit 30"), std::string::npos);
}

TEST(DetectorsTest, RateOfChangeFiresOnAFastRampOnly) {
  DetectorConfig c = Quiet();
  c.rate = {true, 10};
  c.holdoff_us = 3600 * kS;
  Engine engine(With(c));
  // 0.5/s slow ramp from 100 to 200, then a 30/s ramp from 300.
  const auto defects = Feed(engine, 400, [](int i) {
    return i < 100 ? 0.0 : i < 200 ? 0.5 * (i - 100) : i < 300 ? 50.0 : 50.0 + 30.0 * (i - 300);
  });
  ASSERT_EQ(defects.size(), 1u);
  EXPECT_EQ(defects[0].kind, DefectKind::kRateOfChange);
  EXPECT_EQ(IndexOf(defects[0]), 301);
}

TEST(DetectorsTest, SpikeAtTIsReportedAtT) {
  DetectorConfig c = Quiet();
  c.spike.enabled = true;
  Engine engine(With(c));
  const auto defects = Feed(engine, 1000, [](int i) { return i == 640 ? 15.0 : 0.0; });
  ASSERT_EQ(defects.size(), 1u);
  EXPECT_EQ(defects[0].kind, DefectKind::kSpike);
  EXPECT_EQ(IndexOf(defects[0]), 640);
  // The evidence ends with the triggering reading; the window stats are filled in.
  ASSERT_FALSE(defects[0].evidence.empty());
  EXPECT_EQ(defects[0].evidence.back().time_us, defects[0].detected_at_us);
  EXPECT_GT(defects[0].evidence.back().value, 30.0);
  EXPECT_LE(defects[0].evidence.size(), c.max_evidence);
  EXPECT_GT(defects[0].stats.count, 0u);
}

TEST(DetectorsTest, StepAtTIsALevelShiftSoonAfterT) {
  DetectorConfig c = Quiet();
  c.shift.enabled = true;
  c.holdoff_us = 3600 * kS;
  Engine engine(With(c));
  const auto defects = Feed(engine, 1000, [](int i) { return i >= 500 ? 4.0 : 0.0; });
  ASSERT_FALSE(defects.empty());
  EXPECT_EQ(defects[0].kind, DefectKind::kLevelShift);
  EXPECT_GE(IndexOf(defects[0]), 500);
  EXPECT_LE(IndexOf(defects[0]), 510);
}

TEST(DetectorsTest, SlowRampIsReportedAfterItStartsAndNotBefore) {
  DetectorConfig c = Quiet();
  c.shift.enabled = true;
  c.holdoff_us = 3600 * kS;
  Engine engine(With(c));
  const auto defects =
      Feed(engine, 2000, [](int i) { return i >= 1000 ? 0.01 * (i - 1000) : 0.0; });
  ASSERT_FALSE(defects.empty());
  EXPECT_GE(IndexOf(defects[0]), 1000);
  EXPECT_LE(IndexOf(defects[0]), 1400);
  EXPECT_TRUE(defects[0].kind == DefectKind::kDrift || defects[0].kind == DefectKind::kLevelShift);
}

TEST(DetectorsTest, StuckSensorIsAFlatlineOncePerRun) {
  DetectorConfig c = Quiet();
  c.flatline = {true, 30, 0.0};
  Engine engine(With(c));
  std::vector<Defect> out;
  for (int i = 0; i < 300; ++i) {
    const double v = (i >= 100 && i < 200) ? 21.5 : 20.0 + 0.1 * (i % 7);
    engine.Observe(Reading{"s", kStart + i * kS, v, 0}, &out);
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, DefectKind::kFlatline);
  EXPECT_EQ(IndexOf(out[0]), 129);
}

TEST(DetectorsTest, GapIsADropoutReportedOnceEitherByTimeOrByTheNextReading) {
  DetectorConfig c = Quiet();
  c.dropout = {true, 10 * kS};
  Engine engine(With(c));
  std::vector<Defect> out;
  engine.Observe(Reading{"a", kStart, 1, 0}, &out);
  engine.Observe(Reading{"b", kStart, 1, 0}, &out);
  engine.AdvanceTime(kStart + 10 * kS, &out);
  EXPECT_TRUE(out.empty());
  engine.AdvanceTime(kStart + 11 * kS, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, DefectKind::kDropout);
  engine.AdvanceTime(kStart + 20 * kS, &out);
  engine.Observe(Reading{"a", kStart + 21 * kS, 1, 0}, &out);
  EXPECT_EQ(out.size(), 2u);  // the same gap is not reported again
  // A gap seen only when the next reading arrives.
  engine.Observe(Reading{"a", kStart + 40 * kS, 1, 0}, &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].window_start_us, kStart + 21 * kS);
  EXPECT_EQ(out[2].window_end_us, kStart + 40 * kS);
}

TEST(DetectorsTest, HoldOffTurnsOneIncidentIntoOneAlertPerHoldOff) {
  DetectorConfig c = Quiet();
  c.limits = {true, 0, 30};
  c.holdoff_us = 30 * kS;
  Engine engine(With(c));
  const auto defects = Feed(engine, 300, [](int i) { return i >= 100 && i < 200 ? 50.0 : 0.0; });
  ASSERT_EQ(defects.size(), 4u);  // at 100, 130, 160, 190
  EXPECT_EQ(IndexOf(defects[1]), 130);
  EXPECT_EQ(engine.counters().suppressed, 96u);
}

TEST(DetectorsTest, LateAndOutOfOrderReadingsAreCountedNotJudged) {
  DetectorConfig c = Quiet();
  c.limits = {true, 0, 30};
  c.window.allowed_lateness_us = 5 * kS;
  Engine engine(With(c));
  std::vector<Defect> out;
  engine.Observe(Reading{"s", kStart + 100 * kS, 20, 0}, &out);
  engine.Observe(Reading{"s", kStart + 97 * kS, 99, 0}, &out);  // out of order, within lateness
  engine.Observe(Reading{"s", kStart + 90 * kS, 99, 0}, &out);  // late
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(engine.counters().out_of_order, 1u);
  EXPECT_EQ(engine.counters().late, 1u);
}

TEST(DetectorsTest, FirstMatchingGlobRuleConfiguresASensor) {
  EngineConfig e = With(Quiet());
  DetectorConfig boiler = Quiet();
  boiler.name = "boiler";
  boiler.limits = {true, 0, 30};
  e.rules.push_back({"plant?/boiler.*", boiler});
  Engine engine(e);
  std::vector<Defect> out;
  engine.Observe(Reading{"plant1/boiler.temp", kStart, 50, 0}, &out);
  engine.Observe(Reading{"plant1/pump.temp", kStart, 50, 0}, &out);
  engine.Observe(Reading{"plant12/boiler.temp", kStart, 50, 0}, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sensor, "plant1/boiler.temp");
  EXPECT_EQ(out[0].detector, "boiler.limits");
}

TEST(DetectorsTest, GlobMatchesStarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("a*c", "abbbc"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("*.temp", "x.y.temp"));
  EXPECT_FALSE(GlobMatch("*.temp", "x.temp2"));
}

TEST(DetectorsTest, SensorsBeyondTheLimitAreDroppedAndCounted) {
  EngineConfig e = With(Quiet());
  e.max_sensors = 2;
  Engine engine(e);
  std::vector<Defect> out;
  for (const char* id : {"a", "b", "c", "a"}) engine.Observe(Reading{id, kStart, 1, 0}, &out);
  EXPECT_EQ(engine.sensors(), 2u);
  EXPECT_EQ(engine.counters().dropped_sensors, 1u);
}

TEST(DetectorsTest, ValidateNamesTheBadField) {
  EngineConfig e;
  e.rules.push_back({"x*", DetectorConfig{}});
  e.rules[0].config.spike = {true, 1000, 16, 8.0};
  const Status s = Validate(e);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("rules[0].spike.window"), std::string::npos) << s.message();
  EXPECT_TRUE(Validate(EngineConfig{}).ok());
}

TEST(DetectorsTest, MemoryStaysFlatOverAMillionReadings) {
  DetectorConfig c = Quiet();
  c.limits = {true, 0, 30};
  c.rate = {true, 5};
  c.spike.enabled = true;
  c.shift.enabled = true;
  c.flatline = {true, 5, 0.0};
  c.auto_score.enabled = true;
  c.window.kind = WindowKind::kSliding;
  c.window.size_us = 60 * kS;
  c.window.hop_us = 10 * kS;
  Engine engine(With(c));
  std::vector<Defect> out;
  out.reserve(1024);
  std::vector<ClosedWindow> windows;
  windows.reserve(1024);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0.0, 1.0);
  long live_after_warmup = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    out.clear();
    windows.clear();
    if (i == 10'001) live_after_warmup = g_live_allocations.load();
    const double v = 20 + noise(rng) + (i % 10'000 == 0 ? 40.0 : 0.0);
    engine.Observe(Reading{"s", kStart + i * kS, v, 0}, &out, &windows);
  }
  out.clear();
  windows.clear();
  EXPECT_EQ(g_live_allocations.load(), live_after_warmup);
  EXPECT_EQ(engine.sensors(), 1u);
  EXPECT_LT(Engine::StateBytesPerSensor(c), 8192u);
}

// The gateway budget (issue 3: 20 MB for the whole agent with 1,000 sensors) needs per-sensor
// state to hold only what the sensor's config switches on.
TEST(DetectorsTest, SensorStateHoldsOnlyWhatItsConfigEnables) {
  const DetectorConfig defaults;  // `auto` only
  EXPECT_LE(Engine::StateBytesPerSensor(defaults), 1280u);
  DetectorConfig spike = defaults;
  spike.spike.enabled = true;
  EXPECT_EQ(Engine::StateBytesPerSensor(spike) - Engine::StateBytesPerSensor(defaults),
            spike.spike.window * sizeof(double));
  DetectorConfig quiet = Quiet();
  EXPECT_LT(Engine::StateBytesPerSensor(quiet), Engine::StateBytesPerSensor(defaults));

  // What the heap really holds, 1,000 sensors after 3 readings each, default config: the state,
  // the hash map and the allocator's rounding, well under the 4 KB every sensor used to cost.
  constexpr int kSensors = 1000;
  const long before = g_live_bytes.load();
  {
    Engine engine(EngineConfig{});
    std::vector<Defect> out;
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < kSensors; ++i) {
        char id[16];
        std::snprintf(id, sizeof(id), "s%04d", i);
        engine.Observe(Reading{id, kStart + round * kS, 20.0 + i, 0}, &out);
      }
    }
    ASSERT_EQ(engine.sensors(), static_cast<size_t>(kSensors));
    const long per_sensor = (g_live_bytes.load() - before) / kSensors;
    EXPECT_GE(per_sensor, static_cast<long>(Engine::StateBytesPerSensor(defaults)));
    EXPECT_LE(per_sensor, 1600) << "bytes of heap per sensor";
  }
  EXPECT_EQ(g_live_bytes.load(), before);
}

}  // namespace
}  // namespace weir::detect
