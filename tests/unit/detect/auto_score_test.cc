// The `auto` score: stays in [0, 1], quiet on noise, high at a spike or a step, bounded state,
// and on NAB files whose anomaly it must find (skips when NAB is absent).
#include "agent/detect/auto_score.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/support/test_support.h"

namespace weir::detect {
namespace {

std::vector<double> Noise(int n, uint64_t seed = 11) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> v(n);
  for (double& x : v) x = 50.0 + noise(rng);
  return v;
}

std::vector<double> Scores(const std::vector<double>& values, const AutoConfig& c = {}) {
  AutoScorer scorer(c);
  std::vector<double> out;
  out.reserve(values.size());
  for (double v : values) out.push_back(scorer.Observe(v));
  return out;
}

TEST(AutoScoreTest, StateIsFixedSizeAndHeapFree) {
  static_assert(std::is_trivially_copyable_v<AutoScorer>);
  EXPECT_LE(sizeof(AutoScorer), 512u);
}

TEST(AutoScoreTest, ScoresStayInUnitIntervalOnAnyInput) {
  std::vector<double> v = Noise(2000);
  v[500] = 1e300;
  v[900] = -1e300;
  std::fill(v.begin() + 1000, v.begin() + 1500, 3.0);  // constant stretch
  for (double s : Scores(v)) {
    ASSERT_TRUE(std::isfinite(s));
    ASSERT_GE(s, 0.0);
    ASSERT_LE(s, 1.0);
  }
}

// The alert threshold the engine uses by default (AutoDetectorConfig::threshold).
constexpr double kAlert = 0.95;

TEST(AutoScoreTest, NoiseOnlyStaysBelowTheAlertThreshold) {
  const auto s = Scores(Noise(50'000));
  EXPECT_LT(*std::max_element(s.begin(), s.end()), kAlert);
  // New extremes of pure noise do score (that is what finds NAB's anomalies), but rarely.
  EXPECT_LT(std::count_if(s.begin(), s.end(), [](double x) { return x >= 0.5; }), 250);
}

TEST(AutoScoreTest, SpikeAtTScoresHighestAtT) {
  std::vector<double> v = Noise(5000);
  v[3000] += 12.0;
  const auto s = Scores(v);
  EXPECT_EQ(std::max_element(s.begin(), s.end()) - s.begin(), 3000);
  EXPECT_GE(s[3000], kAlert);
}

TEST(AutoScoreTest, StepAtTScoresHighWithinAFewReadings) {
  std::vector<double> v = Noise(5000);
  for (size_t i = 3000; i < v.size(); ++i) v[i] -= 10.0;
  const auto s = Scores(v);
  const auto first = std::find_if(s.begin(), s.end(), [](double x) { return x >= kAlert; });
  ASSERT_NE(first, s.end());
  EXPECT_GE(first - s.begin(), 3000);
  EXPECT_LE(first - s.begin(), 3005);
}

TEST(AutoScoreTest, OneIncidentAlarmsOnceThenHoldsOff) {
  std::vector<double> v = Noise(5000);
  for (size_t i = 3000; i < 3300; ++i) v[i] += 0.2 * static_cast<double>(i - 3000);  // a ramp
  AutoScorer scorer;
  int alarms_in_ramp = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    scorer.Observe(v[i]);
    if (i >= 3000 && i < 3300 && scorer.alarmed()) ++alarms_in_ramp;
  }
  // Every reading of the ramp is a new maximum; the hold-off turns them into one alarm.
  EXPECT_EQ(alarms_in_ramp, 1);
}

TEST(AutoScoreTest, WarmupReadingsScoreZero) {
  AutoConfig c;
  std::vector<double> v(c.warmup, 0.0);
  v.back() = 1e6;
  for (double s : Scores(v, c)) EXPECT_EQ(s, 0.0);
}

// NAB: reads data/<rel> and its labelled windows; returns (scores, in_window flags).
struct NabFile {
  std::vector<double> scores;
  std::vector<bool> in_window;
  size_t probation = 0;
};

NabFile RunNab(const std::filesystem::path& nab, const std::string& rel) {
  NabFile f;
  std::ifstream labels(nab / "labels" / "combined_windows.json");
  const auto windows = nlohmann::json::parse(labels).at(rel);
  std::ifstream in(nab / "data" / rel);
  std::string line;
  std::getline(in, line);  // header
  AutoScorer scorer;
  while (std::getline(in, line)) {
    const size_t comma = line.find(',');
    const std::string ts = line.substr(0, comma);
    f.scores.push_back(scorer.Observe(std::stod(line.substr(comma + 1))));
    bool inside = false;
    for (const auto& w : windows) {
      // Labels read "2014-02-19 10:50:00.000000"; data rows "2014-02-19 10:50:00".
      inside |= ts >= w[0].get<std::string>().substr(0, 19) &&
                ts <= w[1].get<std::string>().substr(0, 19);
    }
    f.in_window.push_back(inside);
  }
  f.probation = std::min<size_t>(f.scores.size() * 15 / 100, 750);
  return f;
}

TEST(AutoScoreTest, NabFilesWithClearAnomaliesPeakInsideALabelledWindow) {
  const auto nab = weir::testing::NabDir();
  if (!nab) GTEST_SKIP() << weir::testing::NabMissingMessage();
  for (const std::string rel : {"artificialWithAnomaly/art_daily_jumpsup.csv",
                                "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
                                "realKnownCause/ec2_request_latency_system_failure.csv"}) {
    const NabFile f = RunNab(*nab, rel);
    ASSERT_GT(f.scores.size(), f.probation) << rel;
    const auto peak = std::max_element(f.scores.begin() + f.probation, f.scores.end());
    EXPECT_TRUE(f.in_window[peak - f.scores.begin()])
        << rel << ": peak at row " << (peak - f.scores.begin());
  }
}

TEST(AutoScoreTest, NabNoAnomalyFilesStayQuiet) {
  const auto nab = weir::testing::NabDir();
  if (!nab) GTEST_SKIP() << weir::testing::NabMissingMessage();
  for (const std::string rel :
       {"artificialNoAnomaly/art_daily_no_noise.csv", "artificialNoAnomaly/art_flatline.csv",
        "artificialNoAnomaly/art_noisy.csv"}) {
    const NabFile f = RunNab(*nab, rel);
    EXPECT_LT(*std::max_element(f.scores.begin() + f.probation, f.scores.end()), kAlert) << rel;
  }
}

}  // namespace
}  // namespace weir::detect
