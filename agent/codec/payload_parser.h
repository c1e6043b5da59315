// Ingest payload parsers: turn one MQTT (or stdin) payload into Readings, or reject it with a
// reason that names the field and the problem. Formats: JSON, a bare number, InfluxDB line
// protocol.
//
// Threads and ownership: a parser is built once per subscription by a factory and owned by the
// caller (unique_ptr); Parse is const, keeps no state, never blocks, and is safe to call from
// several threads at once. Parse never throws and never crashes on any input.
//
// Rules every parser applies (in this order):
//   1. A payload longer than ParseLimits::max_payload_bytes is rejected before it is parsed:
//      "payload: 70000 bytes, more than the limit of 65536".
//   2. The text is parsed per format (below); malformed text, missing fields and wrong types are
//      rejected naming the field ("field 'value': missing").
//   3. Values must be finite: "field 'value': not a finite number (inf)".
//   4. Event times must lie in [now - max_past_us, now + max_future_us], now being
//      ParseContext::now_us (the wall clock): "field 'ts': 1970-01-01T00:00:00Z is outside the
//      accepted range [2016-...Z, 2026-...Z]". A reading without a time of its own is stamped
//      with now_us.
//   5. Sensor ids must pass ValidateSensorId (1..256 bytes of UTF-8, no control characters):
//      "field 'sensor': sensor id is empty".
// On any error nothing is appended to `out` and the result is InvalidArgument whose reason()
// (core/status.h) is one of parse_reason below, or "" for anything else (malformed); a batch
// payload is accepted or rejected whole. Errors inside a batch say where: "element 3: field
// 'value':
// ..." (JSON arrays, 0-based), "line 2: field 'temp': ..." (line protocol, 1-based).
//
// Sensor from the topic (bare numbers always; JSON when the object has no sensor field and a
// segment is configured): the topic is split on '/'; segment k (0-based) is the id, or the whole
// topic for kWholeTopic. "weir/dev1/boiler/temp" with segment 2 gives "boiler".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/codec/timestamp.h"
#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::codec {

// Status::reason() of a parse error: the stable words ingest counts rejections and dead letters
// by. An error without one of these is "malformed".
namespace parse_reason {
inline constexpr std::string_view kTooLarge = "too_large";    // rule 1
inline constexpr std::string_view kNotFinite = "not_finite";  // rule 3 (also a NaN/inf epoch)
inline constexpr std::string_view kBadTime = "bad_time";      // rule 4
inline constexpr std::string_view kBadSensor = "bad_sensor";  // rule 5
inline constexpr std::string_view kMalformed = "malformed";   // everything else
}  // namespace parse_reason

struct ParseContext {
  std::string_view topic;  // the MQTT topic the payload arrived on ("" for stdin)
  TimeMicros now_us = 0;   // wall clock at arrival: stamps readings without a time, bounds times
};

inline constexpr int64_t kMicrosPerDay = 86'400'000'000;

struct ParseLimits {
  size_t max_payload_bytes = 64 * 1024;
  int64_t max_past_us = 3653 * kMicrosPerDay;  // ten years back
  int64_t max_future_us = kMicrosPerDay;       // one day ahead (clock skew between devices)
};

// For ParserOptions::sensor_topic_segment: the whole topic is the sensor id.
inline constexpr int kWholeTopic = -1;

class PayloadParser {
 public:
  virtual ~PayloadParser() = default;
  // Appends the readings in `payload` to `out`. On error appends nothing and returns
  // InvalidArgument whose message names the field and the problem.
  virtual Status Parse(std::string_view payload, const ParseContext& ctx,
                       std::vector<Reading>* out) const = 0;
};

// JSON. One object, or an array of objects (a batch), each:
//   {"sensor": "boiler.temp", "ts": 1700000000000, "value": 21.5, "quality": 0}
// - sensor: a string. When absent, the id comes from the topic if sensor_topic_segment is set;
//   otherwise the object is rejected.
// - ts: a number (epoch in `time_unit`, default milliseconds; fractions allowed), a string of
//   digits (the same epoch, quoted), or a string in any form ParseTimestamp accepts (RFC 3339,
//   "2014-04-01 00:00:00" as UTC). When absent the reading is stamped with ParseContext::now_us.
// - value: a JSON number (strings and booleans are wrong types).
// - quality: optional; an integer in [0, 2^32). Absent means 0 (good).
// Other members are ignored. Nesting deeper than 16 levels is rejected before parsing. The JSON
// must be UTF-8 (RFC 8259); invalid UTF-8 anywhere is malformed JSON, reported with its position.
struct JsonParserOptions {
  std::string sensor_field = "sensor";
  std::string time_field = "ts";
  std::string value_field = "value";
  std::string quality_field = "quality";
  EpochUnit time_unit = EpochUnit::kMillis;
  std::optional<int> sensor_topic_segment;  // nullopt: the payload must name the sensor
  ParseLimits limits;
};

// A bare number: the payload is a decimal number ("21.5", "-3e2", "+4"), surrounding whitespace
// ignored. Sensor from the topic, time = ParseContext::now_us, quality 0.
struct NumberParserOptions {
  int sensor_topic_segment = kWholeTopic;
  ParseLimits limits;
};

// InfluxDB line protocol, one point per line:
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
// - One reading per numeric field. Sensor id = measurement, then ",key=value" for each tag sorted
//   by key (InfluxDB's series-key order, so tag order in the text does not change the id), then
//   "." and the field key: `cpu,host=a,dc=x usage=1` -> "cpu,dc=x,host=a.usage". Ids use the
//   unescaped text.
// - Escapes: `\,` and `\ ` in measurements; `\,` `\ ` `\=` in tag keys, tag values and field keys;
//   `\"` and `\\` in string field values. A backslash before any other character is literal.
// - Field values: floats (1.5, -2e3), integers (3i), unsigned (3u), booleans (t, T, true, True,
//   TRUE -> 1; f, F, false, False, FALSE -> 0). String fields ("...") are skipped: weir stores
//   numbers only. A payload with no numeric field at all is rejected ("no numeric fields").
// - Timestamp: an integer in `time_unit` (default nanoseconds, truncated to microseconds); absent
//   means ParseContext::now_us.
// - Empty lines and lines starting with '#' are ignored; CRLF is tolerated.
struct LineProtocolParserOptions {
  EpochUnit time_unit = EpochUnit::kNanos;
  ParseLimits limits;
};

// Factories. InvalidArgument when the options are unusable (an empty field name, a topic segment
// below -1, negative limits).
Result<std::unique_ptr<PayloadParser>> MakeJsonParser(JsonParserOptions options);
Result<std::unique_ptr<PayloadParser>> MakeNumberParser(NumberParserOptions options);
Result<std::unique_ptr<PayloadParser>> MakeLineProtocolParser(LineProtocolParserOptions options);

// One subscription's parser from its configured format name: "json", "number" or "line".
// `json` supplies the JSON field names and time unit; `sensor_topic_segment` applies to "number"
// (default: whole topic) and "json" (default: none); `limits` to all. InvalidArgument for an
// unknown format, naming it.
struct ParserConfig {
  std::string format = "json";
  JsonParserOptions json;
  std::optional<int> sensor_topic_segment;
  ParseLimits limits;
};
Result<std::unique_ptr<PayloadParser>> MakeParser(const ParserConfig& config);

}  // namespace weir::codec
