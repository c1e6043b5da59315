// Validation of sensor ids, shared by every ingest path (payload parsers, CSV import).
//
// A sensor id is 1..256 bytes of valid UTF-8 (RFC 3629: shortest form, no surrogates, at most
// U+10FFFF) with no control characters (U+0000..U+001F, U+007F..U+009F). Pure functions,
// thread-safe, non-blocking.
#pragma once

#include <cstddef>
#include <string_view>

#include "agent/core/status.h"

namespace weir::codec {

inline constexpr size_t kMaxSensorIdBytes = 256;

// True when `text` is well-formed UTF-8.
bool IsValidUtf8(std::string_view text);

// OK, or InvalidArgument saying what is wrong ("sensor id is empty", "... is 300 bytes, more
// than 256", "... is not valid UTF-8 at byte 3", "... has control character 0x0a at byte 5").
// The message does not name a field; callers prefix it ("field 'sensor': ...").
Status ValidateSensorId(std::string_view id);

}  // namespace weir::codec
