// SinkLedger: the counting logic of `weir sink`, the reference upstream consumer and test oracle.
// Feeds on decoded envelopes; drops duplicates by (device, log id, lane, sequence), detects silent
// gaps through prev_seq, counts explicit gap records (evicted, damaged, rejected), order
// violations, defects, device restarts, new logs and per-lane latency. Every stream is one
// (device, log id, lane): a device whose state directory was wiped starts a new log whose
// sequences restart at 1, and its records are new, not duplicates of the old log's.
//
// Pure and deterministic: no I/O, no clock (the caller passes the receive time). Not
// thread-safe: one owner. Memory grows with the number of streams and with the number of
// separate delivered sequence ranges (one entry per contiguous run, so an in-order stream costs
// O(1) whatever its length).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "agent/codec/envelope_codec.h"
#include "agent/core/record.h"

namespace weir::app {

// One ordered stream of records: a lane of one log of one device.
struct StreamKey {
  std::string device;
  LogId log_id;
  weir::Lane lane = weir::Lane::kReadings;
  static StreamKey Of(const codec::Envelope& e) { return {e.device_id, e.log_id, e.lane}; }
  friend auto operator<=>(const StreamKey&, const StreamKey&) = default;
  friend bool operator==(const StreamKey&, const StreamKey&) = default;
};

// Sequence ranges [first, last], merged when they touch or overlap.
class SeqRanges {
 public:
  // Adds [first, last]; returns how many of its sequences were not present before.
  uint64_t Add(uint64_t first, uint64_t last);
  bool Contains(uint64_t seq) const;
  // True when every sequence of [first, last] is present.
  bool ContainsAll(uint64_t first, uint64_t last) const;
  size_t runs() const { return runs_.size(); }

 private:
  std::map<uint64_t, uint64_t> runs_;  // first -> last, disjoint and not adjacent
};

// Receive time minus event time, as a log-scale histogram (about 2% resolution), so that
// percentiles cost constant memory over any run length.
class LatencyHistogram {
 public:
  void Add(int64_t micros);  // negative values (clock skew) count as 0
  uint64_t count() const { return count_; }
  // The q-quantile (0..1) in microseconds, 0 when empty.
  int64_t Quantile(double q) const;
  int64_t max() const { return max_; }
  void Merge(const LatencyHistogram& other);

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

// A gap: an explicit one (records lost on the device or refused by the upstream, announced by a
// gap record), or a silent hole (prev_seq pointed past what we had, and nothing told us why).
struct GapRecord {
  std::string device;
  LogId log_id;
  Lane lane = Lane::kReadings;
  uint64_t first_seq = 0;  // for a silent hole: the sequence after the last one we had
  uint64_t last_seq = 0;   // for a silent hole: the envelope's prev_seq
  uint64_t records = 0;    // explicit gaps: records lost; silent holes: 0 (unknown)
  std::string reason;      // explicit gaps: the device's reason
  bool evicted = false;    // true: explicit gap record (of any kind)
  // "evicted", "damaged", "rejected" (the reason's kind word; a reason without one of these,
  // from an older agent, counts as "evicted"), or "silent".
  std::string kind;
};

// Counters for one lane (or the total).
struct LaneCounters {
  uint64_t envelopes = 0;
  uint64_t delivered = 0;         // readings or defects, first time seen
  uint64_t duplicates = 0;        // records seen again (same device, lane, sequence)
  uint64_t order_violations = 0;  // new records below a sequence already delivered
  uint64_t evicted_records = 0;   // records announced by explicit gap records (kind evicted)
  uint64_t damaged_records = 0;   // ... of kind damaged
  uint64_t rejected_records = 0;  // ... of kind rejected (refused by the upstream for good)
  uint64_t gap_records = 0;       // explicit gap envelopes of any kind (first time seen)
  uint64_t silent_gaps = 0;       // holes still open (not filled by later arrivals)
  LatencyHistogram latency;
};

class SinkLedger {
 public:
  // What Observe found new in one envelope: indexes into envelope.readings / .defects of the
  // records delivered for the first time (the ones an output should write).
  struct Delivery {
    std::vector<size_t> readings;
    std::vector<size_t> defects;
    bool duplicate_envelope = false;  // nothing new in it
  };

  // Accounts for `envelope`, received at `received_us` (wall clock, µs since the epoch).
  Delivery Observe(const codec::Envelope& envelope, int64_t received_us);
  // A message that did not decode.
  void ObserveUndecodable() { ++undecodable_; }

  LaneCounters ForLane(weir::Lane lane) const;  // summed over devices
  LaneCounters Total() const;                   // summed over lanes (latency: readings lane)
  uint64_t undecodable() const { return undecodable_; }
  // boot_epoch increases seen within one log of a device.
  uint64_t restarts() const { return restarts_; }
  // Explicit gaps in arrival order, then silent holes still open.
  std::vector<GapRecord> Gaps() const;
  size_t devices() const { return devices_.size(); }
  size_t logs() const { return boot_epochs_.size(); }  // distinct (device, log id)

  // The report: {"total": {...}, "lanes": {"readings": {...}, "defects": {...}},
  // "devices": N, "logs": N, "restarts": N, "undecodable": N, "gaps": [...]}; counters as in
  // LaneCounters, latency as {"count", "p50_ms", "p99_ms", "max_ms"}.
  nlohmann::json ToJson() const;
  // One line for a terminal: "delivered 1200  dup 3  gaps 0 (evicted 0)  order 0  p99 12.3 ms".
  std::string SummaryLine() const;

 private:
  struct LaneState {
    SeqRanges delivered;  // sequences delivered, evicted or covered by gap records
    uint64_t high = 0;    // highest sequence accounted for
    bool seen = false;
    std::map<uint64_t, uint64_t> holes;  // open silent holes: first -> last
    LaneCounters counters;
  };
  void NoteHole(LaneState& state, const codec::Envelope& envelope);
  void FillHoles(LaneState& state, uint64_t first, uint64_t last);
  void ObserveGap(LaneState& state, const codec::Envelope& envelope, Delivery& delivery);

  std::map<StreamKey, LaneState> lanes_;
  std::map<std::pair<std::string, LogId>, uint64_t> boot_epochs_;  // per (device, log id)
  std::map<std::string, size_t> devices_;                          // device -> logs seen
  std::vector<GapRecord> explicit_gaps_;
  uint64_t undecodable_ = 0;
  uint64_t restarts_ = 0;
};

}  // namespace weir::app
