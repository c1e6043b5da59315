// The upstream envelope codec: round trips in both forms and every lane, gaps and defects,
// splitting under a size cap, and garbage that must be rejected without crashing.
#include "agent/codec/envelope_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "agent/codec/batch_codec.h"

namespace weir::codec {
namespace {

std::vector<Reading> MakeReadings(size_t n, const std::string& sensor = "boiler.temp") {
  std::vector<Reading> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({sensor + std::to_string(i % 3), 1'700'000'000'000'000 + int64_t(i) * 1000,
                   20.0 + 0.1 * double(i), static_cast<uint32_t>(i % 2)});
  }
  return out;
}

Envelope ReadingsEnvelope(size_t n, uint64_t first_seq = 101, uint64_t prev_seq = 100) {
  Envelope e;
  e.device_id = "gw-17";
  e.boot_epoch = 3;
  e.lane = Lane::kReadings;
  e.first_seq = first_seq;
  e.last_seq = first_seq + n - 1;
  e.prev_seq = prev_seq;
  e.sent_at_us = 1'700'000'000'500'000;
  e.readings = MakeReadings(n);
  return e;
}

Defect MakeDefect(int i) {
  Defect d;
  d.sensor = "pump.vibration";
  d.kind = DefectKind::kSpike;
  d.severity = Severity::kCritical;
  d.detector = "auto";
  d.window_start_us = 1'700'000'000'000'000 + i;
  d.window_end_us = d.window_start_us + 60'000'000;
  d.detected_at_us = d.window_end_us;
  d.score = 0.93;
  d.message = "value 93.1 above limit 90";
  d.stats = {10, 1.0, 93.1, 12.5, 3.25};
  d.evidence = {{"pump.vibration", d.detected_at_us, 93.1, 0}};
  return d;
}

Envelope DefectsEnvelope() {
  Envelope e;
  e.device_id = "gw-17";
  e.boot_epoch = 1;
  e.lane = Lane::kDefects;
  e.first_seq = 40;
  e.last_seq = 57;
  e.prev_seq = 12;
  e.defects = {MakeDefect(1), MakeDefect(2), MakeDefect(3)};
  e.defect_seqs = {40, 44, 57};
  // An incident's open and close records (issue 14), one a group's with contributions.
  e.defects[1].incident_id = 0xfedcba9876543210;
  e.defects[1].phase = IncidentPhase::kOpen;
  e.defects[1].firings = 1;
  e.defects[2].incident_id = 0xfedcba9876543210;
  e.defects[2].phase = IncidentPhase::kClose;
  e.defects[2].firings = 17;
  e.defects[2].contributions = {{"pump.flow", 0.75, 3.5}, {"pump.current", 0.25, 12.0}};
  return e;
}

Envelope GapEnvelope(Lane lane) {
  Envelope e;
  e.device_id = "gw-17";
  e.lane = lane;
  e.first_seq = 1000;
  e.last_seq = 1999;
  e.prev_seq = 999;
  e.gap = EnvelopeGap{1000, 1999, 1000, 5, 9, "quota"};
  return e;
}

class EnvelopeRoundTrip : public ::testing::TestWithParam<EnvelopeFormat> {};

TEST_P(EnvelopeRoundTrip, ReadingsComeBackExactly) {
  const Envelope e = ReadingsEnvelope(50);
  auto bytes = EncodeEnvelope(e, GetParam());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(DetectEnvelopeFormat(*bytes), GetParam());
  auto back = DecodeEnvelope(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, e);
}

TEST_P(EnvelopeRoundTrip, DefectsKeepTheirOwnSequences) {
  const Envelope e = DefectsEnvelope();
  auto bytes = EncodeEnvelope(e, GetParam());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto back = DecodeEnvelope(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, e);
}

TEST_P(EnvelopeRoundTrip, GapRecordsInEitherLane) {
  for (Lane lane : {Lane::kReadings, Lane::kDefects}) {
    const Envelope e = GapEnvelope(lane);
    auto bytes = EncodeEnvelope(e, GetParam());
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto back = DecodeEnvelope(*bytes);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, e);
  }
}

