// Ingest payload parsers: good inputs of each form, each kind of bad input rejected with a reason
// naming the field, and random bytes never crashing a parser.
#include "agent/codec/payload_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "agent/codec/sensor_id.h"

namespace weir::codec {
namespace {

constexpr TimeMicros kNow = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z
const ParseContext kCtx{.topic = "plant/line1/boiler/temp", .now_us = kNow};

std::unique_ptr<PayloadParser> Json(JsonParserOptions options = {}) {
  auto p = MakeJsonParser(std::move(options));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}
std::unique_ptr<PayloadParser> Number(NumberParserOptions options = {}) {
  auto p = MakeNumberParser(std::move(options));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}
std::unique_ptr<PayloadParser> Line(LineProtocolParserOptions options = {}) {
  auto p = MakeLineProtocolParser(std::move(options));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

std::vector<Reading> MustParse(const PayloadParser& parser, std::string_view payload,
                               const ParseContext& ctx = kCtx) {
  std::vector<Reading> out;
  Status s = parser.Parse(payload, ctx, &out);
  EXPECT_TRUE(s.ok()) << payload << " -> " << s.ToString();
  return out;
}

// --- JSON -----------------------------------------------------------------------------------

TEST(JsonParser, ObjectWithEpochMillisParses) {
  auto out = MustParse(*Json(), R"({"sensor":"boiler.temp","ts":1700000000000,"value":21.5})");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Reading{"boiler.temp", kNow, 21.5, 0}));
}

TEST(JsonParser, Rfc3339StringTimeAndQualityParse) {
  auto out = MustParse(
      *Json(), R"({"sensor":"s","ts":"2023-11-14T23:13:20.5+01:00","value":-3,"quality":7})");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Reading{"s", kNow + 500'000, -3.0, 7}));
}

TEST(JsonParser, QuotedEpochDigitsAreAnEpoch) {
  auto out = MustParse(*Json(), R"({"sensor":"s","ts":"1700000000000","value":1})");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_us, kNow);
}

TEST(JsonParser, MissingTimeIsStampedWithNow) {
  auto out = MustParse(*Json(), R"({"sensor":"s","value":1})");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].time_us, kNow);
}

TEST(JsonParser, ArrayIsABatch) {
  auto out = MustParse(*Json(), R"([{"sensor":"a","ts":1700000000000,"value":1},
                                    {"sensor":"b","ts":1700000000001,"value":2.5}])");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], (Reading{"b", kNow + 1000, 2.5, 0}));
  EXPECT_TRUE(MustParse(*Json(), "[]").empty());
}

TEST(JsonParser, FieldNamesAndTimeUnitAreConfigurable) {
  auto parser = Json({.sensor_field = "id",
                      .time_field = "t",
                      .value_field = "v",
                      .quality_field = "q",
                      .time_unit = EpochUnit::kSeconds});
  auto out = MustParse(*parser, R"({"id":"x","t":1700000000.25,"v":4,"q":1,"sensor":"ignored"})");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Reading{"x", kNow + 250'000, 4.0, 1}));
}

TEST(JsonParser, SensorComesFromTheTopicWhenAbsent) {
  auto segment = Json({.sensor_topic_segment = 2});
  EXPECT_EQ(MustParse(*segment, R"({"value":1})")[0].sensor, "boiler");
  EXPECT_EQ(MustParse(*segment, R"({"sensor":"own","value":1})")[0].sensor, "own");
  auto whole = Json({.sensor_topic_segment = kWholeTopic});
  EXPECT_EQ(MustParse(*whole, R"({"value":1})")[0].sensor, "plant/line1/boiler/temp");
}

// --- bare number ------------------------------------------------------------------------------

TEST(NumberParser, NumberWithWhitespaceParses) {
  auto out = MustParse(*Number(), " 21.5\r\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Reading{"plant/line1/boiler/temp", kNow, 21.5, 0}));
  EXPECT_EQ(MustParse(*Number(), "+4")[0].value, 4.0);
  EXPECT_EQ(MustParse(*Number(), "-3e2")[0].value, -300.0);
}

TEST(NumberParser, SensorFromATopicSegment) {
  EXPECT_EQ(MustParse(*Number({.sensor_topic_segment = 3}), "1")[0].sensor, "temp");
  EXPECT_EQ(MustParse(*Number({.sensor_topic_segment = 0}), "1")[0].sensor, "plant");
}

// --- line protocol ----------------------------------------------------------------------------

TEST(LineProtocolParser, OneReadingPerNumericField) {
  auto out = MustParse(*Line(),
                       "boiler,site=b,area=a temp=71.5,on=t,count=3i,big=4u,off=false,"
                       "note=\"hot, very\" 1700000000000000999");
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0], (Reading{"boiler,area=a,site=b.temp", kNow, 71.5, 0}));
  EXPECT_EQ(out[1], (Reading{"boiler,area=a,site=b.on", kNow, 1.0, 0}));
  EXPECT_EQ(out[2].value, 3.0);
  EXPECT_EQ(out[3].value, 4.0);
  EXPECT_EQ(out[4], (Reading{"boiler,area=a,site=b.off", kNow, 0.0, 0}));
}

