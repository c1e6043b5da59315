// The InfluxDB line protocol parser; see LineProtocolParserOptions in payload_parser.h.
#include <algorithm>
#include <charconv>
#include <iterator>
#include <utility>

#include "agent/codec/parse_checks.h"
#include "agent/codec/payload_parser.h"
#include "agent/codec/sensor_id.h"

namespace weir::codec {
namespace {

using internal::FieldError;
using internal::Quoted;

constexpr std::string_view kMeasurementEscapes = ", ";
constexpr std::string_view kKeyEscapes = ",= ";

// Reads text up to the first unescaped character of `stops`, unescaping a backslash followed by
// a character of `escapable` (any other backslash is literal). Leaves *i at the stop or the end.
std::string ReadToken(std::string_view line, size_t* i, std::string_view stops,
                      std::string_view escapable) {
  std::string out;
  while (*i < line.size()) {
    const char c = line[*i];
    if (c == '\\' && *i + 1 < line.size() && escapable.find(line[*i + 1]) != std::string::npos) {
      out.push_back(line[*i + 1]);
      *i += 2;
      continue;
    }
    if (stops.find(c) != std::string::npos) break;
    out.push_back(c);
    ++*i;
  }
  return out;
}

void SkipSpaces(std::string_view line, size_t* i) {
  while (*i < line.size() && line[*i] == ' ') ++*i;
}

template <typename Int>
bool ParseWhole(std::string_view text, Int* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Parses a field value token (not a string) into *value.
Status ParseFieldValue(std::string_view key, std::string_view raw, double* value) {
  if (raw.empty()) return FieldError(key, "empty value");
  if (raw == "t" || raw == "T" || raw == "true" || raw == "True" || raw == "TRUE") {
    *value = 1;
    return Status::Ok();
  }
  if (raw == "f" || raw == "F" || raw == "false" || raw == "False" || raw == "FALSE") {
    *value = 0;
    return Status::Ok();
  }
  const char suffix = raw.back();
  if (suffix == 'i') {
    int64_t v = 0;
    if (!ParseWhole(raw.substr(0, raw.size() - 1), &v)) {
      return FieldError(key, "not a 64-bit integer (" + Quoted(raw) + ")");
    }
    *value = static_cast<double>(v);
    return Status::Ok();
  }
  if (suffix == 'u') {
    uint64_t v = 0;
    if (!ParseWhole(raw.substr(0, raw.size() - 1), &v)) {
      return FieldError(key, "not an unsigned 64-bit integer (" + Quoted(raw) + ")");
    }
    *value = static_cast<double>(v);
    return Status::Ok();
  }
  WEIR_ASSIGN_OR_RETURN(*value, internal::ParseDecimal(raw, key));
  return Status::Ok();
}

// Skips a double-quoted string field value starting at line[*i] == '"'.
Status SkipStringValue(std::string_view line, size_t* i, std::string_view key) {
  for (++*i; *i < line.size(); ++*i) {
    if (line[*i] == '\\' && *i + 1 < line.size()) {
      ++*i;  // \" or \\ (any escaped character is skipped whole)
    } else if (line[*i] == '"') {
      ++*i;
      return Status::Ok();
    }
  }
  return FieldError(key, "unterminated string");
}

class LineProtocolParser final : public PayloadParser {
 public:
  explicit LineProtocolParser(LineProtocolParserOptions options) : options_(std::move(options)) {}

  Status Parse(std::string_view payload, const ParseContext& ctx,
               std::vector<Reading>* out) const override {
    WEIR_RETURN_IF_ERROR(internal::CheckPayloadSize(payload, options_.limits));
    std::vector<Reading> readings;
    size_t points = 0;
    size_t line_no = 0;
    size_t start = 0;
    while (start <= payload.size()) {
      size_t end = payload.find('\n', start);
      if (end == std::string_view::npos) end = payload.size();
      std::string_view line = payload.substr(start, end - start);
      start = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      size_t first = line.find_first_not_of(" \t");
      if (first == std::string_view::npos || line[first] == '#') continue;
      ++points;
      Status s = ParseLine(line.substr(first), ctx, &readings);
      if (!s.ok()) return s.WithContext("line " + std::to_string(line_no));
    }
    if (points == 0) return InvalidArgument("payload: no points (empty or only comments)");
    if (readings.empty())
      return InvalidArgument("payload: no numeric fields (strings are skipped)");
    out->insert(out->end(), std::make_move_iterator(readings.begin()),
                std::make_move_iterator(readings.end()));
    return Status::Ok();
  }

 private:
  Status ParseLine(std::string_view line, const ParseContext& ctx,
                   std::vector<Reading>* out) const {
    size_t i = 0;
    std::string series = ReadToken(line, &i, ", ", kMeasurementEscapes);
    if (series.empty()) return FieldError("measurement", "empty");
    WEIR_RETURN_IF_ERROR(AppendSortedTags(line, &i, &series));
    SkipSpaces(line, &i);
    if (i == line.size()) return FieldError("fields", "missing (a point needs at least one)");

    // Fields first into a local list: the timestamp comes after them.
    std::vector<std::pair<std::string, double>> numeric;
    for (;;) {
      std::string key = ReadToken(line, &i, "=, ", kKeyEscapes);
      if (key.empty()) return FieldError("fields", "empty field key");
      if (i == line.size() || line[i] != '=') return FieldError(key, "missing '=' and value");
      ++i;
      if (i < line.size() && line[i] == '"') {
        WEIR_RETURN_IF_ERROR(SkipStringValue(line, &i, key));
      } else {
        const size_t value_start = i;
        while (i < line.size() && line[i] != ',' && line[i] != ' ') ++i;
        double value = 0;
        WEIR_RETURN_IF_ERROR(
            ParseFieldValue(key, line.substr(value_start, i - value_start), &value));
        numeric.emplace_back(std::move(key), value);
      }
      if (i < line.size() && line[i] == ',') {
        ++i;
        continue;
      }
      if (i < line.size() && line[i] != ' ') {
        return FieldError(key, "unexpected text after the value");
      }
      break;
    }

    SkipSpaces(line, &i);
    TimeMicros t = ctx.now_us;  // no timestamp: stamped at arrival
    if (i < line.size()) {
      std::string_view ts = line.substr(i);
      while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\t')) ts.remove_suffix(1);
      Result<TimeMicros> parsed = ParseEpoch(ts, options_.time_unit);
      if (!parsed.ok()) return FieldError("timestamp", parsed.status());
      WEIR_RETURN_IF_ERROR(internal::CheckTime(*parsed, ctx, options_.limits, "timestamp"));
      t = *parsed;
    }

    for (auto& [key, value] : numeric) {
      std::string sensor = series;
      sensor += '.';
      sensor += key;
      Status s = ValidateSensorId(sensor);
      if (!s.ok()) return FieldError(key, s);
      out->push_back(Reading{std::move(sensor), t, value, 0});
    }
    return Status::Ok();
  }

  // Reads ",k=v" tags at line[*i] and appends them to *series sorted by key.
  static Status AppendSortedTags(std::string_view line, size_t* i, std::string* series) {
    std::vector<std::pair<std::string, std::string>> tags;
    while (*i < line.size() && line[*i] == ',') {
      ++*i;
      std::string key = ReadToken(line, i, "=, ", kKeyEscapes);
      if (key.empty()) return FieldError("tags", "empty tag key");
      if (*i == line.size() || line[*i] != '=') {
        return InvalidArgument("tag '" + key + "': missing '=' and value");
      }
      ++*i;
      std::string value = ReadToken(line, i, ", ", kKeyEscapes);
      if (value.empty()) return InvalidArgument("tag '" + key + "': empty value");
      tags.emplace_back(std::move(key), std::move(value));
    }
    std::stable_sort(tags.begin(), tags.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, value] : tags) {
      *series += ',';
      *series += key;
      *series += '=';
      *series += value;
    }
    return Status::Ok();
  }

  const LineProtocolParserOptions options_;
};

}  // namespace

Result<std::unique_ptr<PayloadParser>> MakeLineProtocolParser(LineProtocolParserOptions options) {
  WEIR_RETURN_IF_ERROR(internal::CheckLimits(options.limits));
  return std::unique_ptr<PayloadParser>(std::make_unique<LineProtocolParser>(std::move(options)));
}

}  // namespace weir::codec
