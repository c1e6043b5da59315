// The JSON payload parser (nlohmann_json); see JsonParserOptions in payload_parser.h.
// nlohmann reports errors by exception; they are caught here and become Status values.
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

#include "agent/codec/parse_checks.h"
#include "agent/codec/payload_parser.h"
#include "agent/codec/sensor_id.h"

namespace weir::codec {
namespace {

using internal::FieldError;
using nlohmann::json;

constexpr int kMaxDepth = 16;

// nlohmann's parser is iterative, but a shallow cap keeps hostile inputs cheap and our own
// per-element work predictable. Counts brackets outside strings.
Status CheckDepth(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) {
        return InvalidArgument("payload: JSON nested deeper than " + std::to_string(kMaxDepth) +
                               " levels");
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return Status::Ok();
}

// "[json.exception.parse_error.101] parse error at line 1, ..." -> "parse error at line 1, ...".
std::string CleanWhat(const char* what) {
  std::string_view s(what);
  if (s.starts_with("[json.exception.")) {
    const size_t end = s.find("] ");
    if (end != std::string_view::npos) s.remove_prefix(end + 2);
  }
  return std::string(s);
}

std::string WrongType(const json& v, std::string_view expected) {
  return "wrong type: " + std::string(v.type_name()) + ", expected " + std::string(expected);
}

class JsonParser final : public PayloadParser {
 public:
  explicit JsonParser(JsonParserOptions options) : options_(std::move(options)) {}

  Status Parse(std::string_view payload, const ParseContext& ctx,
               std::vector<Reading>* out) const override {
    WEIR_RETURN_IF_ERROR(internal::CheckPayloadSize(payload, options_.limits));
    WEIR_RETURN_IF_ERROR(CheckDepth(payload));
    try {
      const json doc = json::parse(payload.begin(), payload.end());
      std::vector<Reading> readings;
      if (doc.is_object()) {
        WEIR_RETURN_IF_ERROR(ParseObject(doc, ctx, &readings));
      } else if (doc.is_array()) {
        readings.reserve(doc.size());
        for (size_t i = 0; i < doc.size(); ++i) {
          Status s = doc[i].is_object() ? ParseObject(doc[i], ctx, &readings)
                                        : InvalidArgument(WrongType(doc[i], "an object"));
          if (!s.ok()) return s.WithContext("element " + std::to_string(i));
        }
      } else {
        return InvalidArgument("payload: " + WrongType(doc, "a JSON object or array of objects"));
      }
      out->insert(out->end(), std::make_move_iterator(readings.begin()),
                  std::make_move_iterator(readings.end()));
      return Status::Ok();
    } catch (const json::exception& e) {
      return InvalidArgument("payload: malformed JSON: " + CleanWhat(e.what()));
    } catch (const std::exception& e) {
      return InvalidArgument("payload: " + std::string(e.what()));
    }
  }

 private:
  Status ParseObject(const json& obj, const ParseContext& ctx, std::vector<Reading>* out) const {
    Reading r;
    WEIR_RETURN_IF_ERROR(ParseSensor(obj, ctx, &r.sensor));
    WEIR_RETURN_IF_ERROR(ParseTime(obj, ctx, &r.time_us));
    WEIR_RETURN_IF_ERROR(ParseValue(obj, &r.value));
    WEIR_RETURN_IF_ERROR(ParseQuality(obj, &r.quality));
    out->push_back(std::move(r));
    return Status::Ok();
  }

  Status ParseSensor(const json& obj, const ParseContext& ctx, std::string* sensor) const {
    const std::string& field = options_.sensor_field;
    const auto it = obj.find(field);
    if (it == obj.end()) {
      if (!options_.sensor_topic_segment) return FieldError(field, "missing");
      WEIR_ASSIGN_OR_RETURN(const std::string_view id,
                            internal::SensorFromTopic(ctx.topic, *options_.sensor_topic_segment));
      sensor->assign(id);
      return Status::Ok();
    }
    if (!it->is_string()) return FieldError(field, WrongType(*it, "a string"));
    const auto& id = it->get_ref<const std::string&>();
    Status s = ValidateSensorId(id);
    if (!s.ok()) return FieldError(field, s);
    *sensor = id;
    return Status::Ok();
  }

