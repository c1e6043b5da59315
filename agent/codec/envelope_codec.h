// The upstream envelope: one MQTT message carrying a contiguous sequence range of one lane of one
// device, as binary protobuf (weir.v1.Envelope, readings as a BatchEncoder blob) or as JSON for
// cloud rule engines. Both forms decode into one struct. Format: agent/codec/ENVELOPE_FORMAT.md.
//
// Pure functions: thread-safe, non-blocking, no I/O. Decoding validates every field and never
// crashes on garbage: DataLoss for bytes that are not an envelope, InvalidArgument (naming the
// field) for an envelope whose fields contradict each other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/log_id.h"
#include "agent/core/record.h"
#include "agent/core/status.h"

namespace weir::codec {

enum class EnvelopeFormat : uint8_t { kBinary = 0, kJson = 1 };

// Smallest max_message_bytes SplitEnvelope accepts. Any envelope of one reading with a sensor id
// of up to 256 bytes, in either format, fits in it; a single record larger than the cap (a
// defect with much evidence, a very long sensor id) is OutOfRange, never truncated.
inline constexpr size_t kMinEnvelopeCapBytes = 1024;

// Records first_seq..last_seq of the lane are lost (evicted, damaged, or refused by the upstream
// for good); `reason` starts with that kind word (see kGapReason*).
struct EnvelopeGap {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t records = 0;  // how many records the range held (weir.v1.Gap.readings)
  TimeMicros oldest_time_us = 0;
  TimeMicros newest_time_us = 0;
  std::string reason;
  friend bool operator==(const EnvelopeGap&, const EnvelopeGap&) = default;
};

// The first word of EnvelopeGap::reason, which a consumer may match on; details may follow
// after ": ".
inline constexpr std::string_view kGapReasonEvicted = "evicted";
inline constexpr std::string_view kGapReasonDamaged = "damaged";
inline constexpr std::string_view kGapReasonRejected = "rejected";

// One envelope's content. Exactly one kind of body:
//  - readings (lane kReadings): reading i has sequence first_seq + i, so
//    readings.size() == last_seq - first_seq + 1;
//  - defects (lane kDefects): defect i has sequence defect_seqs[i], strictly increasing, inside
//    first_seq..last_seq, the last one equal to last_seq;
//  - gap (either lane): the range is lost; gap->first_seq/last_seq equal the envelope's.
struct Envelope {
  std::string device_id;
  // The device's log these sequences belong to; empty only from writers that predate log ids.
  LogId log_id;
  uint64_t boot_epoch = 0;
  Lane lane = Lane::kReadings;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  // Last sequence of the previous record of this lane (0 if none): the consumer's gap check.
  uint64_t prev_seq = 0;
  TimeMicros sent_at_us = 0;
  std::vector<Reading> readings;
  std::vector<Defect> defects;
  std::vector<uint64_t> defect_seqs;
  std::optional<EnvelopeGap> gap;
  // Binary only, optional: a BatchEncoder blob holding exactly `readings` (a stored chunk
  // shipped without re-encoding). When set, `readings` may be left empty on encode. Never set
  // by decoding.
  std::string readings_blob;

  friend bool operator==(const Envelope&, const Envelope&) = default;
};

// Checks the invariants above. InvalidArgument naming the field (e.g. "envelope last_seq: ...").
Status ValidateEnvelope(const Envelope& envelope);

// Encodes in `format`. InvalidArgument when ValidateEnvelope fails; the batch encoder's errors
// for readings it refuses.
Result<std::string> EncodeEnvelope(const Envelope& envelope, EnvelopeFormat format);

// Decodes either form: JSON when the first byte is '{', binary otherwise. DataLoss for bytes
// that do not parse (or a readings blob that does not decode), InvalidArgument naming the field
// for an unknown lane or codec or inconsistent sequences. Bounded memory (see batch_codec.h).
Result<Envelope> DecodeEnvelope(std::string_view bytes);

// The form DecodeEnvelope would pick for these bytes.
EnvelopeFormat DetectEnvelopeFormat(std::string_view bytes);

// Splits `envelope` (readings or defects; a gap is never split) into encoded envelopes, each at
// most max_message_bytes, contiguous and covering first_seq..last_seq: piece k starts at piece
// k-1's last_seq + 1 and its prev_seq is piece k-1's last_seq (the first piece keeps the
// envelope's prev_seq). A readings_blob is used only when the whole envelope fits; otherwise the
// sub-ranges are re-encoded from `readings`, which must then be filled. Returns InvalidArgument
// for a cap below kMinEnvelopeCapBytes or an invalid envelope, OutOfRange when a single record
// does not fit under the cap.
Result<std::vector<std::string>> SplitEnvelope(const Envelope& envelope, EnvelopeFormat format,
                                               size_t max_message_bytes);

// One piece of SplitEnvelopePieces: the encoded message and the sequence range it covers, which
// the forwarder tracks for its in-order acknowledgements.
struct EncodedEnvelope {
  std::string bytes;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
};
// SplitEnvelope with each piece's range.
Result<std::vector<EncodedEnvelope>> SplitEnvelopePieces(const Envelope& envelope,
                                                         EnvelopeFormat format,
                                                         size_t max_message_bytes);

std::string_view EnvelopeLaneName(Lane lane);  // "readings" / "defects"

// The kind word a gap reason starts with: the text before the first ':' or space ("rejected" for
// "rejected: refused 10 times ..."). The whole reason when it has neither.
std::string_view GapReasonKind(std::string_view reason);

}  // namespace weir::codec
