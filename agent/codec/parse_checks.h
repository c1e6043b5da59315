// Checks and helpers shared by the payload parsers (internal to agent/codec): payload size, time
// range, sensor id from a topic, decimal numbers, and error messages that name the field.
// Pure functions; thread-safe; non-blocking.
#pragma once

#include <string>
#include <string_view>

#include "agent/codec/payload_parser.h"

namespace weir::codec::internal {

// InvalidArgument("field '<field>': <problem>") with `reason` (parse_reason, "" = malformed).
Status FieldError(std::string_view field, std::string_view problem, std::string_view reason = {});

// `cause` as an error of `field`: "field '<field>': <cause's message>", keeping its reason.
Status FieldError(std::string_view field, const Status& cause);

// `text` in single quotes, cut to 40 bytes with "..." for error messages.
std::string Quoted(std::string_view text);

// InvalidArgument unless the limits are usable (non-negative ranges, a non-zero size).
Status CheckLimits(const ParseLimits& limits);

// Rule 1 of payload_parser.h: "payload: N bytes, more than the limit of M".
Status CheckPayloadSize(std::string_view payload, const ParseLimits& limits);

// Rule 4: `t` within [now - max_past, now + max_future], else a FieldError for `field`.
Status CheckTime(TimeMicros t, const ParseContext& ctx, const ParseLimits& limits,
                 std::string_view field);

// The sensor id for `segment` of `topic` (kWholeTopic: all of it), validated by
// ValidateSensorId. Errors are FieldErrors for field 'sensor'.
Result<std::string_view> SensorFromTopic(std::string_view topic, int segment);

// A finite decimal number (strtod syntax via from_chars, leading '+' allowed). Errors are
// FieldErrors for `field`: "not a number ('abc')", "not a finite number (inf)".
Result<double> ParseDecimal(std::string_view text, std::string_view field);

}  // namespace weir::codec::internal
