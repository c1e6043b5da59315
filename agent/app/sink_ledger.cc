// SinkLedger: see sink_ledger.h.
#include "agent/app/sink_ledger.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <nlohmann/json.hpp>

namespace weir::app {
namespace {

constexpr double kLogBase = 0.0198026272961797;  // ln(1.02): 2% wide buckets

size_t BucketOf(int64_t micros) {
  if (micros < 1) return 0;
  return 1 + static_cast<size_t>(std::log(static_cast<double>(micros)) / kLogBase);
}

// A representative value of a bucket: its geometric middle.
int64_t BucketValue(size_t bucket) {
  if (bucket == 0) return 0;
  return static_cast<int64_t>(std::exp((static_cast<double>(bucket) - 0.5) * kLogBase));
}

void Accumulate(LaneCounters& into, const LaneCounters& c) {
  into.envelopes += c.envelopes;
  into.delivered += c.delivered;
  into.duplicates += c.duplicates;
  into.order_violations += c.order_violations;
  into.evicted_records += c.evicted_records;
  into.damaged_records += c.damaged_records;
  into.rejected_records += c.rejected_records;
  into.gap_records += c.gap_records;
  into.silent_gaps += c.silent_gaps;
}

nlohmann::json CountersToJson(const LaneCounters& c) {
  return {{"envelopes", c.envelopes},
          {"delivered", c.delivered},
          {"duplicates", c.duplicates},
          {"order_violations", c.order_violations},
          {"gaps", c.silent_gaps + c.gap_records},
          {"silent_gaps", c.silent_gaps},
          {"evicted_gaps", c.gap_records},
          {"evicted_records", c.evicted_records},
          {"damaged_records", c.damaged_records},
          {"rejected_records", c.rejected_records},
          {"latency",
           {{"count", c.latency.count()},
            {"p50_ms", static_cast<double>(c.latency.Quantile(0.5)) / 1000.0},
            {"p99_ms", static_cast<double>(c.latency.Quantile(0.99)) / 1000.0},
            {"max_ms", static_cast<double>(c.latency.max()) / 1000.0}}}};
}

// The kind of an explicit gap, from its reason's first word. Reasons from agents older than the
// kind words (e.g. "quota") were all evictions.
std::string GapKind(std::string_view reason) {
  const std::string_view kind = codec::GapReasonKind(reason);
  if (kind == codec::kGapReasonDamaged || kind == codec::kGapReasonRejected) {
    return std::string(kind);
  }
  return std::string(codec::kGapReasonEvicted);
}

}  // namespace

uint64_t SeqRanges::Add(uint64_t first, uint64_t last) {
  if (last < first) return 0;
  uint64_t covered = 0;
  // Merge with every run that overlaps or touches [first, last].
  auto it = runs_.upper_bound(first);
  if (it != runs_.begin()) {
    auto prev = std::prev(it);
    if (prev->second + 1 >= first || prev->second >= first) it = prev;
  }
  uint64_t lo = first, hi = last;
  while (it != runs_.end() && (last == UINT64_MAX || it->first <= last + 1)) {
    const uint64_t ov_lo = std::max(it->first, first), ov_hi = std::min(it->second, last);
    if (ov_lo <= ov_hi) covered += ov_hi - ov_lo + 1;
    lo = std::min(lo, it->first);
    hi = std::max(hi, it->second);
    it = runs_.erase(it);
  }
  runs_.emplace(lo, hi);
  return (last - first + 1) - covered;
}

bool SeqRanges::Contains(uint64_t seq) const { return ContainsAll(seq, seq); }

bool SeqRanges::ContainsAll(uint64_t first, uint64_t last) const {
  auto it = runs_.upper_bound(first);
  if (it == runs_.begin()) return false;
  --it;
  return it->first <= first && last <= it->second;
}

void LatencyHistogram::Add(int64_t micros) {
  const size_t b = BucketOf(micros);
  if (b >= buckets_.size()) buckets_.resize(b + 1, 0);
  ++buckets_[b];
  ++count_;
  max_ = std::max(max_, micros);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.buckets_.size() > buckets_.size()) buckets_.resize(other.buckets_.size(), 0);
  for (size_t b = 0; b < other.buckets_.size(); ++b) buckets_[b] += other.buckets_[b];
  if (other.count_ > 0) max_ = count_ > 0 ? std::max(max_, other.max_) : other.max_;
  count_ += other.count_;
}

int64_t LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= std::max<uint64_t>(rank, 1)) return std::min(BucketValue(b), max_);
  }
  return max_;
}

void SinkLedger::NoteHole(LaneState& state, const codec::Envelope& e) {
  // prev_seq names the record before this envelope in its lane; anything between what we have
  // and it never arrived (yet).
  if (e.prev_seq > state.high && !state.delivered.Contains(e.prev_seq)) {
    state.holes.emplace(state.high + 1, e.prev_seq);
  }
}

void SinkLedger::FillHoles(LaneState& state, uint64_t first, uint64_t last) {
  for (auto it = state.holes.begin(); it != state.holes.end();) {
    if (it->first <= last && first <= it->second) {
      it = state.holes.erase(it);
    } else {
      ++it;
    }
  }
}

