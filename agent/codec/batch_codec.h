// The columnar batch encoding: a span of Readings <-> one compressed blob (a weir.v1.ReadingBatch
// in a single zstd frame). Format and rationale: agent/codec/BATCH_FORMAT.md.
//
// Encoding is lossless and bit-exact for every field, including NaN payloads, -0.0, infinities
// and extreme timestamps. Decoding validates everything and reports corrupt, truncated or foreign
// input as DataLoss; it never reads out of bounds and bounds what it allocates. Nothing here
// blocks or does I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::codec {

// zstd level used unless the caller picks another; see BATCH_FORMAT.md for the measurements.
inline constexpr int kDefaultBatchZstdLevel = 3;
// Largest batch Encode accepts and Decode believes. Callers split larger inputs.
inline constexpr size_t kMaxBatchReadings = size_t{1} << 20;
// Largest uncompressed (serialized) batch, which bounds Decode's input memory on hostile input.
inline constexpr size_t kMaxBatchRawBytes = size_t{64} << 20;
// Largest decoded batch, counted as sizeof(Reading) plus the sensor id's length per reading:
// bounds Decode's output memory (a tiny blob can repeat a long sensor id a million times).
inline constexpr size_t kMaxBatchDecodedBytes = size_t{256} << 20;

// Reusable encoder; keeps its zstd context and scratch buffers between calls.
// Not thread-safe: use one per thread. Movable, not copyable.
class BatchEncoder {
 public:
  explicit BatchEncoder(int zstd_level = kDefaultBatchZstdLevel);
  ~BatchEncoder();
  BatchEncoder(BatchEncoder&&) noexcept;
  BatchEncoder& operator=(BatchEncoder&&) noexcept;

  // Encodes readings (any sensors, any order, any bit patterns) into one compressed blob.
  // Returns InvalidArgument for empty input or more than kMaxBatchReadings readings,
  // ResourceExhausted when the batch would exceed kMaxBatchRawBytes or kMaxBatchDecodedBytes
  // (huge sensor ids), and Internal when zstd fails.
  Result<std::string> Encode(std::span<const Reading> readings);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Reusable decoder; keeps its zstd context and scratch buffer between calls.
// Not thread-safe: use one per thread. Movable, not copyable.
class BatchDecoder {
 public:
  BatchDecoder();
  ~BatchDecoder();
  BatchDecoder(BatchDecoder&&) noexcept;
  BatchDecoder& operator=(BatchDecoder&&) noexcept;

  // Returns exactly the readings that were encoded, in order, or DataLoss naming what is wrong
  // (bad zstd frame, checksum mismatch, malformed column, unknown revision, size over the bounds).
  Result<std::vector<Reading>> Decode(std::string_view blob);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One-shot forms (build a fresh context each call; prefer the classes on hot paths).
Result<std::string> EncodeBatch(std::span<const Reading> readings);
Result<std::vector<Reading>> DecodeBatch(std::string_view blob);

}  // namespace weir::codec