TEST_P(EnvelopeRoundTrip, NonFiniteValuesSurviveAsNaNOrInfinity) {
  Envelope e = ReadingsEnvelope(2);
  e.readings[0].value = std::nan("");
  auto bytes = EncodeEnvelope(e, GetParam());
  ASSERT_TRUE(bytes.ok());
  auto back = DecodeEnvelope(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(std::isnan(back->readings[0].value));
  EXPECT_EQ(back->readings[1], e.readings[1]);
}

TEST_P(EnvelopeRoundTrip, SplitPiecesAreContiguousAndUnderTheCap) {
  Envelope e = ReadingsEnvelope(3000);
  // Noisy values, so that the binary form does not compress under the cap.
  std::mt19937_64 rng(1);
  for (Reading& r : e.readings) r.value = std::ldexp(double(rng() >> 11), -40);
  constexpr size_t kCap = 4096;
  auto pieces = SplitEnvelope(e, GetParam(), kCap);
  ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
  ASSERT_GT(pieces->size(), 1u);
  uint64_t next = e.first_seq, prev = e.prev_seq;
  std::vector<Reading> all;
  for (const std::string& bytes : *pieces) {
    EXPECT_LE(bytes.size(), kCap);
    auto p = DecodeEnvelope(bytes);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->first_seq, next);
    EXPECT_EQ(p->prev_seq, prev);
    next = p->last_seq + 1;
    prev = p->last_seq;
    all.insert(all.end(), p->readings.begin(), p->readings.end());
  }
  EXPECT_EQ(prev, e.last_seq);
  EXPECT_EQ(all, e.readings);
}

TEST_P(EnvelopeRoundTrip, SplitDefectsCoverTheWholeRange) {
  Envelope e = DefectsEnvelope();
  e.defects.clear();
  e.defect_seqs.clear();
  for (int i = 0; i < 40; ++i) {
    e.defects.push_back(MakeDefect(i));
    e.defect_seqs.push_back(40 + 3 * uint64_t(i));
  }
  e.last_seq = e.defect_seqs.back();
  auto pieces = SplitEnvelope(e, GetParam(), kMinEnvelopeCapBytes * 2);
  ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
  uint64_t next = e.first_seq;
  size_t defects = 0;
  for (const std::string& bytes : *pieces) {
    EXPECT_LE(bytes.size(), kMinEnvelopeCapBytes * 2);
    auto p = DecodeEnvelope(bytes);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->first_seq, next);
    next = p->last_seq + 1;
    defects += p->defects.size();
  }
  EXPECT_EQ(next, e.last_seq + 1);
  EXPECT_EQ(defects, e.defects.size());
}

INSTANTIATE_TEST_SUITE_P(BothForms, EnvelopeRoundTrip,
                         ::testing::Values(EnvelopeFormat::kBinary, EnvelopeFormat::kJson),
                         [](const auto& param_info) {
                           return param_info.param == EnvelopeFormat::kJson ? "Json" : "Binary";
                         });

TEST(EnvelopeCodec, StoredChunkBlobIsShippedUnchanged) {
  const std::vector<Reading> readings = MakeReadings(20);
  auto blob = EncodeBatch(readings);
  ASSERT_TRUE(blob.ok());
  Envelope e = ReadingsEnvelope(20);
  e.readings.clear();
  e.readings_blob = *blob;
  auto bytes = EncodeEnvelope(e, EnvelopeFormat::kBinary);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_NE(bytes->find(*blob), std::string::npos);
  auto back = DecodeEnvelope(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->readings, readings);
}

