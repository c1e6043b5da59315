// `weir log stats` on damaged logs: truncated at random offsets and with random bytes flipped,
// 120 variants. Every run must succeed (exit 0, valid JSON), never report more readings than
// were written, and leave a log that a second run finds clean and can export.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir::app {
namespace {

using testing::ProgramResult;
using testing::RunProgram;
using testing::TempDir;
using testing::WeirBinary;

constexpr int kReadings = 20'000;  // 20 chunks of 1,000

ProgramResult Weir(std::vector<std::string> args) {
  args.insert(args.begin(), WeirBinary().string());
  return RunProgram(args);
}

class LogCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    // A noisy random walk, so the log spans many pages.
    std::mt19937 rng(42);
    std::normal_distribution<double> step(0.0, 0.5);
    std::ostringstream csv;
    csv << "timestamp,value\n";
    double v = 20.0;
    for (int i = 0; i < kReadings; ++i) {
      v += step(rng);
      csv << 1'500'000'000 + i * 60 << "," << std::round(v * 1000) / 1000 << "\n";
    }
    testing::WriteFileBytes(dir_ / "sensor.csv", csv.str());
    ProgramResult r =
        Weir({"log", "import", "--no-progress", "--log", (dir_ / "pristine" / "log.db").string(),
              (dir_ / "sensor.csv").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    pristine_ = testing::ReadFileBytes(dir_ / "pristine" / "log.db");
    ASSERT_GT(pristine_.size(), 16384u);
  }

  // Runs stats twice and export once on a damaged copy and checks the outcome.
  void CheckVariant(int n, const std::string& bytes, const std::string& what) {
    const std::filesystem::path variant_dir = dir_ / ("v" + std::to_string(n));
    std::filesystem::create_directories(variant_dir);
    const std::filesystem::path log = variant_dir / "log.db";
    testing::WriteFileBytes(log, bytes);
    SCOPED_TRACE("variant " + std::to_string(n) + ": " + what);

    ProgramResult first = Weir({"log", "stats", "--json", "--log", log.string()});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    nlohmann::json stats = nlohmann::json::parse(first.out, nullptr, false);
    ASSERT_FALSE(stats.is_discarded()) << first.out;
    EXPECT_LE(stats["readings"].get<uint64_t>(), static_cast<uint64_t>(kReadings));
    ASSERT_TRUE(stats.contains("recovery"));

    ProgramResult second = Weir({"log", "stats", "--json", "--log", log.string()});
    ASSERT_EQ(second.exit_code, 0) << second.err;
    nlohmann::json again = nlohmann::json::parse(second.out, nullptr, false);
    ASSERT_FALSE(again.is_discarded());
    EXPECT_EQ(again["recovery"]["rows_quarantined"], 0) << "damage must be set aside once";
    EXPECT_EQ(again["readings"], stats["readings"]);

    ProgramResult exported = Weir({"log", "export", "--format", "csv", "--log", log.string()});
    EXPECT_EQ(exported.exit_code, 0) << exported.err;
    std::filesystem::remove_all(variant_dir);
  }

  TempDir dir_;
  std::string pristine_;
};

TEST_F(LogCorruption, TruncatedAtRandomOffsetsStatsAlwaysSucceeds) {
  std::mt19937 rng(1234);
  for (int n = 0; n < 60; ++n) {
    const size_t cut = std::uniform_int_distribution<size_t>(0, pristine_.size() - 1)(rng);
    CheckVariant(n, pristine_.substr(0, cut), "truncated to " + std::to_string(cut));
  }
}

TEST_F(LogCorruption, RandomBytesFlippedStatsAlwaysSucceeds) {
  std::mt19937 rng(5678);
  for (int n = 0; n < 60; ++n) {
    std::string bytes = pristine_;
    const int flips = std::uniform_int_distribution<int>(1, 64)(rng);
    for (int i = 0; i < flips; ++i) {
      const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng);
      bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
    }
    CheckVariant(100 + n, bytes, std::to_string(flips) + " bytes flipped");
  }
}

TEST_F(LogCorruption, AZeroedPageIsQuarantinedAndTheRestKept) {
  std::string bytes = pristine_;
  const size_t page = 4096;
  const size_t middle = (bytes.size() / page / 2) * page;
  std::fill(bytes.begin() + static_cast<long>(middle),
            bytes.begin() + static_cast<long>(middle + page), '\0');
  const std::filesystem::path log = dir_ / "zeroed" / "log.db";
  std::filesystem::create_directories(log.parent_path());
  testing::WriteFileBytes(log, bytes);
  ProgramResult r = Weir({"log", "stats", "--json", "--log", log.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json stats = nlohmann::json::parse(r.out);
  EXPECT_GT(stats["readings"].get<uint64_t>(), 0u) << "the intact chunks are kept";
  EXPECT_LT(stats["readings"].get<uint64_t>(), static_cast<uint64_t>(kReadings));
  EXPECT_FALSE(stats["recovery"]["integrity_ok"].get<bool>());
  // The loss is reported and announced: damaged gaps in the log, in the report and the text.
  EXPECT_GT(stats["recovery"]["damaged_gaps"].get<uint64_t>(), 0u) << r.out;
  EXPECT_GT(stats["gaps"]["damaged"].get<uint64_t>(), 0u) << r.out;
  EXPECT_EQ(stats["gaps"]["damaged_records"].get<uint64_t>() + stats["readings"].get<uint64_t>(),
            static_cast<uint64_t>(kReadings))
      << "every lost reading is announced by a damaged gap";
  EXPECT_GT(stats["bytes"]["readings"].get<uint64_t>(), 0u);
  ProgramResult text = Weir({"log", "stats", "--log", log.string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("gap records"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace weir::app
