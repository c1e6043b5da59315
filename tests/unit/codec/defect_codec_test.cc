// Defect encoding: protobuf round trip, garbage rejected as data loss, the JSON form.
#include "agent/codec/defect_codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "weir/v1/defect.pb.h"

namespace weir::codec {
namespace {

Defect SampleDefect() {
  Defect d;
  d.sensor = "boiler.temp";
  d.kind = DefectKind::kSpike;
  d.severity = Severity::kCritical;
  d.detector = "auto";
  d.window_start_us = 1'396'310'400'000'000;
  d.window_end_us = 1'396'310'460'000'000;
  d.detected_at_us = 1'396'310'460'000'000;
  d.score = 0.97;
  d.message = "value 93.1 above limit 90";
  d.stats = {12, 20.5, 93.1, 31.2, 4.25};
  d.evidence = {{"boiler.temp", 1'396'310'459'000'000, 88.0, 0},
                {"boiler.temp", 1'396'310'460'000'000, 93.1, 3}};
  return d;
}

TEST(DefectCodec, ProtobufRoundTripIsExact) {
  const Defect d = SampleDefect();
  auto back = DecodeDefect(EncodeDefect(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
}

Defect SampleIncidentClose() {
  Defect d = SampleDefect();
  d.incident_id = 0x8000000000000001;  // above 2^53: JSON must not lose it
  d.phase = IncidentPhase::kClose;
  d.firings = 42;
  d.contributions = {{"pump.flow", 0.6, 3.25}, {"pump.current", 0.3, -1.5}};
  return d;
}

TEST(DefectCodec, IncidentRecordsRoundTripInProtobufAndJson) {
  const Defect d = SampleIncidentClose();
  auto back = DecodeDefect(EncodeDefect(d));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, d);
  const nlohmann::json j = DefectToJson(d);
  EXPECT_EQ(j["incident_id"], "8000000000000001");
  EXPECT_EQ(j["phase"], "close");
  EXPECT_EQ(j["firings"], 42);
  EXPECT_EQ(j["contributions"][0]["sensor"], "pump.flow");
  EXPECT_EQ(*ParseIncidentId("8000000000000001"), 0x8000000000000001u);
  EXPECT_FALSE(ParseIncidentId("xyz").ok());
  EXPECT_FALSE(ParseIncidentId("").ok());
  EXPECT_FALSE(DefectToJson(SampleDefect()).contains("phase"));  // plain defects as before
}

// A reader built from defect.proto as it was before incidents (fields 12-15 removed) still
// parses an incident record and sees every field it knows.
TEST(DefectCodec, OldReadersDecodeIncidentRecords) {
  namespace pb = google::protobuf;
  pb::FileDescriptorProto file;
  weir::v1::Defect::descriptor()->file()->CopyTo(&file);
  for (auto& m : *file.mutable_message_type()) {
    if (m.name() != "Defect") continue;
    auto* fields = m.mutable_field();
    for (int i = fields->size() - 1; i >= 0; --i) {
      if (fields->Get(i).number() >= 12) fields->DeleteSubrange(i, 1);
    }
  }
  pb::DescriptorPool pool;
  const pb::FileDescriptor* old_file = pool.BuildFile(file);
  ASSERT_NE(old_file, nullptr);
  const pb::Descriptor* old_defect = old_file->FindMessageTypeByName("Defect");
  ASSERT_EQ(old_defect->FindFieldByNumber(12), nullptr);
  pb::DynamicMessageFactory factory(&pool);
  std::unique_ptr<pb::Message> old(factory.GetPrototype(old_defect)->New());
  const Defect d = SampleIncidentClose();
  ASSERT_TRUE(old->ParseFromString(EncodeDefect(d)));
  const pb::Reflection* r = old->GetReflection();
  EXPECT_EQ(r->GetString(*old, old_defect->FindFieldByName("sensor")), d.sensor);
  EXPECT_EQ(r->GetDouble(*old, old_defect->FindFieldByName("score")), d.score);
  EXPECT_EQ(r->GetEnumValue(*old, old_defect->FindFieldByName("kind")), static_cast<int>(d.kind));
  EXPECT_EQ(r->FieldSize(*old, old_defect->FindFieldByName("evidence")), 2);
}

TEST(DefectCodec, EveryKindAndSeverityRoundTrips) {
  for (int k = 0; k <= static_cast<int>(DefectKind::kAnomaly); ++k) {
    for (int s = 0; s <= static_cast<int>(Severity::kCritical); ++s) {
      Defect d = SampleDefect();
      d.kind = static_cast<DefectKind>(k);
      d.severity = static_cast<Severity>(s);
      auto back = DecodeDefect(EncodeDefect(d));
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(*back, d);
      EXPECT_EQ(*ParseDefectKind(DefectKindName(d.kind)), d.kind);
      EXPECT_EQ(*ParseSeverity(SeverityName(d.severity)), d.severity);
    }
  }
}

TEST(DefectCodec, EmptyDefectRoundTrips) {
  auto back = DecodeDefect(EncodeDefect(Defect{}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, Defect{});
}

TEST(DefectCodec, GarbageIsDataLoss) {
  for (std::string_view bad : {std::string_view("\xff\xff\xff\xff", 4),
                               std::string_view("\x0a\x05"
                                                "ab",
                                                4),                         // truncated string
                               std::string_view("\x0a\x02\xff\xfe", 4)}) {  // invalid UTF-8
    auto r = DecodeDefect(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  }
}

TEST(DefectCodec, UnknownEnumValueIsDataLoss) {
  weir::v1::Defect p;
  DefectToProto(SampleDefect(), &p);
  p.set_kind(static_cast<weir::v1::DefectKind>(42));
  auto r = DecodeDefect(p.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("kind"), std::string::npos);
}

TEST(DefectCodec, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  const std::string good = EncodeDefect(SampleDefect());
  for (int i = 0; i < 5000; ++i) {
    std::string bytes = good;
    // Flip a few bytes and sometimes truncate; any outcome but a crash is fine.
    for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 2) bytes.resize(rng() % bytes.size());
    auto r = DecodeDefect(bytes);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
    }
  }
}

TEST(DefectCodec, JsonHasNamedFieldsAndNullForNonFinite) {
  Defect d = SampleDefect();
  d.stats.stddev = std::nan("");
  const nlohmann::json j = DefectToJson(d);
  EXPECT_EQ(j["sensor"], "boiler.temp");
  EXPECT_EQ(j["kind"], "spike");
  EXPECT_EQ(j["severity"], "critical");
  EXPECT_EQ(j["window_start_us"], 1'396'310'400'000'000);
  EXPECT_EQ(j["detected_at"], "2014-04-01T00:01:00Z");
  EXPECT_EQ(j["stats"]["count"], 12);
  EXPECT_TRUE(j["stats"]["stddev"].is_null());
  ASSERT_EQ(j["evidence"].size(), 2u);
  EXPECT_EQ(j["evidence"][1]["quality"], 3);
  const std::string text = DefectToJsonText(d);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(text), j);
}

}  // namespace
}  // namespace weir::codec