TEST(LineProtocolParser, MissingTimestampIsNow) {
  auto out = MustParse(*Line(), "cpu usage=1");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], (Reading{"cpu.usage", kNow, 1.0, 0}));
}

TEST(LineProtocolParser, EscapesAreUnescaped) {
  auto out = MustParse(*Line(), R"(my\ meas\,ure,tag\=k=v\ 1 fi\ eld=2)");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sensor, "my meas,ure,tag=k=v 1.fi eld");
}

TEST(LineProtocolParser, ManyLinesCommentsAndCrlf) {
  auto out = MustParse(*Line(),
                       "# a comment\r\n"
                       "a x=1 1700000000000000000\r\n"
                       "\r\n"
                       "b y=2 1700000001000000000\n");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1], (Reading{"b.y", kNow + 1'000'000, 2.0, 0}));
}

TEST(LineProtocolParser, TimestampUnitIsConfigurable) {
  auto out = MustParse(*Line({.time_unit = EpochUnit::kSeconds}), "a x=1 1700000000");
  EXPECT_EQ(out[0].time_us, kNow);
}

// --- rejections -------------------------------------------------------------------------------

struct BadCase {
  std::string name;
  std::string payload;
  std::vector<std::string> reason_mentions;
  std::string topic = "plant/line1/boiler/temp";
};

void ExpectRejected(const PayloadParser& parser, const BadCase& c) {
  const Reading sentinel{"kept", 1, 2, 3};
  std::vector<Reading> out = {sentinel};
  const ParseContext ctx{.topic = c.topic, .now_us = kNow};
  Status s = parser.Parse(c.payload, ctx, &out);
  ASSERT_FALSE(s.ok()) << c.name << ": accepted";
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
  EXPECT_EQ(out, std::vector<Reading>{sentinel}) << c.name << ": appended on error";
  for (const auto& m : c.reason_mentions) {
    EXPECT_NE(s.message().find(m), std::string::npos)
        << c.name << ": reason '" << s.message() << "' lacks '" << m << "'";
  }
}

const std::string kBigPayload(64 * 1024 + 1, ' ');
const std::string kLongId(300, 'x');

