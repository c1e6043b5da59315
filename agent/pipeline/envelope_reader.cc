// EnvelopeReader: see envelope_reader.h.
#include "agent/pipeline/envelope_reader.h"

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

namespace weir::pipeline {
namespace {

// Rows read per look at the log: enough to fill a window of large chunks without holding many
// decoded chunks in memory.
constexpr size_t kRowsPerRead = 8;
// Most defects in one envelope.
constexpr size_t kDefectsPerMessage = 64;

}  // namespace

struct EnvelopeReader::Pass {
  Lane lane;
  uint64_t& upto;  // the last sequence turned into pieces: prev_seq of the next envelope
  std::deque<ForwardPiece>& ready;
  codec::Envelope defects;  // consecutive defect rows, not yet emitted
};

Result<bool> EnvelopeReader::ReadMore(Lane lane, uint64_t& read_upto,
                                      std::deque<ForwardPiece>& ready) {
  store::ReadQuery query;
  query.lane = lane;
  query.after_seq = read_upto;
  query.max_records = lane == Lane::kDefects ? kDefectsPerMessage : kRowsPerRead;
  WEIR_ASSIGN_OR_RETURN(std::vector<store::StoredRecord> rows, reader_.Read(query));
  Pass pass{lane, read_upto, ready, {}};
  for (store::StoredRecord& row : rows) WEIR_RETURN_IF_ERROR(ReadRow(pass, row));
  WEIR_RETURN_IF_ERROR(FlushDefects(pass));
  return !rows.empty();
}

Status EnvelopeReader::FlushDefects(Pass& pass) {
  if (pass.defects.defects.empty()) return Status::Ok();
  pass.defects.last_seq = pass.defects.defect_seqs.back();
  Status s = Emit(pass, pass.defects);
  pass.defects = codec::Envelope();
  return s;
}

Status EnvelopeReader::ReadRow(Pass& pass, store::StoredRecord& row) {
  if (row.kind == store::RecordKind::kDefect && !row.damaged && row.defect) {
    if (pass.defects.defects.empty()) {
      pass.defects = Header(pass.lane, row.first_seq, row.last_seq, pass.upto);
    }
    pass.defects.defects.push_back(std::move(*row.defect));
    pass.defects.defect_seqs.push_back(row.first_seq);
    return Status::Ok();
  }
  WEIR_RETURN_IF_ERROR(FlushDefects(pass));
  const uint64_t first = std::max(row.first_seq, pass.upto + 1);
  if (row.kind == store::RecordKind::kReadings && !row.damaged) return ReadChunk(pass, row, first);
  // A gap row counts the records it stands for; a damaged row its sequences. A gap row lost to
  // damage (store::kGapDamaged) is announced as damage, not eviction.
  const bool gap_row = row.kind == store::RecordKind::kGap;
  const bool evicted = gap_row && row.gap_reason != store::kGapDamaged;
  return Emit(
      pass,
      GapEnvelope(pass.lane, first, row.last_seq, pass.upto,
                  gap_row ? row.count : row.last_seq - first + 1, row.min_time_us, row.max_time_us,
                  evicted ? "evicted: the log reached its disk quota" : "damaged on the device"));
}

// A readings chunk; a straddling one (partly acknowledged) is sent from `first` (upto + 1).
Status EnvelopeReader::ReadChunk(Pass& pass, store::StoredRecord& row, uint64_t first) {
  const size_t batch = limits_.batch_readings;
  const size_t skip = static_cast<size_t>(first - row.first_seq);
  const bool whole = skip == 0 && row.readings.size() <= batch;
  for (size_t begin = skip; begin < row.readings.size(); begin += batch) {
    const size_t end = std::min(row.readings.size(), begin + batch);
    codec::Envelope e =
        Header(pass.lane, row.first_seq + begin, row.first_seq + end - 1, pass.upto);
    e.readings.assign(std::make_move_iterator(row.readings.begin() + static_cast<ptrdiff_t>(begin)),
                      std::make_move_iterator(row.readings.begin() + static_cast<ptrdiff_t>(end)));
    if (whole && limits_.format == codec::EnvelopeFormat::kBinary) {
      e.readings_blob = std::move(row.blob);  // shipped as stored when it fits
    }
    WEIR_RETURN_IF_ERROR(Emit(pass, e));
  }
  return Status::Ok();
}

Status EnvelopeReader::Emit(Pass& pass, const codec::Envelope& e) {
  auto pieces = codec::SplitEnvelopePieces(e, limits_.format, limits_.max_message_bytes);
  if (!pieces.ok()) {
    if (pieces.status().code() != StatusCode::kOutOfRange) return pieces.status();
    // One record does not fit in any message: give it up when its turn comes.
    ForwardPiece p = PieceOf(e, e.first_seq, e.last_seq, e.prev_seq);
    p.dead_reason = std::string(pieces.status().message());
    if (auto plain = codec::EncodeEnvelope(e, limits_.format); plain.ok()) {
      p.bytes = std::move(*plain);  // kept whole in the dead letter
    }
    pass.ready.push_back(std::move(p));
    pass.upto = e.last_seq;
    return Status::Ok();
  }
  uint64_t prev = e.prev_seq;
  for (codec::EncodedEnvelope& piece : *pieces) {
    ForwardPiece p = PieceOf(e, piece.first_seq, piece.last_seq, prev);
    p.bytes = std::move(piece.bytes);
    prev = p.last_seq;
    pass.ready.push_back(std::move(p));
  }
  pass.upto = e.last_seq;
  return Status::Ok();
}

codec::Envelope EnvelopeReader::Header(Lane lane, uint64_t first, uint64_t last,
                                       uint64_t prev) const {
  codec::Envelope e;
  e.device_id = identity_.device_id;
  e.log_id = identity_.log_id;
  e.boot_epoch = identity_.boot_epoch;
  e.lane = lane;
  e.first_seq = first;
  e.last_seq = last;
  e.prev_seq = prev;
  e.sent_at_us = clock_.WallMicros();
  return e;
}

codec::Envelope EnvelopeReader::GapEnvelope(Lane lane, uint64_t first, uint64_t last, uint64_t prev,
                                            uint64_t records, TimeMicros oldest, TimeMicros newest,
                                            std::string reason) const {
  codec::Envelope e = Header(lane, first, last, prev);
  codec::EnvelopeGap gap;
  gap.first_seq = first;
  gap.last_seq = last;
  gap.records = records;
  gap.oldest_time_us = oldest;
  gap.newest_time_us = newest;
  gap.reason = std::move(reason);
  e.gap = std::move(gap);
  return e;
}

Result<ForwardPiece> EnvelopeReader::RejectedGap(Lane lane, const ForwardPiece& old,
                                                 std::string_view reason) const {
  const uint64_t records = old.gap ? old.gap_records : old.readings + old.defects;
  const codec::Envelope gap = GapEnvelope(
      lane, old.first_seq, old.last_seq, old.prev_seq, records, old.oldest_time_us,
      old.newest_time_us,
      std::string(codec::kGapReasonRejected) + ": " + std::string(reason.substr(0, 200)));
  WEIR_ASSIGN_OR_RETURN(std::string bytes, codec::EncodeEnvelope(gap, limits_.format));
  ForwardPiece replacement = PieceOf(gap, old.first_seq, old.last_seq, old.prev_seq);
  replacement.bytes = std::move(bytes);
  replacement.rejection_gap = true;
  return replacement;
}

ForwardPiece EnvelopeReader::PieceOf(const codec::Envelope& e, uint64_t first, uint64_t last,
                                     uint64_t prev) {
  ForwardPiece p;
  p.first_seq = first;
  p.last_seq = last;
  p.prev_seq = prev;
  bool any = false;
  auto time = [&](TimeMicros lo, TimeMicros hi) {
    p.oldest_time_us = any ? std::min(p.oldest_time_us, lo) : lo;
    p.newest_time_us = any ? std::max(p.newest_time_us, hi) : hi;
    any = true;
  };
  if (e.gap) {
    p.gap = true;
    p.gap_records = e.gap->records;
    time(e.gap->oldest_time_us, e.gap->newest_time_us);
  } else if (e.lane == Lane::kReadings) {
    p.readings = last - first + 1;
    for (uint64_t s = first; s <= last && s - e.first_seq < e.readings.size(); ++s) {
      const TimeMicros t = e.readings[static_cast<size_t>(s - e.first_seq)].time_us;
      time(t, t);
    }
  } else {
    for (size_t i = 0; i < e.defect_seqs.size(); ++i) {
      if (e.defect_seqs[i] < first || e.defect_seqs[i] > last) continue;
      ++p.defects;
      time(e.defects[i].window_start_us, e.defects[i].window_end_us);
    }
  }
  return p;
}

}  // namespace weir::pipeline
