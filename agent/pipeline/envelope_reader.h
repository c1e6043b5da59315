// EnvelopeReader: the forwarder's reader that turns committed rows of a lane into messages
// (agent/pipeline/README.md "Message size"). Consecutive defect rows go into one envelope; a
// readings chunk becomes messages of at most batch_readings readings (in protobuf a whole chunk
// ships as its stored blob); gap and damaged rows become gap envelopes; every envelope is split
// under the message cap (codec::SplitEnvelopePieces). A record that fits no message becomes a
// piece marked dead_reason, to be given up in its turn. Also the one builder of gap envelopes
// (evicted, damaged, rejected).
//
// Owned and used by the forward thread only; not thread-safe. Reads block on the log (SQLite).
// The LogReader and the Clock must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "agent/codec/envelope_codec.h"
#include "agent/core/clock.h"
#include "agent/core/log_id.h"
#include "agent/core/record.h"
#include "agent/core/status.h"
#include "agent/pipeline/forward_piece.h"
#include "agent/store/log.h"

namespace weir::pipeline {

// Who is sending: carried by every envelope.
struct EnvelopeIdentity {
  std::string device_id;
  LogId log_id;
  uint64_t boot_epoch = 0;
};

// How messages are encoded; changed by a reload, or when the broker's packet limit is learned.
struct EnvelopeLimits {
  codec::EnvelopeFormat format = codec::EnvelopeFormat::kBinary;
  size_t max_message_bytes = 128 * 1024;  // the effective cap, already lowered to a learned one
  size_t batch_readings = 1000;
};

class EnvelopeReader {
 public:
  EnvelopeReader(EnvelopeIdentity identity, store::LogReader& reader, const Clock& clock)
      : identity_(std::move(identity)), reader_(reader), clock_(clock) {}

  void set_limits(const EnvelopeLimits& limits) { limits_ = limits; }
  const EnvelopeLimits& limits() const { return limits_; }

  // Reads the next committed rows of `lane` after `read_upto` and appends their pieces to
  // `ready`, in order; `read_upto` moves to the last sequence turned into pieces. Returns false
  // when there was no row to read (the lane is exhausted for now), or the log's error.
  Result<bool> ReadMore(Lane lane, uint64_t& read_upto, std::deque<ForwardPiece>& ready);

  // The one builder of gap envelopes, for every kind of loss.
  codec::Envelope GapEnvelope(Lane lane, uint64_t first, uint64_t last, uint64_t prev,
                              uint64_t records, TimeMicros oldest, TimeMicros newest,
                              std::string reason) const;
  // The encoded gap with reason "rejected: <reason>" that takes the place of `old` given up.
  Result<ForwardPiece> RejectedGap(Lane lane, const ForwardPiece& old,
                                   std::string_view reason) const;

 private:
  // One ReadMore: the position and the defects envelope being filled.
  struct Pass;
  Status ReadRow(Pass& pass, store::StoredRecord& row);
  Status ReadChunk(Pass& pass, store::StoredRecord& row, uint64_t first);
  Status FlushDefects(Pass& pass);
  // Encodes `envelope` into pieces (split under the cap) at the end of pass.ready.
  Status Emit(Pass& pass, const codec::Envelope& envelope);
  codec::Envelope Header(Lane lane, uint64_t first, uint64_t last, uint64_t prev) const;
  // The piece of `envelope` covering first..last (counts and event-time range; no bytes).
  static ForwardPiece PieceOf(const codec::Envelope& envelope, uint64_t first, uint64_t last,
                              uint64_t prev);

  const EnvelopeIdentity identity_;
  store::LogReader& reader_;
  const Clock& clock_;
  EnvelopeLimits limits_;
};

}  // namespace weir::pipeline