TEST(JsonParser, EachKindOfBadInputIsRejectedNamingTheField) {
  const std::vector<BadCase> cases = {
      {"malformed", R"({"sensor":"a","value":)", {"payload", "malformed JSON"}},
      {"empty", "", {"payload", "malformed JSON"}},
      {"not an object", "42", {"payload", "wrong type: number"}},
      {"missing value", R"({"sensor":"a"})", {"field 'value'", "missing"}},
      {"missing sensor", R"({"value":1})", {"field 'sensor'", "missing"}},
      {"value wrong type", R"({"sensor":"a","value":"21"})", {"field 'value'", "wrong type"}},
      {"value bool", R"({"sensor":"a","value":true})", {"field 'value'", "wrong type: boolean"}},
      {"sensor wrong type", R"({"sensor":5,"value":1})", {"field 'sensor'", "wrong type"}},
      {"ts wrong type", R"({"sensor":"a","ts":true,"value":1})", {"field 'ts'", "wrong type"}},
      // nlohmann refuses an overflowing literal itself; the finite check behind it is defence.
      {"infinite", R"({"sensor":"a","value":1e999})", {"payload", "overflow", "1e999"}},
      {"NaN literal", R"({"sensor":"a","value":NaN})", {"payload", "malformed JSON"}},
      {"ts from 1970",
       R"({"sensor":"a","ts":0,"value":1})",
       {"field 'ts'", "1970-01-01T00:00:00Z", "outside the accepted range"}},
      {"ts in the future",
       R"({"sensor":"a","ts":1700172800001,"value":1})",
       {"field 'ts'", "outside"}},
      {"ts bad text",
       R"({"sensor":"a","ts":"2023-13-01T00:00:00Z","value":1})",
       {"field 'ts'", "month out of range"}},
      {"ts overflow", R"({"sensor":"a","ts":18446744073709551615,"value":1})", {"field 'ts'"}},
      {"oversized", kBigPayload, {"payload", "65537 bytes", "limit"}},
      {"invalid UTF-8", "{\"sensor\":\"a\xff\",\"value\":1}", {"payload", "UTF-8"}},
      {"empty id", R"({"sensor":"","value":1})", {"field 'sensor'", "empty"}},
      {"long id", R"({"sensor":")" + kLongId + R"(","value":1})", {"field 'sensor'", "300 bytes"}},
      {"control char",
       R"({"sensor":"a\u0001b","value":1})",
       {"field 'sensor'", "control character 0x01"}},
      {"quality negative", R"({"sensor":"a","value":1,"quality":-1})", {"field 'quality'"}},
      {"quality too big", R"({"sensor":"a","value":1,"quality":4294967296})", {"field 'quality'"}},
      {"quality float",
       R"({"sensor":"a","value":1,"quality":0.5})",
       {"field 'quality'", "wrong type"}},
      {"batch element",
       R"([{"sensor":"a","value":1},{"sensor":"b"}])",
       {"element 1", "field 'value'", "missing"}},
      {"batch non-object", R"([{"sensor":"a","value":1},3])", {"element 1", "wrong type"}},
      {"deep nesting", std::string(100, '[') + std::string(100, ']'), {"payload", "nested"}},
  };
  auto parser = Json();
  for (const auto& c : cases) ExpectRejected(*parser, c);
}

TEST(JsonParser, SensorFromAMissingTopicSegmentIsRejected) {
  ExpectRejected(*Json({.sensor_topic_segment = 9}),
                 {"no segment", R"({"value":1})", {"field 'sensor'", "no segment 9"}});
  ExpectRejected(*Json({.sensor_topic_segment = kWholeTopic}),
                 {"empty topic", R"({"value":1})", {"field 'sensor'", "empty"}, ""});
}

TEST(NumberParser, EachKindOfBadInputIsRejectedNamingTheField) {
  const std::vector<BadCase> cases = {
      {"malformed", "abc", {"field 'value'", "not a number"}},
      {"trailing text", "21.5 22", {"field 'value'", "not a number"}},
      {"double sign", "+-1", {"field 'value'", "not a number"}},
      {"missing", " \n", {"field 'value'", "missing"}},
      {"NaN", "nan", {"field 'value'", "not a finite number (NaN)"}},
      {"infinite", "-inf", {"field 'value'", "not a finite number (inf)"}},
      {"overflow", "1e999", {"field 'value'", "out of the range"}},
      {"oversized", kBigPayload, {"payload", "limit"}},
      {"empty topic", "1", {"field 'sensor'", "empty"}, ""},
      {"invalid UTF-8 topic", "1", {"field 'sensor'", "UTF-8"}, "a/\xc3"},
      {"control char topic", "1", {"field 'sensor'", "control character"}, "a\tb"},
      {"long topic", "1", {"field 'sensor'", "300 bytes"}, kLongId},
  };
  auto parser = Number();
  for (const auto& c : cases) ExpectRejected(*parser, c);
  ExpectRejected(*Number({.sensor_topic_segment = 7}),
                 {"no segment", "1", {"field 'sensor'", "no segment 7"}});
  ExpectRejected(*Number({.sensor_topic_segment = 1}),
                 {"empty segment", "1", {"field 'sensor'", "empty"}, "a//b"});
}

