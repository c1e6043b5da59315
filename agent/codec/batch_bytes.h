// Byte-level helpers for the batch columns: LEB128 varints, zigzag, a bounds-checked reader and
// a little-endian bit stream.
// Internal to agent/codec. Plain functions and value types; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace weir::codec::internal {

// Maps signed to unsigned so that small magnitudes of either sign give small varints.
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t u) { return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1)); }

// Appends `v` as an LEB128 varint (1..10 bytes).
inline void PutVarint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

// Reads from a byte range; every getter returns false instead of reading past the end or
// accepting an overlong/overflowing varint.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in)
      : p_(reinterpret_cast<const uint8_t*>(in.data())), end_(p_ + in.size()) {}

  bool empty() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  bool GetVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const uint64_t byte = *p_++;
      // The 10th byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && byte > 1) return false;
      result |= (byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }

  bool GetByte(uint8_t* b) {
    if (p_ == end_) return false;
    *b = *p_++;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Appends bit fields to a little-endian, least-significant-bit-first bit stream. Works in pieces
// of at most 32 bits so that a 64-bit accumulator suffices (no __int128 on 32-bit ARM).
class BitWriter {
 public:
  explicit BitWriter(std::string* out) : out_(out) {}
  // Appends the low `bits` (0..64) bits of `v`.
  void Put(uint64_t v, int bits) {
    while (bits > 0) {
      const int take = bits < 32 ? bits : 32;
      acc_ |= (v & ((uint64_t{1} << take) - 1)) << filled_;
      filled_ += take;
      v >>= take;
      bits -= take;
      while (filled_ >= 8) {
        out_->push_back(static_cast<char>(static_cast<uint8_t>(acc_)));
        acc_ >>= 8;
        filled_ -= 8;
      }
    }
  }
  // Writes the last partial byte, padded with zero bits.
  void Flush() {
    if (filled_ > 0) out_->push_back(static_cast<char>(static_cast<uint8_t>(acc_)));
    acc_ = 0;
    filled_ = 0;
  }

 private:
  std::string* out_;
  uint64_t acc_ = 0;
  int filled_ = 0;  // always < 8 between calls
};

// Reads what BitWriter wrote. The caller checks beforehand that the input holds every bit it
// will ask for; Get never reads past `end` regardless and returns zeros there.
class BitReader {
 public:
  BitReader(const uint8_t* begin, const uint8_t* end) : p_(begin), end_(end) {}
  uint64_t Get(int bits) {
    uint64_t v = 0;
    int got = 0;
    while (got < bits) {
      const int need = bits - got < 32 ? bits - got : 32;
      while (filled_ < need) {
        const uint64_t byte = p_ != end_ ? *p_++ : 0;
        acc_ |= byte << filled_;
        filled_ += 8;
      }
      v |= (acc_ & ((uint64_t{1} << need) - 1)) << got;
      acc_ >>= need;
      filled_ -= need;
      got += need;
    }
    return v;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t acc_ = 0;
  int filled_ = 0;  // < 40
};

}  // namespace weir::codec::internal