TEST(EnvelopeCodec, JsonHasTheDocumentedShape) {
  auto bytes = EncodeEnvelope(ReadingsEnvelope(1), EnvelopeFormat::kJson);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, R"({"boot_epoch":3,"device_id":"gw-17","first_seq":101,"lane":"readings",)"
                    R"("last_seq":101,"prev_seq":100,"readings":[{"quality":0,)"
                    R"("sensor":"boiler.temp0","seq":101,"time_us":1700000000000000,)"
                    R"("ts":"2023-11-14T22:13:20Z","value":20.0}],"sent_at_us":1700000000500000})");
}

TEST_P(EnvelopeRoundTrip, TheLogIdComesBack) {
  Envelope e = ReadingsEnvelope(3);
  e.log_id = LogId{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  auto bytes = EncodeEnvelope(e, GetParam());
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto back = DecodeEnvelope(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->log_id, e.log_id);
  EXPECT_EQ(*back, e);
}

TEST(EnvelopeCodec, TheLogIdIsSixteenBytesInBinaryAndHexInJson) {
  Envelope e = ReadingsEnvelope(1);
  e.log_id = LogId{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  auto json = EncodeEnvelope(e, EnvelopeFormat::kJson);
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find(R"("log_id":"0123456789abcdeffedcba9876543210")"), std::string::npos);
  auto binary = EncodeEnvelope(e, EnvelopeFormat::kBinary);
  ASSERT_TRUE(binary.ok());
  EXPECT_NE(binary->find(std::string("\x6a\x10") + e.log_id.ToBytes()), std::string::npos);
  // An envelope from a writer that predates log ids decodes with the empty id.
  auto old = DecodeEnvelope(*EncodeEnvelope(ReadingsEnvelope(1), EnvelopeFormat::kBinary));
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->log_id.empty());
}

TEST(EnvelopeCodec, ALogIdOfTheWrongSizeIsRejectedNamingIt) {
  auto json = DecodeEnvelope(
      R"({"device_id":"d","log_id":"abc","boot_epoch":0,"lane":"readings","first_seq":1,)"
      R"("last_seq":1,"prev_seq":0,"sent_at_us":0,"readings":[{"seq":1,"sensor":"s",)"
      R"("ts":"x","time_us":1,"value":1,"quality":0}]})");
  EXPECT_EQ(json.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(json.status().message().find("log_id"), std::string::npos) << json.status().ToString();
  auto bytes = EncodeEnvelope(ReadingsEnvelope(1), EnvelopeFormat::kBinary);
  ASSERT_TRUE(bytes.ok());
  // Field 13 (log_id), length-delimited, 5 bytes: appended fields are valid protobuf.
  auto binary = DecodeEnvelope(*bytes + std::string("\x6a\x05short"));
  EXPECT_EQ(binary.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(binary.status().message().find("log_id"), std::string::npos)
      << binary.status().ToString();
}

TEST(EnvelopeCodec, GapReasonKindIsTheFirstWord) {
  EXPECT_EQ(GapReasonKind("rejected: broker said no"), "rejected");
  EXPECT_EQ(GapReasonKind("damaged on the device"), "damaged");
  EXPECT_EQ(GapReasonKind("quota"), "quota");
  EXPECT_EQ(GapReasonKind(""), "");
}

TEST(EnvelopeCodec, ReadingCountThatContradictsTheRangeIsRejectedNamingLastSeq) {
  Envelope e = ReadingsEnvelope(5);
  e.last_seq += 1;
  auto bytes = EncodeEnvelope(e, EnvelopeFormat::kJson);
  EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
  // The same lie written by hand reaches the decoder.
  const std::string json =
      R"({"device_id":"d","boot_epoch":0,"lane":"readings","first_seq":5,"last_seq":6,)"
      R"("prev_seq":0,"sent_at_us":0,"readings":[{"seq":5,"sensor":"s","ts":"x",)"
      R"("time_us":1,"value":1,"quality":0}]})";
  auto back = DecodeEnvelope(json);
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("last_seq"), std::string::npos)
      << back.status().ToString();
}

TEST(EnvelopeCodec, LastBelowFirstIsRejected) {
  const std::string json =
      R"({"device_id":"d","boot_epoch":0,"lane":"readings","first_seq":9,"last_seq":3,)"
      R"("prev_seq":0,"sent_at_us":0,"readings":[]})";
  auto back = DecodeEnvelope(json);
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("last_seq"), std::string::npos);
}

