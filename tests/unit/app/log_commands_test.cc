// `weir log import / export / stats`, run as the real binary on real files.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/store/log.h"
#include "platform/instance_lock.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir::app {
namespace {

using testing::ProgramResult;
using testing::RunProgram;
using testing::TempDir;
using testing::WeirBinary;

ProgramResult Weir(std::vector<std::string> args) {
  args.insert(args.begin(), WeirBinary().string());
  return RunProgram(args);
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// NAB-style CSV: header, `YYYY-MM-DD HH:MM:SS,value`, one row every 5 minutes.
std::string NabCsv(int rows, double start = 10.0) {
  std::ostringstream out;
  out << "timestamp,value\n";
  for (int i = 0; i < rows; ++i) {
    const int minutes = i * 5;
    char ts[32];
    std::snprintf(ts, sizeof ts, "2014-04-%02d %02d:%02d:00", 1 + minutes / 1440,
                  (minutes / 60) % 24, minutes % 60);
    out << ts << "," << start + (i % 7) * 0.5 << "\n";
  }
  return out.str();
}

nlohmann::json StatsJson(const std::filesystem::path& log) {
  ProgramResult r = Weir({"log", "stats", "--log", log.string(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(LogCommands, ImportThenStatsCountsEveryReading) {
  TempDir dir;
  WriteFile(dir / "boiler.csv", NabCsv(2500));
  ProgramResult r =
      Weir({"log", "import", "--log", (dir / "log.db").string(), (dir / "boiler.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("imported 2500 readings"), std::string::npos) << r.err;

  nlohmann::json stats = StatsJson(dir / "log.db");
  EXPECT_EQ(stats["readings"], 2500);
  EXPECT_GT(stats["stored_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(stats["lanes"]["readings"]["first_seq"], 1);
  EXPECT_EQ(stats["lanes"]["readings"]["last_seq"], 2500);
  EXPECT_EQ(stats["lanes"]["readings"]["chunks"], 3);  // --batch 1000 by default
}

TEST(LogCommands, ExportedCsvRoundTripsValuesBitExactly) {
  TempDir dir;
  std::mt19937_64 rng(7);
  std::vector<double> values;
  std::ostringstream csv;
  csv << "timestamp,value,sensor\n";
  for (int i = 0; i < 3000; ++i) {
    double v;
    do {
      v = std::bit_cast<double>(rng());
    } while (!std::isfinite(v));
    values.push_back(v);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    csv << (1'600'000'000 + i) << "," << buf << ",s" << (i % 3) << "\n";
  }
  WriteFile(dir / "in.csv", csv.str());
  ASSERT_EQ(Weir({"log", "import", "--log", (dir / "log.db").string(), (dir / "in.csv").string()})
                .exit_code,
            0);

  ProgramResult r = Weir({"log", "export", "--log", (dir / "log.db").string(), "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), values.size() + 1);
  EXPECT_EQ(lines[0], "timestamp,value,sensor,quality,seq");
  for (size_t i = 0; i < values.size(); ++i) {
    std::istringstream fields(lines[i + 1]);
    std::string ts, value, sensor;
    std::getline(fields, ts, ',');
    std::getline(fields, value, ',');
    std::getline(fields, sensor, ',');
    EXPECT_EQ(std::bit_cast<uint64_t>(std::strtod(value.c_str(), nullptr)),
              std::bit_cast<uint64_t>(values[i]))
        << "line " << i + 2 << ": " << lines[i + 1];
    EXPECT_EQ(sensor, "s" + std::to_string(i % 3));
  }
}

TEST(LogCommands, ExportSelectsBySequenceRangeAndTimeRange) {
  TempDir dir;
  WriteFile(dir / "pump.csv", NabCsv(2500));
  ASSERT_EQ(Weir({"log", "import", "--log", (dir / "log.db").string(), (dir / "pump.csv").string()})
                .exit_code,
            0);
  // Sequences 1500..1502 lie inside the second chunk.
  ProgramResult by_seq = Weir({"log", "export", "--log", (dir / "log.db").string(), "--from-seq",
                               "1500", "--to-seq", "1502"});
  ASSERT_EQ(by_seq.exit_code, 0) << by_seq.err;
  std::vector<std::string> lines = Lines(by_seq.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["seq"], 1500);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["seq"], 1502);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["sensor"], "pump");

  // 2014-04-01 00:00 .. 00:10 inclusive: rows 0, 1, 2.
  ProgramResult by_time =
      Weir({"log", "export", "--log", (dir / "log.db").string(), "--format", "csv", "--from",
            "2014-04-01T00:00:00Z", "--to", "2014-04-01T00:10:00Z"});
  ASSERT_EQ(by_time.exit_code, 0) << by_time.err;
  EXPECT_EQ(Lines(by_time.out).size(), 4u) << by_time.out;
}

TEST(LogCommands, ImportReportsBadLinesByNumberAndKeepsTheGoodOnes) {
  TempDir dir;
  WriteFile(dir / "mixed.csv",
            "timestamp,value\n"
            "2014-04-01 00:00:00,1.5\n"
            "2014-04-01 00:05:00,abc\n"
            "2014-04-01 00:10:00,2.5\n"
            "not-a-time,3.5\n"
            "2014-04-01 00:20:00,4.5\n");
  ProgramResult r =
      Weir({"log", "import", "--log", (dir / "log.db").string(), (dir / "mixed.csv").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 line(s) rejected"), std::string::npos) << r.err;
  EXPECT_EQ(StatsJson(dir / "log.db")["readings"], 3);
}

TEST(LogCommands, StrictImportStopsAtTheFirstBadLineAndKeepsWhatCameBefore) {
  TempDir dir;
  WriteFile(dir / "a.csv", NabCsv(10));
  WriteFile(dir / "b.csv", "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,x\n");
  WriteFile(dir / "c.csv", NabCsv(10));
  ProgramResult r =
      Weir({"log", "import", "--strict", "--log", (dir / "log.db").string(),
            (dir / "a.csv").string(), (dir / "b.csv").string(), (dir / "c.csv").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("b.csv"), std::string::npos) << r.err;
  EXPECT_EQ(StatsJson(dir / "log.db")["readings"], 11);
}

TEST(LogCommands, ImportsJsonLinesWithTheSensorFromTheFileName) {
  TempDir dir;
  WriteFile(dir / "line-3.jsonl",
            "{\"ts\": \"2024-05-01T00:00:00Z\", \"value\": 1.25}\n"
            "{\"ts\": 1714521660000, \"value\": 2.5, \"sensor\": \"other\"}\n");
  ProgramResult r =
      Weir({"log", "import", "--log", (dir / "log.db").string(), (dir / "line-3.jsonl").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ProgramResult out = Weir({"log", "export", "--log", (dir / "log.db").string()});
  std::vector<std::string> lines = Lines(out.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["sensor"], "line-3");
  EXPECT_EQ(nlohmann::json::parse(lines[0])["value"], 1.25);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["sensor"], "other");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["ts"], "2024-05-01T00:01:00Z");
}

TEST(LogCommands, ImportIntoALogAnAgentHoldsExitsWithTheLockedCode) {
  TempDir dir;
  WriteFile(dir / "a.csv", NabCsv(10));
  auto lock = platform::InstanceLock::Acquire(dir.path());
  ASSERT_TRUE(lock.ok());
  ProgramResult r =
      Weir({"log", "import", "--log", (dir / "log.db").string(), (dir / "a.csv").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST(LogCommands, StatsOfAMissingLogIsAUsageErrorNamingThePath) {
  TempDir dir;
  ProgramResult r = Weir({"log", "stats", "--log", (dir / "nope.db").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("nope.db"), std::string::npos) << r.err;
}

TEST(LogCommands, BadFlagsAreUsageErrorsThatNameTheFlag) {
  TempDir dir;
  ProgramResult unknown = Weir({"log", "stats", "--bogus"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE((unknown.out + unknown.err).find("--bogus"), std::string::npos);

  ProgramResult bad_time =
      Weir({"log", "export", "--log", (dir / "x.db").string(), "--from", "yesterday"});
  EXPECT_EQ(bad_time.exit_code, 2);
  EXPECT_NE(bad_time.err.find("--from"), std::string::npos) << bad_time.err;

  ProgramResult bad_format = Weir({"log", "export", "--format", "xml"});
  EXPECT_EQ(bad_format.exit_code, 2);
  EXPECT_NE((bad_format.out + bad_format.err).find("--format"), std::string::npos);
}

TEST(LogCommands, EveryCommandHasHelpThatExitsZero) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                        {"log", "--help"},
                                        {"log", "stats", "--help"},
                                        {"log", "export", "--help"},
                                        {"log", "import", "--help"},
                                        {"log", "dead-letters", "--help"}}) {
    ProgramResult r = Weir(args);
    EXPECT_EQ(r.exit_code, 0) << args.back();
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
}

// A log holding dead letters, written through the store as the agent would.
void WriteDeadLetters(const std::filesystem::path& path) {
  SystemClock clock;
  store::LogOptions o;
  o.path = path;
  auto log = store::Log::Open(o, clock);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto letter = [](std::string source, std::string code, std::string topic, std::string head) {
    store::DeadLetter d;
    d.time_us = 1'714'521'600'000'000;  // 2024-05-01T00:00:00Z
    d.source = std::move(source);
    d.reason_code = std::move(code);
    d.topic = std::move(topic);
    d.reason = "reason for " + d.reason_code;
    d.payload_bytes = head.size() + 1000;
    d.payload_head = std::move(head);
    return d;
  };
  ASSERT_TRUE((*log)->AppendDeadLetter(letter("ingest", "malformed", "sensors/a", "{bad")).ok());
  ASSERT_TRUE((*log)
                  ->AppendDeadLetter(
                      letter("ingest", "malformed", "sensors/b", std::string("a\x00\n\xff", 4)))
                  .ok());
  ASSERT_TRUE((*log)->AppendDeadLetter(letter("upstream", "rejected", "up/gw-17", "env")).ok());
  ASSERT_TRUE((*log)->Commit().ok());
}

TEST(LogCommands, DeadLettersPrintsOneEscapedLinePerLetterAndCountsPerReason) {
  TempDir dir;
  WriteDeadLetters(dir / "log.db");
  ProgramResult r = Weir({"log", "dead-letters", "--log", (dir / "log.db").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0],
            "1 2024-05-01T00:00:00Z ingest malformed sensors/a: reason for malformed | {bad "
            "(1004 bytes)");
  EXPECT_NE(lines[1].find("| a\\x00\\x0a\\xff (1004 bytes)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("3 2024-05-01T00:00:00Z upstream rejected up/gw-17: "), std::string::npos)
      << lines[2];
  EXPECT_EQ(lines[3], "dead letters: 3 kept, 3 ever; by reason: malformed 2, rejected 1");
}

TEST(LogCommands, DeadLettersFiltersByReasonAndLimitsToTheNewest) {
  TempDir dir;
  WriteDeadLetters(dir / "log.db");
  ProgramResult r = Weir({"log", "dead-letters", "--log", (dir / "log.db").string(), "--reason",
                          "malformed", "--limit", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["letters"].size(), 1u);
  EXPECT_EQ(j["letters"][0]["id"], 2);
  EXPECT_EQ(j["letters"][0]["topic"], "sensors/b");
  EXPECT_EQ(j["letters"][0]["payload_head_hex"], "61000aff");
  EXPECT_EQ(j["letters"][0]["payload_bytes"], 1004);
  EXPECT_EQ(j["matched"], 2);
  EXPECT_EQ(j["stats"]["total"], 3);
  EXPECT_EQ(j["stats"]["rows"], 3);
  EXPECT_EQ(j["stats"]["by_reason"]["malformed"], 2);
  EXPECT_EQ(j["stats"]["by_reason"]["rejected"], 1);
}

TEST(LogCommands, StatsIncludeDeadLetterCounts) {
  TempDir dir;
  WriteDeadLetters(dir / "log.db");
  nlohmann::json stats = StatsJson(dir / "log.db");
  EXPECT_EQ(stats["dead_letters"]["total"], 3);
  EXPECT_EQ(stats["dead_letters"]["by_reason"]["malformed"], 2);
  ProgramResult text = Weir({"log", "stats", "--log", (dir / "log.db").string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("dead letters   3 ever, 3 kept: malformed 2, rejected 1"),
            std::string::npos)
      << text.out;
}

TEST(LogCommands, DeadLettersOfALogWithoutAnyIsEmptyWithZeroCounts) {
  TempDir dir;
  WriteFile(dir / "a.csv", NabCsv(10));
  ASSERT_EQ(Weir({"log", "import", "--log", (dir / "log.db").string(), (dir / "a.csv").string()})
                .exit_code,
            0);
  ProgramResult r = Weir({"log", "dead-letters", "--log", (dir / "log.db").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "dead letters: 0 kept, 0 ever\n");
  ProgramResult missing = Weir({"log", "dead-letters", "--log", (dir / "nope.db").string()});
  EXPECT_EQ(missing.exit_code, 2);
}

}  // namespace
}  // namespace weir::app