void SinkLedger::ObserveGap(LaneState& state, const codec::Envelope& e, Delivery& delivery) {
  LaneCounters& c = state.counters;
  if (state.delivered.ContainsAll(e.first_seq, e.last_seq)) {
    delivery.duplicate_envelope = true;
    return;
  }
  NoteHole(state, e);
  if (state.seen && e.first_seq <= state.high) ++c.order_violations;
  state.delivered.Add(e.first_seq, e.last_seq);
  FillHoles(state, e.first_seq, e.last_seq);
  ++c.gap_records;
  const std::string kind = GapKind(e.gap->reason);
  if (kind == codec::kGapReasonRejected) {
    c.rejected_records += e.gap->records;
  } else if (kind == codec::kGapReasonDamaged) {
    c.damaged_records += e.gap->records;
  } else {
    c.evicted_records += e.gap->records;
  }
  explicit_gaps_.push_back(GapRecord{e.device_id, e.log_id, e.lane, e.first_seq, e.last_seq,
                                     e.gap->records, e.gap->reason, true, kind});
  state.high = std::max(state.high, e.last_seq);
  state.seen = true;
}

SinkLedger::Delivery SinkLedger::Observe(const codec::Envelope& e, int64_t received_us) {
  Delivery delivery;
  auto [epoch, inserted] = boot_epochs_.try_emplace({e.device_id, e.log_id}, e.boot_epoch);
  if (inserted) {
    ++devices_[e.device_id];
  } else if (e.boot_epoch > epoch->second) {
    ++restarts_;
    epoch->second = e.boot_epoch;
  }
  LaneState& state = lanes_[StreamKey::Of(e)];
  LaneCounters& c = state.counters;
  ++c.envelopes;

  if (e.gap) {
    ObserveGap(state, e, delivery);
    return delivery;
  }

  NoteHole(state, e);
  const bool readings = e.lane == weir::Lane::kReadings;
  const size_t n = readings ? e.readings.size() : e.defects.size();
  const uint64_t high_before = state.high;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t seq = readings ? e.first_seq + i : e.defect_seqs[i];
    if (state.delivered.Contains(seq)) {
      ++c.duplicates;
      continue;
    }
    if (state.seen && seq < high_before) ++c.order_violations;
    state.delivered.Add(seq, seq);
    ++c.delivered;
    const TimeMicros event_us = readings ? e.readings[i].time_us : e.defects[i].detected_at_us;
    c.latency.Add(received_us - event_us);
    (readings ? delivery.readings : delivery.defects).push_back(i);
  }
  delivery.duplicate_envelope = delivery.readings.empty() && delivery.defects.empty();
  FillHoles(state, e.first_seq, e.last_seq);
  state.high = std::max(state.high, e.last_seq);
  state.seen = true;
  return delivery;
}

LaneCounters SinkLedger::ForLane(weir::Lane lane) const {
  LaneCounters out;
  for (const auto& [key, state] : lanes_) {
    if (key.lane != lane) continue;
    Accumulate(out, state.counters);
    out.silent_gaps += state.holes.size();
    out.latency.Merge(state.counters.latency);
  }
  return out;
}

LaneCounters SinkLedger::Total() const {
  LaneCounters out = ForLane(weir::Lane::kReadings);
  LaneCounters defects = ForLane(weir::Lane::kDefects);
  Accumulate(out, defects);
  return out;
}

std::vector<GapRecord> SinkLedger::Gaps() const {
  std::vector<GapRecord> out = explicit_gaps_;
  for (const auto& [key, state] : lanes_) {
    for (const auto& [first, last] : state.holes) {
      out.push_back(
          GapRecord{key.device, key.log_id, key.lane, first, last, 0, "", false, "silent"});
    }
  }
  return out;
}

nlohmann::json SinkLedger::ToJson() const {
  nlohmann::json gaps = nlohmann::json::array();
  for (const GapRecord& g : Gaps()) {
    gaps.push_back({{"device", g.device},
                    {"log_id", g.log_id.ToHex()},
                    {"lane", codec::EnvelopeLaneName(g.lane)},
                    {"first_seq", g.first_seq},
                    {"last_seq", g.last_seq},
                    {"records", g.records},
                    {"reason", g.reason},
                    {"kind", g.kind}});
  }
  return {{"total", CountersToJson(Total())},
          {"lanes",
           {{"readings", CountersToJson(ForLane(weir::Lane::kReadings))},
            {"defects", CountersToJson(ForLane(weir::Lane::kDefects))}}},
          {"devices", devices()},
          {"logs", logs()},
          {"restarts", restarts_},
          {"undecodable", undecodable_},
          {"gaps", std::move(gaps)}};
}

std::string SinkLedger::SummaryLine() const {
  const LaneCounters r = ForLane(weir::Lane::kReadings);
  const LaneCounters t = Total();
  char line[256];
  std::snprintf(line, sizeof(line),
                "delivered %llu  dup %llu  gaps %llu (evicted %llu)  order %llu  defects %llu  "
                "p50 %.1f ms  p99 %.1f ms",
                static_cast<unsigned long long>(r.delivered),
                static_cast<unsigned long long>(t.duplicates),
                static_cast<unsigned long long>(t.silent_gaps + t.gap_records),
                static_cast<unsigned long long>(t.gap_records),
                static_cast<unsigned long long>(t.order_violations),
                static_cast<unsigned long long>(ForLane(weir::Lane::kDefects).delivered),
                static_cast<double>(r.latency.Quantile(0.5)) / 1000.0,
                static_cast<double>(r.latency.Quantile(0.99)) / 1000.0);
  return line;
}

}  // namespace weir::app
