// Sensor id validation: UTF-8 well-formedness, length and control characters.
#include "agent/codec/sensor_id.h"

#include <cstdint>
#include <cstdio>
#include <string>

#include "agent/codec/payload_parser.h"

namespace weir::codec {
namespace {

// Decodes one UTF-8 sequence at text[i]; returns its length and sets *cp, or 0 when it is
// malformed (truncated, overlong, surrogate, beyond U+10FFFF, stray continuation byte).
size_t DecodeOne(std::string_view text, size_t i, uint32_t* cp) {
  const auto b0 = static_cast<uint8_t>(text[i]);
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t len = 0;
  uint32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, *cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, *cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(text[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return 0;
  return len;
}

bool IsControl(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

bool IsValidUtf8(std::string_view text) {
  uint32_t cp = 0;
  for (size_t i = 0; i < text.size();) {
    // Fast path for ASCII runs, the common case for sensor ids and payloads.
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = DecodeOne(text, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {
// A rejected id: reason bad_sensor (payload_parser.h, rule 5).
Status BadSensor(std::string message) {
  return InvalidArgument(std::move(message)).WithReason(parse_reason::kBadSensor);
}
}  // namespace

Status ValidateSensorId(std::string_view id) {
  if (id.empty()) return BadSensor("sensor id is empty");
  if (id.size() > kMaxSensorIdBytes) {
    return BadSensor("sensor id is " + std::to_string(id.size()) + " bytes, more than " +
                     std::to_string(kMaxSensorIdBytes));
  }
  uint32_t cp = 0;
  for (size_t i = 0; i < id.size();) {
    const size_t n = DecodeOne(id, i, &cp);
    if (n == 0) {
      return BadSensor("sensor id is not valid UTF-8 at byte " + std::to_string(i));
    }
    if (IsControl(cp)) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(cp));
      return BadSensor("sensor id has control character " + std::string(hex) + " at byte " +
                       std::to_string(i));
    }
    i += n;
  }
  return Status::Ok();
}

}  // namespace weir::codec
