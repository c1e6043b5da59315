// The batch codec round-trips every reading bit for bit and turns any damaged blob into DataLoss.
#include "agent/codec/batch_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "agent/codec/batch_columns.h"
#include "tests/support/test_support.h"
#include "weir/v1/reading_batch.pb.h"

namespace weir::codec {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;

// Compares field by field with doubles as bit patterns (NaN != NaN under operator==).
void ExpectSameReadings(const std::vector<Reading>& want, const std::vector<Reading>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(want[i].sensor, got[i].sensor) << "reading " << i;
    ASSERT_EQ(want[i].time_us, got[i].time_us) << "reading " << i;
    ASSERT_EQ(std::bit_cast<uint64_t>(want[i].value), std::bit_cast<uint64_t>(got[i].value))
        << "reading " << i << " value " << want[i].value;
    ASSERT_EQ(want[i].quality, got[i].quality) << "reading " << i;
  }
}

void ExpectRoundTrip(const std::vector<Reading>& readings) {
  Result<std::string> blob = EncodeBatch(readings);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  Result<std::vector<Reading>> back = DecodeBatch(*blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameReadings(readings, *back);
}

std::vector<Reading> RegularSeries(const std::string& sensor, size_t n, int64_t step_us,
                                   double start, double increment) {
  std::vector<Reading> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({sensor, kT0 + static_cast<int64_t>(i) * step_us,
                   start + increment * static_cast<double>(i % 17), 0});
  }
  return out;
}

TEST(BatchCodec, SingleReadingRoundTrips) { ExpectRoundTrip({{"boiler/temp", kT0, 21.5, 0}}); }

TEST(BatchCodec, EmptyInputIsInvalidArgument) {
  Result<std::string> blob = EncodeBatch({});
  ASSERT_FALSE(blob.ok());
  EXPECT_EQ(blob.status().code(), StatusCode::kInvalidArgument);
}

TEST(BatchCodec, RegularDecimalSeriesRoundTripsCompactly) {
  std::vector<Reading> readings =
      RegularSeries("plant/line1/pressure", 1000, 60'000'000, 1.25, 0.01);
  ExpectRoundTrip(readings);
  Result<std::string> blob = EncodeBatch(readings);
  ASSERT_TRUE(blob.ok());
  EXPECT_LT(blob->size(), 1000u) << "a regular 2-decimal series should take < 1 byte/reading";
}

TEST(BatchCodec, EveryClassOfDoubleRoundTripsBitExactly) {
  const double specials[] = {0.0,
                             -0.0,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN(),
                             -std::numeric_limits<double>::quiet_NaN(),
                             std::bit_cast<double>(uint64_t{0x7FF0000000000001}),  // sNaN
                             std::bit_cast<double>(uint64_t{0xFFF8DEADBEEF0001}),  // payload
                             std::numeric_limits<double>::denorm_min(),
                             -std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::min(),
                             std::numeric_limits<double>::max(),
                             -std::numeric_limits<double>::max(),
                             0.1 + 0.2,
                             1e300,
                             -1e-300};
  std::vector<Reading> readings;
  for (size_t i = 0; i < std::size(specials); ++i) {
    readings.push_back({"s", kT0 + static_cast<int64_t>(i), specials[i], 0});
  }
  ExpectRoundTrip(readings);
  // And each special alone inside an otherwise decimal series (the encoder must notice it).
  for (double special : specials) {
    std::vector<Reading> series = RegularSeries("s", 50, 1'000'000, 10.5, 0.5);
    series[25].value = special;
    ExpectRoundTrip(series);
  }
}

TEST(BatchCodec, RandomBitPatternsRoundTrip) {
  std::mt19937_64 rng(1);
  std::vector<Reading> readings;
  for (int i = 0; i < 5000; ++i) {
    readings.push_back({"r", kT0 + i, std::bit_cast<double>(rng()), 0});
  }
  ExpectRoundTrip(readings);
}

TEST(BatchCodec, ManyDecimalScalesRoundTrip) {
  std::mt19937_64 rng(2);
  for (int decimals = 0; decimals <= 18; ++decimals) {
    std::vector<Reading> readings;
    std::uniform_int_distribution<int64_t> mantissa(-999'999'999, 999'999'999);
    for (int i = 0; i < 200; ++i) {
      readings.push_back(
          {"d", kT0 + i * 1000, static_cast<double>(mantissa(rng)) / std::pow(10.0, decimals), 0});
    }
    ExpectRoundTrip(readings);
  }
}

