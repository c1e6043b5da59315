// ForwardPiece: one message the forwarder publishes — an encoded envelope and what it covers.
// Made by EnvelopeReader (envelope_reader.h), tracked in flight by LaneWindow (lane_window.h).
// A value type; not synchronized.
#pragma once

#include <cstdint>
#include <string>

#include "agent/core/record.h"

namespace weir::pipeline {

struct ForwardPiece {
  std::string bytes;  // the encoded envelope
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t prev_seq = 0;  // the envelope's prev_seq (a gap sent in its place keeps it)
  uint64_t readings = 0;
  uint64_t defects = 0;
  bool gap = false;
  uint64_t gap_records = 0;       // for a gap: the records it stands for
  bool rejection_gap = false;     // a gap sent in place of records given up
  TimeMicros oldest_time_us = 0;  // event-time range of the records (for a gap in its place)
  TimeMicros newest_time_us = 0;
  // Set when no message can carry these records (over any size limit): the piece is given up
  // with this reason when its turn comes, so acknowledgements stay in order.
  std::string dead_reason;
};

}  // namespace weir::pipeline