TEST(LineProtocolParser, EachKindOfBadInputIsRejectedNamingTheField) {
  const std::vector<BadCase> cases = {
      {"no fields", "cpu", {"line 1", "field 'fields'", "missing"}},
      {"no fields after tags", "cpu,host=a ", {"line 1", "field 'fields'"}},
      {"empty measurement", ",host=a x=1", {"field 'measurement'", "empty"}},
      {"not a number", "cpu usage=abc", {"field 'usage'", "not a number"}},
      {"NaN", "cpu usage=NaN", {"field 'usage'", "not a finite number (NaN)"}},
      {"infinite", "cpu usage=inf", {"field 'usage'", "not a finite number (inf)"}},
      {"bad integer", "cpu usage=3.5i", {"field 'usage'", "integer"}},
      {"bad unsigned", "cpu usage=-3u", {"field 'usage'", "unsigned"}},
      {"missing value", "cpu usage", {"field 'usage'", "missing '='"}},
      {"empty value", "cpu usage=", {"field 'usage'", "empty value"}},
      {"empty field key", "cpu =1", {"field 'fields'", "empty field key"}},
      {"bad tag", "cpu,host usage=1", {"tag 'host'", "missing '='"}},
      {"empty tag value", "cpu,host= usage=1", {"tag 'host'", "empty value"}},
      {"unterminated string", "cpu msg=\"abc", {"field 'msg'", "unterminated"}},
      {"only strings", "cpu msg=\"abc\"", {"payload", "no numeric fields"}},
      {"no points", "# only a comment\n\n", {"payload", "no points"}},
      {"bad timestamp", "cpu usage=1 12:00", {"field 'timestamp'", "not an integer"}},
      {"timestamp from 1970", "cpu usage=1 0", {"field 'timestamp'", "outside"}},
      {"timestamp in the future", "cpu usage=1 1900000000000000000", {"field 'timestamp'"}},
      {"oversized", kBigPayload, {"payload", "limit"}},
      {"invalid UTF-8", "cp\xffu usage=1", {"field 'usage'", "UTF-8"}},
      {"control char", "cp\x01u usage=1", {"field 'usage'", "control character"}},
      {"long id", kLongId + " usage=1", {"field 'usage'", "bytes, more than 256"}},
      {"bad second line", "a x=1\nb y=oops", {"line 2", "field 'y'"}},
  };
  auto parser = Line();
  for (const auto& c : cases) ExpectRejected(*parser, c);
}

// --- factories --------------------------------------------------------------------------------

TEST(MakeParser, BuildsEachFormatByName) {
  auto json = MakeParser({.format = "json"});
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(MustParse(**json, R"({"sensor":"a","value":1})").size(), 1u);
  auto number = MakeParser({.format = "number", .sensor_topic_segment = 1});
  ASSERT_TRUE(number.ok());
  EXPECT_EQ(MustParse(**number, "1")[0].sensor, "line1");
  auto line = MakeParser({.format = "line"});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(MustParse(**line, "a b=1")[0].sensor, "a.b");
}

TEST(MakeParser, LimitsApplyToTheBuiltParser) {
  auto parser = MakeParser({.format = "number", .limits = {.max_payload_bytes = 2}});
  ASSERT_TRUE(parser.ok());
  ExpectRejected(**parser, {"oversized", "123", {"payload", "3 bytes", "limit of 2"}});
}