TEST(BatchCodec, ExtremeAndDisorderedTimestampsRoundTrip) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  ExpectRoundTrip({{"t", kMin, 1, 0},
                   {"t", kMax, 2, 0},
                   {"t", kMin, 3, 0},
                   {"t", 0, 4, 0},
                   {"t", kMax, 5, 0},
                   {"t", kMax, 6, 0},
                   {"t", -1, 7, 0},
                   {"t", kMin + 1, 8, 0}});
  // Two readings whose delta is exactly INT64_MIN (the step must not become 2^63).
  ExpectRoundTrip({{"t", 0, 1, 0}, {"t", kMin, 2, 0}, {"t", 0, 3, 0}});

  std::mt19937_64 rng(3);
  std::vector<Reading> readings;
  for (int i = 0; i < 3000; ++i) {
    const int64_t t = (i % 3 == 0) ? static_cast<int64_t>(rng()) : kT0 + (rng() % 1000) * 1000;
    readings.push_back({"t", t, 1.0, 0});
  }
  readings.push_back(readings.back());  // duplicate
  ExpectRoundTrip(readings);
}

TEST(BatchCodec, ManySensorsInterleavedWithUtf8IdsRoundTrip) {
  const std::vector<std::string> ids = {"a",
                                        "Kessel/Temperatur/Außen",
                                        "датчик/давление",
                                        "温度/センサー",
                                        "emoji/🌡️",
                                        std::string(300, 'x'),
                                        "a/b"};
  std::mt19937_64 rng(4);
  std::vector<Reading> readings;
  for (int i = 0; i < 4000; ++i) {
    readings.push_back({ids[rng() % ids.size()], kT0 + i * 500'000,
                        static_cast<double>(rng() % 10000) / 100.0, 0});
  }
  ExpectRoundTrip(readings);
  // Thousands of distinct sensors, one reading each.
  readings.clear();
  for (int i = 0; i < 3000; ++i) {
    readings.push_back({"sensor-" + std::to_string(i), kT0, 1.0 * i, 0});
  }
  ExpectRoundTrip(readings);
}

TEST(BatchCodec, QualityCodesRoundTrip) {
  std::vector<Reading> readings = RegularSeries("q", 500, 1'000'000, 1.0, 1.0);
  readings[3].quality = 1;
  readings[4].quality = 0x80000000u;
  readings[499].quality = 0xFFFFFFFFu;
  for (int i = 100; i < 200; ++i) readings[i].quality = 7;
  ExpectRoundTrip(readings);
}

