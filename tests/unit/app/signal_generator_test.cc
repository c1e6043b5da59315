// SignalGenerator: determinism, timing, and that each injected fault is where its record says.
#include "agent/app/signal_generator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "agent/app/simulate_command.h"

namespace weir::app {
namespace {

constexpr TimeMicros kStart = 1'700'000'000'000'000;

SignalOptions Options(uint64_t seed = 7) {
  SignalOptions o;
  o.sensors = 10;
  o.seed = seed;
  o.start_us = kStart;
  o.step_us = 1'000'000;
  return o;
}

struct Point {
  uint64_t n;
  TimeMicros t;
  double v;
};

struct Generated {
  std::map<std::string, std::vector<Point>> by_sensor;
  std::vector<FaultRecord> faults;
};

Generated Generate(const SignalOptions& o, int readings) {
  auto gen = SignalGenerator::Create(o);
  EXPECT_TRUE(gen.ok()) << gen.status().ToString();
  Generated run;
  for (int i = 0; i < readings; ++i) {
    const SimReading r = gen->Next();
    run.by_sensor[std::string(r.sensor)].push_back({r.n, r.time_us, r.value});
    for (FaultRecord& f : gen->TakeFaults()) run.faults.push_back(std::move(f));
  }
  return run;
}

// Mean and standard deviation of the `count` readings before time `t`.
std::pair<double, double> LevelBefore(const std::vector<Point>& points, TimeMicros t, int count) {
  std::vector<double> v;
  for (const Point& p : points) {
    if (p.t < t) v.push_back(p.v);
  }
  if (static_cast<int>(v.size()) > count) v.erase(v.begin(), v.end() - count);
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, std::sqrt(ss / static_cast<double>(v.size()))};
}

std::vector<Point> Between(const std::vector<Point>& points, TimeMicros a, TimeMicros b) {
  std::vector<Point> out;
  for (const Point& p : points) {
    if (p.t >= a && p.t <= b) out.push_back(p);
  }
  return out;
}

Generated FaultyRun(FaultKind kind) {
  SignalOptions o = Options();
  o.faults = {kind};
  o.fault_rate = 0.01;
  Generated run = Generate(o, 50'000);
  // Faults still running when the run stopped are cut short: leave them out.
  std::erase_if(run.faults, [&](const FaultRecord& f) {
    return f.end_us >= run.by_sensor.at(f.sensor).back().t;
  });
  return run;
}

TEST(SignalGenerator, SameSeedGivesSameReadings) {
  auto a = SignalGenerator::Create(Options(42));
  auto b = SignalGenerator::Create(Options(42));
  auto c = SignalGenerator::Create(Options(43));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  int differ_from_c = 0;
  for (int i = 0; i < 1000; ++i) {
    const SimReading x = a->Next(), y = b->Next(), z = c->Next();
    ASSERT_EQ(x.sensor, y.sensor);
    ASSERT_EQ(x.time_us, y.time_us);
    ASSERT_EQ(x.value, y.value);
    if (x.value != z.value) ++differ_from_c;
  }
  EXPECT_GT(differ_from_c, 990);
}

TEST(SignalGenerator, SensorsTakeTurnsAndTimeAdvancesByTheStep) {
  const Generated run = Generate(Options(), 1000);
  ASSERT_EQ(run.by_sensor.size(), 10u);
  for (const auto& [sensor, points] : run.by_sensor) {
    ASSERT_EQ(points.size(), 100u) << sensor;
    for (size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i].n, i);
      EXPECT_EQ(points[i].t, kStart + static_cast<TimeMicros>(i) * 1'000'000);
    }
  }
}

