// LogId: the random 128-bit identity of one on-device log. A log gets one when it is created
// (agent/store/FORMAT.md, meta keys log_id_hi/log_id_lo), every upstream envelope carries it
// (agent/codec/ENVELOPE_FORMAT.md), and a consumer identifies a record by (device, log id, lane,
// sequence): a wiped or replaced state directory starts a new log whose sequences restart at 1,
// and without the log id its records would look like duplicates of the old log's.
//
// A plain value type; header-only. The all-zero id means "none" (an envelope from a writer that
// predates log ids). Random() draws from std::random_device (the kernel's getrandom on Linux).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace weir {

struct LogId {
  uint64_t hi = 0;
  uint64_t lo = 0;

  bool empty() const { return hi == 0 && lo == 0; }

  // 32 lowercase hex digits, hi first ("" for the empty id).
  std::string ToHex() const {
    if (empty()) return "";
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(32, '0');
    for (int i = 0; i < 16; ++i) {
      out[static_cast<size_t>(i)] = kDigits[(hi >> (60 - 4 * i)) & 0xf];
      out[static_cast<size_t>(16 + i)] = kDigits[(lo >> (60 - 4 * i)) & 0xf];
    }
    return out;
  }

  // 16 bytes, big-endian (hi first): the protobuf form.
  std::string ToBytes() const {
    std::string out(16, '\0');
    for (int i = 0; i < 8; ++i) {
      out[static_cast<size_t>(i)] = static_cast<char>((hi >> (56 - 8 * i)) & 0xff);
      out[static_cast<size_t>(8 + i)] = static_cast<char>((lo >> (56 - 8 * i)) & 0xff);
    }
    return out;
  }

  // Exactly 32 hex digits (either case); nullopt otherwise.
  static std::optional<LogId> FromHex(std::string_view text) {
    if (text.size() != 32) return std::nullopt;
    LogId id;
    for (size_t i = 0; i < 32; ++i) {
      const char c = text[i];
      uint64_t d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<uint64_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<uint64_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<uint64_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
      uint64_t& half = i < 16 ? id.hi : id.lo;
      half = (half << 4) | d;
    }
    return id;
  }

  // Exactly 16 bytes, big-endian; nullopt otherwise.
  static std::optional<LogId> FromBytes(std::string_view bytes) {
    if (bytes.size() != 16) return std::nullopt;
    LogId id;
    for (size_t i = 0; i < 8; ++i) {
      id.hi = (id.hi << 8) | static_cast<uint8_t>(bytes[i]);
      id.lo = (id.lo << 8) | static_cast<uint8_t>(bytes[8 + i]);
    }
    return id;
  }

  // A new random id, never the empty one.
  static LogId Random() {
    std::random_device rd;
    LogId id;
    while (id.empty()) {
      id.hi = (uint64_t{rd()} << 32) | rd();
      id.lo = (uint64_t{rd()} << 32) | rd();
    }
    return id;
  }

  friend bool operator==(const LogId&, const LogId&) = default;
  friend auto operator<=>(const LogId&, const LogId&) = default;
};

}  // namespace weir