TEST(BatchCodec, HundredThousandReadingsRoundTrip) {
  std::mt19937_64 rng(5);
  std::vector<Reading> readings;
  double v = 20.0;
  for (int64_t i = 0; i < 100'000; ++i) {
    v += static_cast<double>(static_cast<int>(rng() % 21) - 10) / 10.0;
    readings.push_back(
        {"s" + std::to_string(i % 10), kT0 + i * 100'000, v, static_cast<uint32_t>(i % 1000 == 0)});
  }
  ExpectRoundTrip(readings);
}

TEST(BatchCodec, ReusedEncoderAndDecoderGiveIndependentResults) {
  BatchEncoder encoder;
  BatchDecoder decoder;
  const std::vector<Reading> first = RegularSeries("one", 300, 1000, 0.5, 0.25);
  const std::vector<Reading> second = {{"two", -5, std::nan("7"), 9}};
  for (int round = 0; round < 3; ++round) {
    for (const auto* readings : {&first, &second}) {
      Result<std::string> blob = encoder.Encode(*readings);
      ASSERT_TRUE(blob.ok()) << blob.status().ToString();
      Result<std::vector<Reading>> back = decoder.Decode(*blob);
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      ExpectSameReadings(*readings, *back);
    }
  }
}

TEST(BatchCodec, EveryIntegerLayoutRoundTripsExtremeValues) {
  using internal::IntLayout;
  std::mt19937_64 rng(8);
  std::vector<uint64_t> ints = {0, 1, 2, 127, 128, ~uint64_t{0}, uint64_t{1} << 63};
  for (int i = 0; i < 500; ++i) ints.push_back(rng() >> (rng() % 64));
  for (IntLayout layout : {IntLayout::kVarint, IntLayout::kBytePlanes, IntLayout::kRice}) {
    for (int rice_bits : {0, 1, 7, 8, 33, 63, 64, internal::RiceParameter(ints)}) {
      std::string column;
      internal::WriteInts(ints, layout, rice_bits, &column);
      std::vector<uint64_t> back;
      Status s = internal::ReadInts(column, layout, ints.size(), "test", &back);
      ASSERT_TRUE(s.ok()) << s.ToString() << " layout " << static_cast<int>(layout);
      ASSERT_EQ(ints, back) << "layout " << static_cast<int>(layout) << " bits " << rice_bits;
      // One byte short is malformed, never an out-of-bounds read.
      column.pop_back();
      EXPECT_EQ(internal::ReadInts(column, layout, ints.size(), "test", &back).code(),
                StatusCode::kDataLoss);
    }
  }
}

TEST(BatchCodec, FloatArtifactDecimalsStayCompact) {
  // Values as float arithmetic leaves them (51.846000000000004 is one ulp above 51.846).
  std::vector<Reading> readings;
  for (int i = 0; i < 1000; ++i) {
    const double exact = 40.0 + static_cast<double>(i % 97) * 0.137;
    readings.push_back(
        {"cpu", kT0 + i * 300'000'000LL, i % 3 == 0 ? std::nextafter(exact, 1e9) : exact, 0});
  }
  ExpectRoundTrip(readings);
  Result<std::string> blob = EncodeBatch(readings);
  ASSERT_TRUE(blob.ok());
  EXPECT_LT(blob->size(), 2000u) << "a near-decimal series must not fall back to 8-byte XOR";
}

// --- corruption -------------------------------------------------------------------------------

std::string SmallBlob() {
  std::vector<Reading> readings = RegularSeries("flip/me", 40, 1'000'000, 3.5, 0.125);
  readings[7].quality = 3;
  readings.push_back({"other", kT0 - 5, -0.0, 0});
  Result<std::string> blob = EncodeBatch(readings);
  EXPECT_TRUE(blob.ok());
  return blob.ok() ? *blob : std::string();
}

TEST(BatchCodec, EveryTruncationIsDataLoss) {
  const std::string blob = SmallBlob();
  ASSERT_FALSE(blob.empty());
  for (size_t len = 0; len < blob.size(); ++len) {
    Result<std::vector<Reading>> r = DecodeBatch(std::string_view(blob).substr(0, len));
    ASSERT_FALSE(r.ok()) << "truncated to " << len;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    EXPECT_FALSE(r.status().message().empty());
  }
}

TEST(BatchCodec, TrailingBytesAreDataLoss) {
  std::string blob = SmallBlob();
  blob.push_back('\0');
  Result<std::vector<Reading>> r = DecodeBatch(blob);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
}

TEST(BatchCodec, FlippedBytesAreDataLossOrHarmless) {
  const std::string blob = SmallBlob();
  Result<std::vector<Reading>> original = DecodeBatch(blob);
  ASSERT_TRUE(original.ok());
  std::mt19937_64 rng(6);
  int data_loss = 0, harmless = 0;
  for (size_t pos = 0; pos < blob.size(); ++pos) {
    for (int trial = 0; trial < 8; ++trial) {
      std::string bad = blob;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << trial));
      Result<std::vector<Reading>> r = DecodeBatch(bad);
      if (r.ok()) {
        // Only a flip in a bit zstd ignores may decode, and then to the very same readings.
        ExpectSameReadings(*original, *r);
        ++harmless;
      } else {
        EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
        ++data_loss;
      }
    }
  }
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = blob;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    Result<std::vector<Reading>> r = DecodeBatch(bad);
    if (r.ok()) {
      ExpectSameReadings(*original, *r);
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
    }
  }
  EXPECT_GT(data_loss, 20 * harmless) << "nearly every flipped bit must be detected";
}

TEST(BatchCodec, GarbageIsDataLoss) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string junk(rng() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    // Half of them start like a zstd frame, to get past the magic number.
    if (trial % 2 == 0 && junk.size() >= 4) junk.replace(0, 4, "\x28\xB5\x2F\xFD", 4);
    Result<std::vector<Reading>> r = DecodeBatch(junk);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  }
}

// zstd's checksum stops most damage before the columns; this reaches the column decoders
// directly with well-formed messages whose columns are garbage or slightly wrong.
TEST(BatchCodec, GarbageColumnsBehindTheChecksumAreDataLoss) {
  std::mt19937_64 rng(9);
  auto junk = [&rng](size_t max_len) {
    std::string out(rng() % (max_len + 1), '\0');
    for (char& c : out) c = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 3);
    return out;
  };
  int ok = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    v1::ReadingBatch batch;
    batch.set_column_encoding(1);
    const uint32_t count = 1 + static_cast<uint32_t>(rng() % 40);
    batch.set_count(trial % 50 == 0 ? static_cast<uint32_t>(rng()) : count);
    const int sensors = static_cast<int>(rng() % 4);
    for (int i = 0; i < sensors; ++i) batch.add_sensors("s" + std::to_string(i));
    // Usually a valid sensor column, so that decoding gets further.
    std::string runs;
    if (rng() % 4 != 0) {
      runs.push_back(0);
      runs.push_back(static_cast<char>(count));
    } else {
      runs = junk(8);
    }
    batch.set_sensor_runs(runs);
    batch.set_timestamps(junk(3 * count));
    batch.set_time_step(rng() % 3 == 0 ? rng() : 1 + rng() % 100);
    batch.set_value_encoding(static_cast<v1::ValueEncoding>(rng() % 3));
    batch.set_value_decimals(static_cast<uint32_t>(rng() % 21));
    batch.set_value_layout(static_cast<uint32_t>(rng() % 4));
    std::string values = junk(10 * count);
    if (rng() % 3 == 0 && !values.empty()) values[0] = static_cast<char>(rng() % 66);
    batch.set_values(values);
    if (rng() % 2 == 0) batch.set_value_residuals(junk(2 * count));
    if (rng() % 2 == 0) batch.set_quality(junk(6));
    Result<std::vector<Reading>> r = internal::DecodeUncompressedBatch(batch.SerializeAsString());
    if (r.ok()) {
      ++ok;
      EXPECT_EQ(r->size(), batch.count());
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    }
  }
  EXPECT_GT(ok, 0) << "some garbage should happen to be well-formed";
}