TEST(MakeParser, UnusableOptionsAreRejected) {
  auto unknown = MakeParser({.format = "xml"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'xml'"), std::string::npos);
  EXPECT_FALSE(MakeJsonParser({.value_field = ""}).ok());
  EXPECT_FALSE(MakeJsonParser({.sensor_topic_segment = -2}).ok());
  EXPECT_FALSE(MakeNumberParser({.sensor_topic_segment = -5}).ok());
  EXPECT_FALSE(MakeLineProtocolParser({.limits = {.max_past_us = -1}}).ok());
}

// --- robustness -------------------------------------------------------------------------------

// Accepted readings must satisfy the Reading invariants; rejections must leave `out` alone.
void ParseAndCheckInvariants(const PayloadParser& parser, std::string_view payload) {
  std::vector<Reading> out;
  Status s = parser.Parse(payload, kCtx, &out);
  if (!s.ok()) {
    ASSERT_EQ(s.code(), StatusCode::kInvalidArgument);
    ASSERT_FALSE(s.message().empty());
    ASSERT_TRUE(out.empty());
    return;
  }
  for (const Reading& r : out) {
    ASSERT_TRUE(ValidateSensorId(r.sensor).ok()) << r.sensor;
    ASSERT_TRUE(std::isfinite(r.value));
    ASSERT_GE(r.time_us, kNow - ParseLimits{}.max_past_us);
    ASSERT_LE(r.time_us, kNow + ParseLimits{}.max_future_us);
  }
}

TEST(PayloadParsers, RandomBytesAndMutationsNeverCrash) {
  const std::vector<std::unique_ptr<PayloadParser>> parsers = [] {
    std::vector<std::unique_ptr<PayloadParser>> v;
    v.push_back(Json({.sensor_topic_segment = 1}));
    v.push_back(Number());
    v.push_back(Line());
    return v;
  }();
  const std::vector<std::string> seeds = {
      R"([{"sensor":"a","ts":1700000000000,"value":1.5,"quality":2},{"value":2}])",
      R"({"sensor":"b","ts":"2023-11-14T22:13:20.5Z","value":-7e3})",
      "m,t=v\\ x f=1.5,g=2i,h=t,s=\"x\\\"y\" 1700000000000000000\nn y=3u",
      "  -21.5e-1 ",
  };
  std::mt19937 rng(20261122);
  const std::string alphabet = "{}[]\",:=\\ \n\r0123456789.eE+-iutfTFNa#/\x01\xff\xc3";
  for (int iter = 0; iter < 20000; ++iter) {
    std::string payload;
    if (iter % 4 == 0) {
      payload.resize(rng() % 64);
      for (char& c : payload) c = static_cast<char>(rng());
    } else {
      payload = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !payload.empty(); ++e) {
        const size_t at = rng() % payload.size();
        switch (rng() % 3) {
          case 0:
            payload[at] = alphabet[rng() % alphabet.size()];
            break;
          case 1:
            payload.erase(at, 1 + rng() % 3);
            break;
          default:
            payload.insert(at, 1, alphabet[rng() % alphabet.size()]);
        }
      }
    }
    for (const auto& parser : parsers) {
      ASSERT_NO_FATAL_FAILURE(ParseAndCheckInvariants(*parser, payload)) << payload;
    }
  }
}

TEST(PayloadParsers, ParseIsSafeFromSeveralThreads) {
  auto parser = Json();
  auto work = [&] {
    for (int i = 0; i < 2000; ++i) {
      std::vector<Reading> out;
      ASSERT_TRUE(parser->Parse(R"({"sensor":"a","value":1})", kCtx, &out).ok());
      ASSERT_EQ(out.size(), 1u);
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
}

// Ingest counts rejections by Status::reason(), never by the message: each rule's reason must
// survive the wrapping of batch elements and lines.
TEST(PayloadParsers, RejectionsCarryTheirReasonThroughBatchesAndLines) {
  struct Case {
    const PayloadParser* parser;
    std::string payload;
    std::string_view reason;
  };
  const auto json = Json();
  const auto number = Number();
  const auto line = Line();
  const std::vector<Case> cases = {
      {number.get(), "inf", parse_reason::kNotFinite},
      {number.get(), "nan", parse_reason::kNotFinite},
      {json.get(), R"({"sensor": "a", "value": 1, "ts": 1000})", parse_reason::kBadTime},
      {json.get(), R"([{"sensor": "a", "value": 1}, {"sensor": "", "value": 1}])",
       parse_reason::kBadSensor},
      {json.get(), kBigPayload, parse_reason::kTooLarge},
      {json.get(), "{not json", ""},
      {json.get(), R"({"sensor": "a", "value": "x"})", ""},
      {line.get(), "m v=1\nm v=inf", parse_reason::kNotFinite},
      {line.get(), "m v=1 1000", parse_reason::kBadTime},
      {line.get(), "m v=", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.payload.substr(0, 60));
    std::vector<Reading> out;
    const Status s =
        c.parser->Parse(c.payload, ParseContext{.topic = "plant/boiler", .now_us = kNow}, &out);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.reason(), c.reason) << s.message();
  }
}

}  // namespace
}  // namespace weir::codec