  Status ParseTime(const json& obj, const ParseContext& ctx, TimeMicros* t) const {
    const std::string& field = options_.time_field;
    const auto it = obj.find(field);
    if (it == obj.end()) {
      *t = ctx.now_us;  // no time of its own: stamped at arrival
      return Status::Ok();
    }
    Result<TimeMicros> parsed = InvalidArgument("");
    if (it->is_number_unsigned()) {
      const auto v = it->get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return FieldError(field, "epoch value " + std::to_string(v) + " overflows microseconds");
      }
      parsed = EpochToMicros(static_cast<int64_t>(v), options_.time_unit);
    } else if (it->is_number_integer()) {
      parsed = EpochToMicros(it->get<int64_t>(), options_.time_unit);
    } else if (it->is_number_float()) {
      parsed = EpochToMicros(it->get<double>(), options_.time_unit);
    } else if (it->is_string()) {
      // Some devices quote their epoch numbers; digits alone are an epoch, not a date.
      const auto& text = it->get_ref<const std::string&>();
      const bool digits =
          !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      parsed = digits ? ParseEpoch(text, options_.time_unit) : ParseTimestamp(text);
    } else {
      return FieldError(field, WrongType(*it, "a number or an RFC 3339 string"));
    }
    if (!parsed.ok()) return FieldError(field, parsed.status());
    WEIR_RETURN_IF_ERROR(internal::CheckTime(*parsed, ctx, options_.limits, field));
    *t = *parsed;
    return Status::Ok();
  }

  Status ParseValue(const json& obj, double* value) const {
    const std::string& field = options_.value_field;
    const auto it = obj.find(field);
    if (it == obj.end()) return FieldError(field, "missing");
    if (!it->is_number()) return FieldError(field, WrongType(*it, "a number"));
    const double v = it->get<double>();
    // JSON has no NaN literal, but an overflowing literal such as 1e999 parses as infinity.
    if (std::isnan(v))
      return FieldError(field, "not a finite number (NaN)", parse_reason::kNotFinite);
    if (std::isinf(v))
      return FieldError(field, "not a finite number (inf)", parse_reason::kNotFinite);
    *value = v;
    return Status::Ok();
  }

  Status ParseQuality(const json& obj, uint32_t* quality) const {
    const std::string& field = options_.quality_field;
    const auto it = obj.find(field);
    if (it == obj.end()) {
      *quality = 0;
      return Status::Ok();
    }
    constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
    if (it->is_number_unsigned()) {
      const auto v = it->get<uint64_t>();
      if (v > kMax)
        return FieldError(field, std::to_string(v) + " is above " + std::to_string(kMax));
      *quality = static_cast<uint32_t>(v);
      return Status::Ok();
    }
    if (it->is_number_integer()) {  // only negative values reach here
      return FieldError(field, std::to_string(it->get<int64_t>()) + " is negative");
    }
    return FieldError(field, WrongType(*it, "an integer"));
  }

  const JsonParserOptions options_;
};

}  // namespace

Result<std::unique_ptr<PayloadParser>> MakeJsonParser(JsonParserOptions options) {
  WEIR_RETURN_IF_ERROR(internal::CheckLimits(options.limits));
  const std::pair<const char*, const std::string*> fields[] = {{"sensor", &options.sensor_field},
                                                               {"time", &options.time_field},
                                                               {"value", &options.value_field},
                                                               {"quality", &options.quality_field}};
  for (const auto& [what, name] : fields) {
    if (name->empty()) return InvalidArgument(std::string("json ") + what + " field name is empty");
  }
  if (options.sensor_topic_segment && *options.sensor_topic_segment < kWholeTopic) {
    return InvalidArgument(
        "sensor_topic_segment must be -1 (whole topic) or a segment index, got " +
        std::to_string(*options.sensor_topic_segment));
  }
  return std::unique_ptr<PayloadParser>(std::make_unique<JsonParser>(std::move(options)));
}

}  // namespace weir::codec
