// The column encoders and decoders of a ReadingBatch (layouts in agent/codec/BATCH_FORMAT.md).
// Internal to agent/codec: pure functions over spans, no compression, no shared state.
// Encoders cannot fail; decoders return DataLoss naming the column when their input is malformed
// and never read or write out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::codec::internal {

// Largest decimal scale the decimal value encoding uses (10^18 is still an exact double).
inline constexpr int kMaxValueDecimals = 18;

// Fills `ids` with the distinct sensor ids in first-appearance order (views into `readings`)
// and `index` with each reading's position in `ids`.
void BuildSensorIndex(std::span<const Reading> readings, std::vector<std::string_view>* ids,
                      std::vector<uint32_t>* index);

// Symbols as runs: (varint symbol, varint run length)*. Used for sensor indexes and quality.
void EncodeRuns(std::span<const uint32_t> symbols, std::string* out);
// Decodes exactly `count` symbols, each below `limit`, consuming all of `in`.
Status DecodeRuns(std::string_view in, size_t count, uint64_t limit, std::string_view column,
                  std::vector<uint32_t>* out);

// The greatest common divisor of every per-sensor time delta (1 when there is none, or when it
// would not fit an int64).
uint64_t CommonTimeStep(std::span<const Reading> readings, std::span<const uint32_t> index,
                        size_t num_sensors);
void EncodeTimestamps(std::span<const Reading> readings, std::span<const uint32_t> index,
                      size_t num_sensors, uint64_t step, std::string* out);
Status DecodeTimestamps(std::string_view in, std::span<const uint32_t> index, size_t num_sensors,
                        uint64_t step, std::span<int64_t> out);

// The decimal scale k that makes the decimal encoding smallest (most values within a few ulps
// of m / 10^k with |m| < 2^53, few decimals), or -1 when most values are near no short decimal.
int ChooseDecimalScale(std::span<const Reading> readings);
// Sets *deltas to the per-sensor deltas (zigzag) of m = round(value * 10^decimals) and
// appends, per reading, the residual (value bits - bits of m / 10^decimals) to *residuals, which
// is left empty when every residual is zero. Bit-exact for every double at any scale.
void EncodeDecimalValues(std::span<const Reading> readings, std::span<const uint32_t> index,
                         size_t num_sensors, int decimals, std::vector<uint64_t>* deltas,
                         std::string* residuals);
Status DecodeDecimalValues(std::span<const uint64_t> deltas, std::string_view residuals,
                           std::span<const uint32_t> index, size_t num_sensors, int decimals,
                           std::span<double> out);

// Byte layouts of a column of unsigned integers (the value deltas). Which one compresses best
// depends on the data, so the encoder tries them.
enum class IntLayout : uint8_t {
  kVarint = 0,      // LEB128 varints
  kBytePlanes = 1,  // width byte w, then w planes of one byte per integer, most significant first
  kRice = 2,        // parameter byte k, varints of (u >> k), then the low k bits as a bit stream
};
// The Rice parameter WriteInts(kRice) should use for these integers.
int RiceParameter(std::span<const uint64_t> ints);
// Appends `ints` in `layout` (rice_bits in 0..64 is used by kRice only).
void WriteInts(std::span<const uint64_t> ints, IntLayout layout, int rice_bits, std::string* out);
// Reads exactly `count` integers written by WriteInts, consuming all of `in`.
Status ReadInts(std::string_view in, IntLayout layout, size_t count, std::string_view column,
                std::vector<uint64_t>* out);

void EncodeXorValues(std::span<const Reading> readings, std::span<const uint32_t> index,
                     size_t num_sensors, std::string* out);
Status DecodeXorValues(std::string_view in, std::span<const uint32_t> index, size_t num_sensors,
                       std::span<double> out);

// The part of BatchDecoder::Decode after decompression: parses and checks a serialized
// ReadingBatch (implemented in batch_codec.cc). Exposed so that tests and fuzzers can reach the
// column decoders behind zstd's checksum. Returns the readings or DataLoss.
Result<std::vector<Reading>> DecodeUncompressedBatch(std::string_view raw);

}  // namespace weir::codec::internal