TEST(EnvelopeCodec, UnknownLaneAndMissingFieldsAreNamed) {
  auto lane = DecodeEnvelope(
      R"({"device_id":"d","boot_epoch":0,"lane":"metrics","first_seq":1,"last_seq":1,)"
      R"("prev_seq":0,"sent_at_us":0})");
  EXPECT_EQ(lane.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(lane.status().message().find("lane"), std::string::npos);
  auto missing = DecodeEnvelope(R"({"device_id":"d"})");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("boot_epoch"), std::string::npos);
}

TEST(EnvelopeCodec, UnknownCodecIsRejected) {
  auto bytes = EncodeEnvelope(GapEnvelope(Lane::kReadings), EnvelopeFormat::kBinary);
  ASSERT_TRUE(bytes.ok());
  // Field 7 (codec), varint: append a later value 9, which protobuf keeps as the field's value.
  std::string b = *bytes + std::string("\x38\x09", 2);
  auto back = DecodeEnvelope(b);
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("codec"), std::string::npos) << back.status().ToString();
}

TEST(EnvelopeCodec, CapsBelowTheMinimumAndOversizedRecordsAreRefused) {
  EXPECT_EQ(SplitEnvelope(ReadingsEnvelope(3), EnvelopeFormat::kBinary, 100).status().code(),
            StatusCode::kInvalidArgument);
  Envelope e = ReadingsEnvelope(2);
  e.readings[1].sensor = std::string(5000, 'x');
  EXPECT_EQ(SplitEnvelope(e, EnvelopeFormat::kJson, kMinEnvelopeCapBytes).status().code(),
            StatusCode::kOutOfRange);
}

TEST(EnvelopeCodec, OneReadingWithALongSensorIdFitsTheMinimumCap) {
  Envelope e = ReadingsEnvelope(1);
  e.readings[0].sensor = std::string(256, 's');
  for (EnvelopeFormat f : {EnvelopeFormat::kBinary, EnvelopeFormat::kJson}) {
    auto pieces = SplitEnvelope(e, f, kMinEnvelopeCapBytes);
    ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
    EXPECT_EQ(pieces->size(), 1u);
  }
}

TEST(EnvelopeCodec, RandomBytesNeverCrashAndNeverDecodeAsValid) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string bytes(rng() % 300, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (i % 2 == 0 && !bytes.empty()) bytes[0] = '{';
    auto e = DecodeEnvelope(bytes);
    if (e.ok()) {
      EXPECT_TRUE(ValidateEnvelope(*e).ok());
    }
  }
}

TEST(EnvelopeCodec, FlippedAndTruncatedBytesAreRejectedOrStillValid) {
  for (EnvelopeFormat f : {EnvelopeFormat::kBinary, EnvelopeFormat::kJson}) {
    for (const Envelope& e :
         {ReadingsEnvelope(8), DefectsEnvelope(), GapEnvelope(Lane::kDefects)}) {
      auto bytes = EncodeEnvelope(e, f);
      ASSERT_TRUE(bytes.ok());
      for (size_t i = 0; i < bytes->size(); ++i) {
        for (int bit : {0, 7}) {
          std::string b = *bytes;
          b[i] = static_cast<char>(b[i] ^ (1 << bit));
          auto d = DecodeEnvelope(b);
          if (d.ok()) {
            EXPECT_TRUE(ValidateEnvelope(*d).ok());
          }
        }
        auto t = DecodeEnvelope(std::string_view(*bytes).substr(0, i));
        if (t.ok()) {
          EXPECT_TRUE(ValidateEnvelope(*t).ok());
        }
      }
    }
  }
}

}  // namespace
}  // namespace weir::codec
