// The NAB-style CSV reader: header detection, columns, line errors, big files, the NAB corpus.
#include "agent/codec/csv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "agent/codec/sensor_id.h"
#include "tests/support/test_support.h"

namespace weir::codec {
namespace {

constexpr TimeMicros kApril2014 = 1'396'310'400'000'000;  // 2014-04-01T00:00:00Z

struct ReadAll {
  std::vector<Reading> readings;
  std::vector<Status> errors;
};

ReadAll Drain(CsvReader& reader) {
  ReadAll all;
  for (;;) {
    Reading r;
    auto next = reader.Next(&r);
    if (!next.ok()) {
      all.errors.push_back(next.status());
      if (next.status().code() != StatusCode::kInvalidArgument) break;
      continue;
    }
    if (!*next) break;
    all.readings.push_back(r);
  }
  return all;
}

ReadAll DrainText(std::string text, CsvOptions options = {.sensor = "s"}) {
  CsvReader reader = CsvReader::FromText(std::move(text), std::move(options));
  return Drain(reader);
}

TEST(Csv, NabFileWithHeaderYieldsReadings) {
  auto all = DrainText("timestamp,value\n2014-04-01 00:00:00,35\n2014-04-01 00:05:00,41.5\n");
  ASSERT_TRUE(all.errors.empty());
  ASSERT_EQ(all.readings.size(), 2u);
  EXPECT_EQ(all.readings[0], (Reading{"s", kApril2014, 35.0, 0}));
  EXPECT_EQ(all.readings[1], (Reading{"s", kApril2014 + 300'000'000, 41.5, 0}));
}

TEST(Csv, HeaderIsOptional) {
  CsvReader reader = CsvReader::FromText("2014-04-01 00:00:00,1\n", {.sensor = "s"});
  auto all = Drain(reader);
  EXPECT_FALSE(reader.has_header());
  ASSERT_EQ(all.readings.size(), 1u);
  EXPECT_EQ(all.readings[0].value, 1.0);
}

TEST(Csv, BadFirstDataLineIsAnErrorNotAHeader) {
  CsvReader reader =
      CsvReader::FromText("2014-13-01 00:00:00,5\n2014-04-01 00:00:00,6\n", {.sensor = "s"});
  auto all = Drain(reader);
  EXPECT_FALSE(reader.has_header());
  ASSERT_EQ(all.errors.size(), 1u);
  EXPECT_TRUE(all.errors[0].message().starts_with("line 1: field 'timestamp'"));
  ASSERT_EQ(all.readings.size(), 1u);
}

TEST(Csv, CrlfAndBomAndBlankLinesAreTolerated) {
  auto all = DrainText("\xEF\xBB\xBFtimestamp,value\r\n\r\n2014-04-01T00:00:00Z,2\r\n  \n");
  ASSERT_TRUE(all.errors.empty()) << all.errors[0].ToString();
  ASSERT_EQ(all.readings.size(), 1u);
  EXPECT_EQ(all.readings[0].value, 2.0);
}

TEST(Csv, LastLineWithoutNewlineIsRead) {
  auto all = DrainText("2014-04-01 00:00:00,1\n2014-04-01 00:00:01,2");
  ASSERT_EQ(all.readings.size(), 2u);
  EXPECT_EQ(all.readings[1].value, 2.0);
}

TEST(Csv, ThirdColumnNamesTheSensor) {
  auto all = DrainText("2014-04-01 00:00:00,1,boiler\n2014-04-01 00:00:00,2\n");
  ASSERT_EQ(all.readings.size(), 2u);
  EXPECT_EQ(all.readings[0].sensor, "boiler");
  EXPECT_EQ(all.readings[1].sensor, "s");  // no third field: the default
}

TEST(Csv, HeaderNamesMapColumnsInAnyOrder) {
  auto all = DrainText("Sensor,Value,Time,extra\n\"pump\",\"3.5\",2014-04-01T00:00:00Z,x\n", {});
  ASSERT_TRUE(all.errors.empty()) << all.errors[0].ToString();
  ASSERT_EQ(all.readings.size(), 1u);
  EXPECT_EQ(all.readings[0], (Reading{"pump", kApril2014, 3.5, 0}));
}

TEST(Csv, IntegerTimestampsUseTheStatedUnit) {
  auto all = DrainText("1396310400000,7\n", {.sensor = "s", .epoch_unit = EpochUnit::kMillis});
  ASSERT_EQ(all.readings.size(), 1u);
  EXPECT_EQ(all.readings[0].time_us, kApril2014);
}

TEST(Csv, BadLinesAreReportedByNumberAndReadingContinues) {
  auto all = DrainText(
      "timestamp,value\n"
      "2014-04-01 00:00:00,1\n"
      "2014-13-01 00:00:00,2\n"      // line 3: bad month
      "2014-04-01 00:00:00,abc\n"    // line 4
      "2014-04-01 00:00:00,nan\n"    // line 5
      "2014-04-01 00:00:00\n"        // line 6: one field
      "2014-04-01 00:00:00,1e999\n"  // line 7
      "2014-04-01 00:00:00,+4\n");
  ASSERT_EQ(all.readings.size(), 2u);
  EXPECT_EQ(all.readings[1].value, 4.0);
  ASSERT_EQ(all.errors.size(), 5u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"line 3: ", "field 'timestamp'"},
      {"line 4: ", "field 'value': not a number"},
      {"line 5: ", "not a finite number"},
      {"line 6: ", "fields"},
      {"line 7: ", "field 'value'"}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(all.errors[i].code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(all.errors[i].message().starts_with(expected[i].first)) << all.errors[i].message();
    EXPECT_NE(all.errors[i].message().find(expected[i].second), std::string::npos)
        << all.errors[i].message();
  }
}

TEST(Csv, MissingSensorIsALineError) {
  auto all = DrainText("2014-04-01 00:00:00,1\n", {});
  ASSERT_EQ(all.errors.size(), 1u);
  EXPECT_NE(all.errors[0].message().find("field 'sensor'"), std::string::npos);
}

TEST(Csv, InvalidSensorIdIsALineError) {
  auto all = DrainText("2014-04-01 00:00:00,1,bad\x01id\n2014-04-01 00:00:00,1,\xff\n");
  ASSERT_EQ(all.errors.size(), 2u);
  EXPECT_NE(all.errors[0].message().find("control character"), std::string::npos);
  EXPECT_NE(all.errors[1].message().find("UTF-8"), std::string::npos);
}

TEST(Csv, OverlongLineIsAnErrorAndTheNextLineIsRead) {
  std::string text = "2014-04-01 00:00:00," + std::string(100'000, '1') + "\n";
  text += "2014-04-01 00:00:00,5\n";
  auto all = DrainText(text);
  ASSERT_EQ(all.errors.size(), 1u);
  EXPECT_TRUE(all.errors[0].message().starts_with("line 1: longer than"));
  ASSERT_EQ(all.readings.size(), 1u);
  EXPECT_EQ(all.readings[0].value, 5.0);
}

TEST(Csv, MissingFileIsNotFound) {
  auto r = CsvReader::Open("/nonexistent/weir.csv", {});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(Csv, FileLargerThanOneChunkIsReadWhole) {
  weir::testing::TempDir dir;
  const auto path = dir / "big_sensor.csv";
  constexpr int kLines = 200'000;  // ~6 MB, several read chunks
  {
    std::ofstream f(path);
    f << "timestamp,value\n";
    for (int i = 0; i < kLines; ++i) f << (1'396'310'400 + i) << "," << i << ".25\n";
  }
  auto reader = CsvReader::Open(path, {.sensor = SensorIdFromPath(path)});
  ASSERT_TRUE(reader.ok());
  auto all = Drain(*reader);
  ASSERT_TRUE(all.errors.empty()) << all.errors[0].ToString();
  ASSERT_EQ(all.readings.size(), static_cast<size_t>(kLines));
  EXPECT_EQ(all.readings.back(),
            (Reading{"big_sensor", kApril2014 + (kLines - 1) * 1'000'000LL, kLines - 1 + 0.25, 0}));
  EXPECT_EQ(reader->bytes_consumed(), reader->total_bytes());
  EXPECT_EQ(reader->line_number(), static_cast<uint64_t>(kLines + 1));
}

TEST(Csv, WholeNabCorpusReadsWithoutErrors) {
  auto nab = weir::testing::NabDir();
  if (!nab) GTEST_SKIP() << weir::testing::NabMissingMessage();
  size_t files = 0, readings = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(*nab / "data")) {
    if (entry.path().extension() != ".csv") continue;
    auto reader = CsvReader::Open(entry.path(), {.sensor = SensorIdFromPath(entry.path())});
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto all = Drain(*reader);
    ASSERT_TRUE(all.errors.empty()) << entry.path() << ": " << all.errors[0].ToString();
    EXPECT_TRUE(reader->has_header());
    ++files;
    readings += all.readings.size();
  }
  EXPECT_EQ(files, 58u);
  EXPECT_GT(readings, 300'000u);
}

TEST(Csv, RawFieldsAndColumnsDescribeTheLastLine) {
  CsvReader reader =
      CsvReader::FromText("value,timestamp\n 1.50 ,\"2014-04-01 00:00:00\"\n", {.sensor = "s"});
  Reading r;
  ASSERT_TRUE(*reader.Next(&r));
  EXPECT_EQ(reader.time_column(), 1);
  EXPECT_EQ(reader.value_column(), 0);
  EXPECT_EQ(reader.sensor_column(), -1);
  ASSERT_EQ(reader.raw_fields().size(), 2u);
  EXPECT_EQ(reader.raw_fields()[0], "1.50");
  EXPECT_EQ(reader.raw_fields()[1], "2014-04-01 00:00:00");
}

TEST(Csv, RandomBytesNeverCrash) {
  std::mt19937 rng(11);
  const std::string alphabet = "0123456789-: ,.\"\r\neETZ+abc\xff\x01";
  for (int i = 0; i < 3000; ++i) {
    std::string text(rng() % 200, ' ');
    for (char& c : text) c = alphabet[rng() % alphabet.size()];
    auto all = DrainText(text);
    for (const Status& e : all.errors) {
      ASSERT_EQ(e.code(), StatusCode::kInvalidArgument);
      ASSERT_TRUE(e.message().starts_with("line ")) << e.message();
    }
    for (const Reading& r : all.readings) ASSERT_TRUE(std::isfinite(r.value));
  }
}

TEST(SensorId, ValidIdsPass) {
  EXPECT_TRUE(ValidateSensorId("boiler.temp").ok());
  EXPECT_TRUE(ValidateSensorId("Kessel/Temperatur-\xC3\xBC").ok());  // ü
  EXPECT_TRUE(ValidateSensorId(std::string(kMaxSensorIdBytes, 'a')).ok());
}

TEST(SensorId, EachKindOfBadIdIsNamed) {
  EXPECT_NE(ValidateSensorId("").message().find("empty"), std::string::npos);
  EXPECT_NE(ValidateSensorId(std::string(257, 'a')).message().find("257 bytes"), std::string::npos);
  EXPECT_NE(ValidateSensorId("a\nb").message().find("control character 0x0a"), std::string::npos);
  EXPECT_NE(ValidateSensorId("a\xC2\x85").message().find("control"), std::string::npos);  // NEL
  for (std::string_view bad :
       {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\x80"}) {
    EXPECT_NE(ValidateSensorId(bad).message().find("UTF-8"), std::string::npos);
    EXPECT_FALSE(IsValidUtf8(bad));
  }
}

}  // namespace
}  // namespace weir::codec
