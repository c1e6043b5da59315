// Shared parser checks and the format-name factory; see payload_parser.h and parse_checks.h.
#include "agent/codec/payload_parser.h"

#include <charconv>
#include <cmath>

#include "agent/codec/parse_checks.h"
#include "agent/codec/sensor_id.h"

namespace weir::codec {
namespace internal {

Status FieldError(std::string_view field, const Status& cause) {
  return FieldError(field, cause.message(), cause.reason());
}

Status FieldError(std::string_view field, std::string_view problem, std::string_view reason) {
  std::string msg = "field '";
  msg.append(field);
  msg += "': ";
  msg.append(problem);
  return InvalidArgument(std::move(msg)).WithReason(reason);
}

std::string Quoted(std::string_view text) {
  constexpr size_t kMaxShown = 40;
  std::string out = "'";
  out.append(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

Status CheckLimits(const ParseLimits& limits) {
  if (limits.max_payload_bytes == 0) return InvalidArgument("max_payload_bytes must be > 0");
  if (limits.max_past_us < 0) return InvalidArgument("max_past must not be negative");
  if (limits.max_future_us < 0) return InvalidArgument("max_future must not be negative");
  return Status::Ok();
}

Status CheckPayloadSize(std::string_view payload, const ParseLimits& limits) {
  if (payload.size() <= limits.max_payload_bytes) return Status::Ok();
  return InvalidArgument("payload: " + std::to_string(payload.size()) +
                         " bytes, more than the limit of " +
                         std::to_string(limits.max_payload_bytes))
      .WithReason(parse_reason::kTooLarge);
}

Status CheckTime(TimeMicros t, const ParseContext& ctx, const ParseLimits& limits,
                 std::string_view field) {
  // Saturating bounds: a now_us near the int64 edges must not wrap.
  TimeMicros lo = 0, hi = 0;
  if (__builtin_sub_overflow(ctx.now_us, limits.max_past_us, &lo)) lo = INT64_MIN;
  if (__builtin_add_overflow(ctx.now_us, limits.max_future_us, &hi)) hi = INT64_MAX;
  if (t >= lo && t <= hi) return Status::Ok();
  return FieldError(field,
                    FormatRfc3339(t) + " is outside the accepted range [" + FormatRfc3339(lo) +
                        ", " + FormatRfc3339(hi) + "]",
                    parse_reason::kBadTime);
}

Result<std::string_view> SensorFromTopic(std::string_view topic, int segment) {
  std::string_view id = topic;
  if (segment != kWholeTopic) {
    size_t start = 0;
    for (int i = 0; i < segment; ++i) {
      const size_t slash = topic.find('/', start);
      if (slash == std::string_view::npos) {
        return FieldError("sensor",
                          "topic " + Quoted(topic) + " has no segment " + std::to_string(segment));
      }
      start = slash + 1;
    }
    const size_t end = topic.find('/', start);
    id = topic.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  }
  Status s = ValidateSensorId(id);
  if (!s.ok()) return FieldError("sensor", s.WithContext("from topic"));
  return id;
}

Result<double> ParseDecimal(std::string_view text, std::string_view field) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  const bool had_plus = digits.size() < text.size();
  // "+-1" and "++1": from_chars would take the rest, but a number has one sign.
  if (digits.empty() || digits.front() == '+' || (had_plus && digits.front() == '-')) {
    return FieldError(field, "not a number (" + Quoted(text) + ")");
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return FieldError(field, "out of the range of a double (" + Quoted(text) + ")");
  }
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return FieldError(field, "not a number (" + Quoted(text) + ")");
  }
  if (std::isnan(value))
    return FieldError(field, "not a finite number (NaN)", parse_reason::kNotFinite);
  if (std::isinf(value))
    return FieldError(field, "not a finite number (inf)", parse_reason::kNotFinite);
  return value;
}

}  // namespace internal

Result<std::unique_ptr<PayloadParser>> MakeParser(const ParserConfig& config) {
  if (config.format == "json") {
    JsonParserOptions options = config.json;
    options.limits = config.limits;
    if (config.sensor_topic_segment) options.sensor_topic_segment = config.sensor_topic_segment;
    return MakeJsonParser(std::move(options));
  }
  if (config.format == "number") {
    return MakeNumberParser(
        {.sensor_topic_segment = config.sensor_topic_segment.value_or(kWholeTopic),
         .limits = config.limits});
  }
  if (config.format == "line") {
    return MakeLineProtocolParser({.limits = config.limits});
  }
  return InvalidArgument("format " + internal::Quoted(config.format) +
                         ": expected 'json', 'number' or 'line'");
}

}  // namespace weir::codec
