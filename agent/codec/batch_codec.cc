// The batch codec: columns (batch_columns.h) in a weir.v1.ReadingBatch, in one zstd frame.
#include "agent/codec/batch_codec.h"

#include <zstd.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "agent/codec/batch_columns.h"
#include "weir/v1/reading_batch.pb.h"

namespace weir::codec {
namespace {

// Revision of the column layouts in BATCH_FORMAT.md; bump it for any incompatible change.
constexpr uint32_t kColumnEncoding = 1;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

std::string ZstdError(size_t code) { return ZSTD_getErrorName(code); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Encoder

struct BatchEncoder::State {
  int level;
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx{ZSTD_createCCtx()};
  weir::v1::ReadingBatch batch;
  std::vector<std::string_view> ids;
  std::vector<uint32_t> index;
  std::vector<uint32_t> quality;
  std::vector<uint64_t> deltas;
  std::string candidate;
  std::string scratch;
  std::string raw;

  // Compressed size of `column` alone, to pick the layout zstd likes best.
  size_t TrialSize(const std::string& column) {
    scratch.resize(ZSTD_compressBound(column.size()));
    const size_t n = ZSTD_compressCCtx(cctx.get(), scratch.data(), scratch.size(), column.data(),
                                       column.size(), level);
    return ZSTD_isError(n) ? column.size() : n;
  }

  // Writes the value deltas in whichever layout compresses smallest: varints suit smooth data,
  // byte planes and Rice splits noisy data. The best Rice parameter depends on how well zstd
  // entropy-codes the quotients and the remainder bytes, and on NAB it lies 0 to 4 bits above
  // RiceParameter's estimate, so those five are tried (1.769 -> 1.723 bytes/reading; each trial
  // costs a small zstd call, encode still runs at several million readings/s).
  internal::IntLayout WriteBestLayout(std::string* out) {
    using internal::IntLayout;
    out->clear();
    internal::WriteInts(deltas, IntLayout::kVarint, 0, out);
    IntLayout best = IntLayout::kVarint;
    size_t best_size = TrialSize(*out);
    auto consider = [&](IntLayout layout, int rice_bits) {
      candidate.clear();
      internal::WriteInts(deltas, layout, rice_bits, &candidate);
      const size_t size = TrialSize(candidate);
      if (size < best_size) {
        best_size = size;
        best = layout;
        out->swap(candidate);
      }
    };
    consider(IntLayout::kBytePlanes, 0);
    const int rice_bits = internal::RiceParameter(deltas);
    for (int bits = rice_bits; bits <= std::min(64, rice_bits + 4); ++bits) {
      consider(IntLayout::kRice, bits);
    }
    return best;
  }
};

BatchEncoder::BatchEncoder(int zstd_level) : state_(std::make_unique<State>()) {
  state_->level = zstd_level;
}
BatchEncoder::~BatchEncoder() = default;
BatchEncoder::BatchEncoder(BatchEncoder&&) noexcept = default;
BatchEncoder& BatchEncoder::operator=(BatchEncoder&&) noexcept = default;

Result<std::string> BatchEncoder::Encode(std::span<const Reading> readings) {
  if (readings.empty()) return InvalidArgument("batch encode: no readings");
  if (readings.size() > kMaxBatchReadings) {
    return InvalidArgument("batch encode: " + std::to_string(readings.size()) +
                           " readings exceed the batch limit of " +
                           std::to_string(kMaxBatchReadings));
  }
  State& st = *state_;
  if (st.cctx == nullptr) return Internal("batch encode: zstd context could not be created");
  // What the decoder will refuse must not be written in the first place.
  uint64_t decoded_size = 0;  // 64-bit: must not wrap on 32-bit targets
  for (const Reading& r : readings) decoded_size += sizeof(Reading) + r.sensor.size();
  if (decoded_size > kMaxBatchDecodedBytes) {
    return ResourceExhausted("batch encode: " + std::to_string(decoded_size) +
                             " bytes decoded would exceed the limit of " +
                             std::to_string(kMaxBatchDecodedBytes) + "; split the batch");
  }

  internal::BuildSensorIndex(readings, &st.ids, &st.index);
  const size_t num_sensors = st.ids.size();
  v1::ReadingBatch& batch = st.batch;
  batch.Clear();
  batch.set_column_encoding(kColumnEncoding);
  batch.set_count(static_cast<uint32_t>(readings.size()));
  for (std::string_view id : st.ids) batch.add_sensors(id.data(), id.size());
  internal::EncodeRuns(st.index, batch.mutable_sensor_runs());

  const uint64_t step = internal::CommonTimeStep(readings, st.index, num_sensors);
  batch.set_time_step(step);
  internal::EncodeTimestamps(readings, st.index, num_sensors, step, batch.mutable_timestamps());

  const int decimals = internal::ChooseDecimalScale(readings);
  if (decimals >= 0) {
    batch.set_value_encoding(v1::VALUE_ENCODING_DECIMAL_DELTA);
    batch.set_value_decimals(static_cast<uint32_t>(decimals));
    internal::EncodeDecimalValues(readings, st.index, num_sensors, decimals, &st.deltas,
                                  batch.mutable_value_residuals());
    batch.set_value_layout(static_cast<uint32_t>(st.WriteBestLayout(batch.mutable_values())));
  } else {
    batch.set_value_encoding(v1::VALUE_ENCODING_XOR_PLANES);
    internal::EncodeXorValues(readings, st.index, num_sensors, batch.mutable_values());
  }

  st.quality.resize(readings.size());
  bool any_quality = false;
  for (size_t i = 0; i < readings.size(); ++i) {
    st.quality[i] = readings[i].quality;
    any_quality |= readings[i].quality != 0;
  }
  if (any_quality) internal::EncodeRuns(st.quality, batch.mutable_quality());

  const size_t raw_size = batch.ByteSizeLong();
  if (raw_size > kMaxBatchRawBytes) {
    return ResourceExhausted("batch encode: " + std::to_string(raw_size) +
                             " bytes before compression exceed the limit of " +
                             std::to_string(kMaxBatchRawBytes) + "; split the batch");
  }
  st.raw.resize(raw_size);
  if (!batch.SerializeToArray(st.raw.data(), static_cast<int>(raw_size))) {
    return Internal("batch encode: protobuf serialization failed");
  }

  ZSTD_CCtx* cctx = st.cctx.get();
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, st.level);
  // The checksum turns flipped bytes into DataLoss instead of silently different readings.
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  std::string blob(ZSTD_compressBound(raw_size), '\0');
  const size_t n = ZSTD_compress2(cctx, blob.data(), blob.size(), st.raw.data(), raw_size);
  if (ZSTD_isError(n)) return Internal("batch encode: zstd: " + ZstdError(n));
  blob.resize(n);
  return blob;
}

// ---------------------------------------------------------------------------------------------
// Decoder

namespace internal {

// Buffers reused across decodes.
struct DecodeScratch {
  weir::v1::ReadingBatch batch;
  std::vector<uint32_t> index;
  std::vector<uint32_t> quality;
  std::vector<int64_t> times;
  std::vector<double> values;
  std::vector<uint64_t> deltas;
};

}  // namespace internal

struct BatchDecoder::State {
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx{ZSTD_createDCtx()};
  std::string raw;
  internal::DecodeScratch scratch;
};

BatchDecoder::BatchDecoder() : state_(std::make_unique<State>()) {}
BatchDecoder::~BatchDecoder() = default;
BatchDecoder::BatchDecoder(BatchDecoder&&) noexcept = default;
BatchDecoder& BatchDecoder::operator=(BatchDecoder&&) noexcept = default;

namespace {

Status Corrupt(std::string what) { return DataLoss("batch decode: " + std::move(what)); }

// Decompresses exactly one checksummed zstd frame that states its content size, within bounds.
Status Decompress(ZSTD_DCtx* dctx, std::string_view blob, std::string* raw) {
  // Magic number, then the frame header descriptor whose bit 2 is the content checksum flag
  // (RFC 8878 section 3.1.1.1); read by hand because ZSTD_getFrameHeader is not stable API.
  static constexpr char kMagic[4] = {'\x28', '\xB5', '\x2F', '\xFD'};
  if (blob.size() < 5 || blob.substr(0, 4) != std::string_view(kMagic, 4)) {
    return Corrupt("not a zstd frame");
  }
  if ((static_cast<uint8_t>(blob[4]) & 0x04) == 0) return Corrupt("zstd frame without checksum");
  const unsigned long long content_size = ZSTD_getFrameContentSize(blob.data(), blob.size());
  if (content_size == ZSTD_CONTENTSIZE_ERROR) return Corrupt("bad zstd frame header");
  if (content_size == ZSTD_CONTENTSIZE_UNKNOWN) return Corrupt("zstd frame without content size");
  if (content_size > kMaxBatchRawBytes) {
    return Corrupt("claims " + std::to_string(content_size) +
                   " bytes uncompressed, over the limit of " + std::to_string(kMaxBatchRawBytes));
  }
  const size_t frame_size = ZSTD_findFrameCompressedSize(blob.data(), blob.size());
  if (ZSTD_isError(frame_size)) return Corrupt("zstd frame: " + ZstdError(frame_size));
  if (frame_size != blob.size()) return Corrupt("trailing bytes after the zstd frame");

  raw->resize(static_cast<size_t>(content_size));
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  const size_t n = ZSTD_decompressDCtx(dctx, raw->data(), raw->size(), blob.data(), blob.size());
  if (ZSTD_isError(n)) return Corrupt("zstd: " + ZstdError(n));
  if (n != raw->size()) return Corrupt("zstd frame shorter than its stated size");
  return Status::Ok();
}

}  // namespace

namespace internal {

Result<std::vector<Reading>> DecodeUncompressedBatch(std::string_view raw, DecodeScratch& st) {
  v1::ReadingBatch& batch = st.batch;
  if (!batch.ParseFromArray(raw.data(), static_cast<int>(raw.size()))) {
    return Corrupt("not a ReadingBatch message");
  }
  if (batch.column_encoding() != kColumnEncoding) {
    return Corrupt("unknown column encoding " + std::to_string(batch.column_encoding()));
  }
  const size_t count = batch.count();
  if (count == 0 || count > kMaxBatchReadings) {
    return Corrupt("bad reading count " + std::to_string(count));
  }
  // Every reading takes at least one byte of timestamps, so a count the columns cannot back is
  // rejected before anything of that size is allocated.
  if (batch.timestamps().size() < count) return Corrupt("timestamps column shorter than count");
  const size_t num_sensors = static_cast<size_t>(batch.sensors_size());
  if (num_sensors == 0 || num_sensors > count) {
    return Corrupt("bad sensor count " + std::to_string(num_sensors));
  }
  WEIR_RETURN_IF_ERROR(
      internal::DecodeRuns(batch.sensor_runs(), count, num_sensors, "sensor_runs", &st.index));
  uint64_t decoded_size = 0;  // 64-bit: must not wrap on 32-bit targets
  for (uint32_t s : st.index) {
    decoded_size += sizeof(Reading) + batch.sensors(static_cast<int>(s)).size();
  }
  if (decoded_size > kMaxBatchDecodedBytes) {
    return Corrupt("decoded readings would take " + std::to_string(decoded_size) +
                   " bytes, over the limit of " + std::to_string(kMaxBatchDecodedBytes));
  }
  const uint64_t step = batch.time_step();
  if (step == 0 || step > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Corrupt("bad time step " + std::to_string(step));
  }
  st.times.resize(count);
  WEIR_RETURN_IF_ERROR(
      internal::DecodeTimestamps(batch.timestamps(), st.index, num_sensors, step, st.times));

  st.values.resize(count);
  switch (batch.value_encoding()) {
    case v1::VALUE_ENCODING_DECIMAL_DELTA:
      if (batch.value_decimals() > internal::kMaxValueDecimals) {
        return Corrupt("bad value decimals " + std::to_string(batch.value_decimals()));
      }
      if (batch.value_layout() > static_cast<uint32_t>(internal::IntLayout::kRice)) {
        return Corrupt("unknown value layout " + std::to_string(batch.value_layout()));
      }
      WEIR_RETURN_IF_ERROR(
          internal::ReadInts(batch.values(), static_cast<internal::IntLayout>(batch.value_layout()),
                             count, "values", &st.deltas));
      WEIR_RETURN_IF_ERROR(
          internal::DecodeDecimalValues(st.deltas, batch.value_residuals(), st.index, num_sensors,
                                        static_cast<int>(batch.value_decimals()), st.values));
      break;
    case v1::VALUE_ENCODING_XOR_PLANES:
      if (!batch.value_residuals().empty()) return Corrupt("residuals with XOR planes");
      WEIR_RETURN_IF_ERROR(
          internal::DecodeXorValues(batch.values(), st.index, num_sensors, st.values));
      break;
    default:
      return Corrupt("unknown value encoding " + std::to_string(batch.value_encoding()));
  }

  const bool has_quality = !batch.quality().empty();
  if (has_quality) {
    WEIR_RETURN_IF_ERROR(
        internal::DecodeRuns(batch.quality(), count, uint64_t{1} << 32, "quality", &st.quality));
  }

  std::vector<Reading> out(count);
  for (size_t i = 0; i < count; ++i) {
    Reading& r = out[i];
    r.sensor = batch.sensors(static_cast<int>(st.index[i]));
    r.time_us = st.times[i];
    r.value = st.values[i];
    r.quality = has_quality ? st.quality[i] : 0;
  }
  return out;
}

Result<std::vector<Reading>> DecodeUncompressedBatch(std::string_view raw) {
  DecodeScratch scratch;
  return DecodeUncompressedBatch(raw, scratch);
}

}  // namespace internal

Result<std::vector<Reading>> BatchDecoder::Decode(std::string_view blob) {
  State& st = *state_;
  if (st.dctx == nullptr) return Internal("batch decode: zstd context could not be created");
  WEIR_RETURN_IF_ERROR(Decompress(st.dctx.get(), blob, &st.raw));
  return internal::DecodeUncompressedBatch(st.raw, st.scratch);
}

Result<std::string> EncodeBatch(std::span<const Reading> readings) {
  BatchEncoder encoder;
  return encoder.Encode(readings);
}

Result<std::vector<Reading>> DecodeBatch(std::string_view blob) {
  BatchDecoder decoder;
  return decoder.Decode(blob);
}

}  // namespace weir::codec