TEST(SignalGenerator, NoFaultsAreInjectedUnlessAsked) {
  const Generated run = Generate(Options(), 20'000);
  EXPECT_TRUE(run.faults.empty());
}

TEST(SignalGenerator, ValuesStayFiniteWithEveryFaultKind) {
  SignalOptions o = Options();
  o.faults = *ParseFaultKinds("spike,drift,stuck,dropout,step");
  o.fault_rate = 0.05;
  const Generated run = Generate(o, 100'000);
  EXPECT_GT(run.faults.size(), 100u);
  for (const auto& [sensor, points] : run.by_sensor) {
    for (size_t i = 0; i < points.size(); ++i) {
      ASSERT_TRUE(std::isfinite(points[i].v)) << sensor;
      if (i > 0) {
        ASSERT_GT(points[i].n, points[i - 1].n) << sensor;
      }
    }
  }
}

TEST(SignalGenerator, ASpikeIsFarFromTheLocalLevel) {
  const Generated run = FaultyRun(FaultKind::kSpike);
  ASSERT_GT(run.faults.size(), 10u);
  for (const FaultRecord& f : run.faults) {
    EXPECT_EQ(f.start_us, f.end_us);
    const auto& points = run.by_sensor.at(f.sensor);
    const auto [mean, sd] = LevelBefore(points, f.start_us, 20);
    const auto spike = Between(points, f.start_us, f.end_us);
    ASSERT_EQ(spike.size(), 1u);
    EXPECT_GT(std::abs(spike[0].v - mean), 8 * sd) << f.sensor << " at " << f.start_us;
  }
}

TEST(SignalGenerator, AStuckSensorRepeatsOneValue) {
  const Generated run = FaultyRun(FaultKind::kStuck);
  ASSERT_GT(run.faults.size(), 10u);
  for (const FaultRecord& f : run.faults) {
    const auto stuck = Between(run.by_sensor.at(f.sensor), f.start_us, f.end_us);
    ASSERT_GE(stuck.size(), 20u);
    for (const Point& p : stuck) EXPECT_EQ(p.v, stuck.front().v) << f.sensor;
  }
}

TEST(SignalGenerator, ADropoutHasNoReadings) {
  const Generated run = FaultyRun(FaultKind::kDropout);
  ASSERT_GT(run.faults.size(), 10u);
  for (const FaultRecord& f : run.faults) {
    const auto& points = run.by_sensor.at(f.sensor);
    EXPECT_TRUE(Between(points, f.start_us, f.end_us).empty()) << f.sensor;
    EXPECT_FALSE(Between(points, f.start_us - 1'000'000, f.start_us - 1'000'000).empty());
  }
}

TEST(SignalGenerator, AStepShiftsTheMean) {
  const Generated run = FaultyRun(FaultKind::kStep);
  ASSERT_GT(run.faults.size(), 10u);
  for (const FaultRecord& f : run.faults) {
    const auto& points = run.by_sensor.at(f.sensor);
    const auto [mean, sd] = LevelBefore(points, f.start_us, 20);
    const auto step = Between(points, f.start_us, f.end_us);
    ASSERT_GE(step.size(), 20u);
    double inside = 0;
    for (const Point& p : step) inside += p.v;
    inside /= static_cast<double>(step.size());
    EXPECT_GT(std::abs(inside - mean), 4 * sd) << f.sensor << " at " << f.start_us;
  }
}

TEST(SignalGenerator, ADriftRampEndsFarFromWhereItStarted) {
  const Generated run = FaultyRun(FaultKind::kDrift);
  ASSERT_GT(run.faults.size(), 10u);
  for (const FaultRecord& f : run.faults) {
    const auto& points = run.by_sensor.at(f.sensor);
    const auto [mean, sd] = LevelBefore(points, f.start_us, 20);
    const auto ramp = Between(points, f.start_us, f.end_us);
    ASSERT_GE(ramp.size(), 20u);
    EXPECT_GT(std::abs(ramp.back().v - mean), 4 * sd) << f.sensor;
    EXPECT_LT(std::abs(ramp.front().v - mean), std::abs(ramp.back().v - mean)) << f.sensor;
  }
}

TEST(SignalGenerator, FaultRecordsAreHandedOutOnce) {
  SignalOptions o = Options();
  o.faults = {FaultKind::kSpike};
  o.fault_rate = 0.5;
  auto gen = SignalGenerator::Create(o);
  ASSERT_TRUE(gen.ok());
  size_t taken = 0;
  for (int i = 0; i < 10'000; ++i) {
    gen->Next();
    taken += gen->TakeFaults().size();
  }
  EXPECT_GT(taken, 0u);
  EXPECT_TRUE(gen->TakeFaults().empty());
}

TEST(SignalGenerator, BadOptionsAreRejectedNamingTheOption) {
  SignalOptions o = Options();
  o.sensors = 0;
  EXPECT_NE(SignalGenerator::Create(o).status().message().find("sensors"), std::string::npos);
  o = Options();
  o.step_us = 0;
  EXPECT_FALSE(SignalGenerator::Create(o).ok());
  o = Options();
  o.fault_rate = 2;
  EXPECT_FALSE(SignalGenerator::Create(o).ok());
}

TEST(SignalGenerator, UnknownFaultKindIsNamed) {
  auto kinds = ParseFaultKinds("spike,wobble");
  ASSERT_FALSE(kinds.ok());
  EXPECT_NE(kinds.status().message().find("wobble"), std::string::npos);
  EXPECT_EQ(ParseFaultKinds("step,dropout")->size(), 2u);
}

TEST(SimulateDurations, DurationTextAcceptsUnitsAndRejectsJunk) {
  using std::chrono::microseconds;
  EXPECT_EQ(ParseDurationText("60s"), microseconds(60'000'000));
  EXPECT_EQ(ParseDurationText("250ms"), microseconds(250'000));
  EXPECT_EQ(ParseDurationText("1.5"), microseconds(1'500'000));
  EXPECT_EQ(ParseDurationText("2h"), microseconds(7'200'000'000));
  EXPECT_FALSE(ParseDurationText("-1s"));
  EXPECT_FALSE(ParseDurationText("abc"));
  EXPECT_FALSE(ParseDurationText("5 parsecs"));
}

}  // namespace
}  // namespace weir::app
