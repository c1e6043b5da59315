// `weir detect` offline: rows out match rows in with the input's own timestamp text, directory
// trees are mirrored, bad input is exit 2 naming the file and line, and plots are drawn.
#include "agent/app/detect_command.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "agent/app/exit_codes.h"
#include "tests/support/test_support.h"

namespace weir::app {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A NAB-style series: 400 readings, one every 5 minutes, a spike at row 300.
std::string Series() {
  std::ostringstream s;
  s << "timestamp,value\r\n";
  for (int i = 0; i < 400; ++i) {
    const int minutes = i * 5;
    char ts[32];
    std::snprintf(ts, sizeof(ts), "2014-04-%02d %02d:%02d:00", 1 + minutes / 1440,
                  minutes / 60 % 24, minutes % 60);
    s << ts << "," << (i == 300 ? 90.0 : 20.0 + (i * 7 % 11) * 0.1) << "\r\n";
  }
  return s.str();
}

TEST(DetectCommandTest, WritesOneScoredRowPerInputRowWithTheOriginalText) {
  testing::TempDir dir;
  Write(dir / "in.csv", Series());
  DetectOptions o;
  o.input = dir / "in.csv";
  o.output = dir / "out.csv";
  o.quiet = true;
  ASSERT_EQ(RunDetect(o), kExitOk);
  const auto lines = Lines(o.output);
  ASSERT_EQ(lines.size(), 401u);
  EXPECT_EQ(lines[0], "timestamp,value,anomaly_score,incident");
  EXPECT_EQ(lines[1], "2014-04-01 00:00:00,20,0.000000,0");
  EXPECT_EQ(lines[301].substr(0, 23), "2014-04-02 01:00:00,90,");
  EXPECT_GT(std::stod(lines[301].substr(23)), 0.95);
}

TEST(DetectCommandTest, IncidentColumnIsOneWhileOpenAndDefectsHaveOpenAndClose) {
  testing::TempDir dir;
  Write(dir / "in.csv", Series());
  DetectOptions o;
  o.input = dir / "in.csv";
  o.output = dir / "out.csv";
  o.defects = dir / "defects.csv";
  o.engine.incident_close_after_us = 600 * detect::kSecond;  // two 5-minute rows
  o.quiet = true;
  ASSERT_EQ(RunDetect(o), kExitOk);
  const auto lines = Lines(o.output);
  ASSERT_EQ(lines.size(), 401u);
  for (size_t i = 1; i < lines.size(); ++i) {
    const char want = i == 301 || i == 302 ? '1' : '0';  // closes at the row 600 s on
    EXPECT_EQ(lines[i].back(), want) << "row " << i << ": " << lines[i];
  }
  const auto defects = Lines(o.defects);
  ASSERT_EQ(defects.size(), 3u);
  EXPECT_NE(defects[1].find(",open,"), std::string::npos) << defects[1];
  EXPECT_NE(defects[2].find(",close,"), std::string::npos) << defects[2];
  const std::string id = defects[1].substr(defects[1].find(",open,") + 6, 16);
  EXPECT_NE(defects[2].find(id), std::string::npos);
}

// A machine: timestamp and three channels; y follows x, z follows x until row 450, then runs
// against it (a broken correlation, every channel within its own range).
std::string MachineCsv() {
  std::ostringstream s;
  s << "timestamp,x,y,z\n";
  std::mt19937_64 rng(9);
  std::normal_distribution<double> n(0, 1);
  for (int i = 0; i < 600; ++i) {
    const double f = std::sin(i / 20.0) + 0.3 * n(rng);
    const double z = i >= 450 && i < 520 ? -f : f;
    char line[160];
    std::snprintf(line, sizeof(line), "2024-01-01 %02d:%02d:%02d,%.4f,%.4f,%.4f\n", i / 3600,
                  i / 60 % 60, i % 60, f + 0.05 * n(rng), 2 * f + 10 + 0.05 * n(rng),
                  z + 0.05 * n(rng));
    s << line;
  }
  return s.str();
}

TEST(DetectCommandTest, AMachineCsvIsOneGroupWithScoreIncidentAndTopSensors) {
  testing::TempDir dir;
  Write(dir / "pump.csv", MachineCsv());
  DetectOptions o;
  o.input = dir / "pump.csv";
  o.output = dir / "out.csv";
  o.defects = dir / "defects.csv";
  o.plot = dir / "plot.svg";
  o.group.learn_rows = 300;
  o.engine.incident_close_after_us = 30 * detect::kSecond;
  o.quiet = true;
  ASSERT_EQ(RunDetect(o), kExitOk);
  const auto lines = Lines(o.output);
  ASSERT_EQ(lines.size(), 601u);
  EXPECT_EQ(lines[0], "timestamp,anomaly_score,incident,top_sensors");
  EXPECT_EQ(lines[1], "2024-01-01 00:00:00,0.000000,0,");  // learning
  int open_rows = 0, first_open = -1;
  for (int i = 1; i <= 600; ++i) {
    if (lines[i].find(",1,") == std::string::npos) continue;
    ++open_rows;
    if (first_open < 0) first_open = i - 1;
  }
  EXPECT_GE(first_open, 450);
  EXPECT_LT(first_open, 460);
  EXPECT_GE(open_rows, 60);
  EXPECT_LE(open_rows, 120);
  EXPECT_EQ(lines[first_open + 1].substr(lines[first_open + 1].rfind(',') + 1, 1), "z")
      << lines[first_open + 1];
  const auto defects = Lines(o.defects);
  ASSERT_EQ(defects.size(), 3u);  // header, open, close
  EXPECT_NE(defects[1].find(",pump,"), std::string::npos);
  EXPECT_NE(defects[1].find(",open,"), std::string::npos);
  EXPECT_NE(defects[2].find(",close,"), std::string::npos);
  std::ifstream plot(o.plot);
  const std::string svg((std::istreambuf_iterator<char>(plot)), {});
  EXPECT_NE(svg.find(">z</text>"), std::string::npos);         // a strip per channel
  EXPECT_NE(svg.find("#e53935"), std::string::npos);           // the incident band
  EXPECT_NE(svg.find("2024-01-01 00:0"), std::string::npos);   // dates on the time axis
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // the threshold
}

TEST(DetectCommandTest, DirectoryInputIsMirroredAndDefectsAndPlotAreWritten) {
  testing::TempDir dir;
  Write(dir / "data" / "a" / "one.csv", Series());
  Write(dir / "data" / "b" / "two.csv", Series());
  Write(dir / "labels.json",
        R"({"a/one.csv": [["2014-04-02 00:00:00.000000", "2014-04-02 02:00:00.000000"]]})");
  DetectOptions o;
  o.input = dir / "data";
  o.output = dir / "out";
  o.defects = dir / "defects.csv";
  o.plot = dir / "plot.html";
  o.plot_series = "a/one.csv";
  o.labels = dir / "labels.json";
  o.quiet = true;
  ASSERT_EQ(RunDetect(o), kExitOk);
  EXPECT_EQ(Lines(dir / "out" / "a" / "one.csv").size(), 401u);
  EXPECT_EQ(Lines(dir / "out" / "b" / "two.csv").size(), 401u);
  const auto defects = Lines(o.defects);
  ASSERT_EQ(defects.size(), 3u);  // header and the spike in each file
  EXPECT_NE(defects[1].find("anomaly"), std::string::npos);
  std::ifstream plot(o.plot);
  const std::string html((std::istreambuf_iterator<char>(plot)), {});
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<circle"), std::string::npos);  // the detection
  EXPECT_NE(html.find("<rect"), std::string::npos);    // the labelled window
}

TEST(DetectCommandTest, BadValueIsUsageErrorNamingFileAndLine) {
  testing::TempDir dir;
  Write(dir / "in.csv", "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n");
  DetectOptions o;
  o.input = dir / "in.csv";
  o.output = dir / "out.csv";
  o.quiet = true;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDetect(o), kExitUsage);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("in.csv:3"), std::string::npos) << err;
}

TEST(DetectCommandTest, MissingInputIsUsageError) {
  testing::TempDir dir;
  DetectOptions o;
  o.input = dir / "nope.csv";
  o.output = dir / "out.csv";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDetect(o), kExitUsage);
  EXPECT_NE(::testing::internal::GetCapturedStderr().find("nope.csv"), std::string::npos);
}

}  // namespace
}  // namespace weir::app
