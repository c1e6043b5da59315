// The outputs of `weir sink`: JSON lines, CSV and a weir log each hold exactly the delivered
// records.
#include "agent/app/sink_output.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "agent/store/log.h"
#include "tests/support/test_support.h"

namespace weir::app {
namespace {

codec::Envelope TwoReadings() {
  codec::Envelope e;
  e.device_id = "gw-1";
  e.first_seq = 7;
  e.last_seq = 8;
  e.readings = {{"boiler,temp", 1'700'000'000'000'000, 21.5, 0},
                {"boiler,temp", 1'700'000'001'000'000, 22.0, 3}};
  return e;
}

TEST(SinkOutput, JsonLinesHoldOneObjectPerDeliveredReading) {
  weir::testing::TempDir dir;
  auto out = OpenSinkOutput(dir / "r.jsonl");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  SinkLedger::Delivery d;
  d.readings = {1};  // reading 0 was a duplicate
  ASSERT_TRUE((*out)->Write(TwoReadings(), d).ok());
  ASSERT_TRUE((*out)->Flush().ok());
  const std::string text = weir::testing::ReadFileBytes(dir / "r.jsonl");
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["device"], "gw-1");
  EXPECT_EQ(j["seq"], 8);
  EXPECT_EQ(j["value"], 22.0);
  EXPECT_EQ(j["quality"], 3);
  EXPECT_EQ(j["ts"], "2023-11-14T22:13:21Z");
}

TEST(SinkOutput, CsvQuotesFieldsWithCommas) {
  weir::testing::TempDir dir;
  auto out = OpenSinkOutput(dir / "r.csv");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  SinkLedger::Delivery d;
  d.readings = {0, 1};
  ASSERT_TRUE((*out)->Write(TwoReadings(), d).ok());
  ASSERT_TRUE((*out)->Flush().ok());
  EXPECT_EQ(weir::testing::ReadFileBytes(dir / "r.csv"),
            "device,seq,sensor,ts,time_us,value,quality,log_id\n"
            "gw-1,7,\"boiler,temp\",2023-11-14T22:13:20Z,1700000000000000,21.5,0,\n"
            "gw-1,8,\"boiler,temp\",2023-11-14T22:13:21Z,1700000001000000,22,3,\n");
}

TEST(SinkOutput, LogReceivesTheReadingsThroughTheStore) {
  weir::testing::TempDir dir;
  {
    auto out = OpenSinkOutput(dir / "sink.db");
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    SinkLedger::Delivery d;
    d.readings = {0, 1};
    ASSERT_TRUE((*out)->Write(TwoReadings(), d).ok());
    ASSERT_TRUE((*out)->Flush().ok());
  }
  auto reader = store::LogReader::Open(dir / "sink.db");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto rows = (*reader)->Read(Lane::kReadings, 0, 10);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].readings, TwoReadings().readings);
}

TEST(SinkOutput, UnwritableDirectoryIsAnError) {
  EXPECT_FALSE(OpenSinkOutput("/nonexistent-dir/r.jsonl").ok());
}

}  // namespace
}  // namespace weir::app