TEST(BatchCodec, LongSensorIdRepeatedAMillionTimesIsRejected) {
  // Small and well-formed, but decoding would copy a 1 KiB id into a million readings.
  v1::ReadingBatch batch;
  batch.set_column_encoding(1);
  const uint32_t count = 1 << 20;
  batch.set_count(count);
  batch.add_sensors(std::string(1024, 'x'));
  std::string runs;
  runs.push_back(0);
  runs += std::string("\x80\x80\x40", 3);  // varint 2^20
  batch.set_sensor_runs(runs);
  batch.set_timestamps(std::string(count, '\0'));
  batch.set_time_step(1);
  batch.set_values(std::string(count, '\0'));
  batch.set_value_encoding(v1::VALUE_ENCODING_DECIMAL_DELTA);
  Result<std::vector<Reading>> r = internal::DecodeUncompressedBatch(batch.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status().message();
}

TEST(BatchCodec, HugeClaimedSizeIsRejectedWithoutAllocating) {
  // A zstd frame header claiming 2^40 bytes of content (single-segment, 8-byte size field).
  std::string blob("\x28\xB5\x2F\xFD", 4);
  blob.push_back(static_cast<char>(0xE4));  // FCS 8 bytes, single segment, checksum
  const uint64_t size = uint64_t{1} << 40;
  for (int i = 0; i < 8; ++i) blob.push_back(static_cast<char>(size >> (8 * i)));
  blob.append("\x01\x00\x00", 3);
  Result<std::vector<Reading>> r = DecodeBatch(blob);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status().message();
}

// --- NAB --------------------------------------------------------------------------------------

// Minimal `timestamp,value` loader (YYYY-MM-DD HH:MM:SS, UTC); enough for NAB's files.
std::vector<Reading> LoadNabCsv(const std::filesystem::path& file, const std::string& sensor) {
  std::vector<Reading> out;
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    int y, mo, d, h, mi, s;
    char value_text[64];
    if (std::sscanf(line.c_str(), "%d-%d-%d %d:%d:%d,%63s", &y, &mo, &d, &h, &mi, &s, value_text) !=
        7) {
      continue;
    }
    const std::chrono::sys_days day = std::chrono::year(y) / mo / d;
    const int64_t secs = day.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60 + s;
    out.push_back({sensor, secs * 1'000'000, std::strtod(value_text, nullptr), 0});
  }
  return out;
}

TEST(BatchCodec, NabCorpusRoundTripsInThousandReadingBatches) {
  const auto nab = weir::testing::NabDir();
  if (!nab) GTEST_SKIP() << weir::testing::NabMissingMessage();
  BatchEncoder encoder;
  BatchDecoder decoder;
  size_t files = 0, readings_total = 0;
  const auto data = *nab / "data";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(data)) {
    if (entry.path().extension() != ".csv") continue;
    const std::vector<Reading> all =
        LoadNabCsv(entry.path(), std::filesystem::relative(entry.path(), data).string());
    ASSERT_FALSE(all.empty()) << entry.path();
    ++files;
    for (size_t begin = 0; begin < all.size(); begin += 1000) {
      const size_t end = std::min(all.size(), begin + 1000);
      const std::vector<Reading> chunk(all.begin() + begin, all.begin() + end);
      Result<std::string> blob = encoder.Encode(chunk);
      ASSERT_TRUE(blob.ok()) << blob.status().ToString();
      Result<std::vector<Reading>> back = decoder.Decode(*blob);
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      ExpectSameReadings(chunk, *back);
      readings_total += chunk.size();
    }
  }
  EXPECT_GT(files, 0u);
  EXPECT_GT(readings_total, 0u);
}

}  // namespace
}  // namespace weir::codec
