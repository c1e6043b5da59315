// SinkLedger, the counting logic of `weir sink`: duplicates, silent gaps, explicit gap records,
// order violations, device restarts and latency, fed with decoded envelopes.
#include "agent/app/sink_ledger.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace weir::app {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;

codec::Envelope Readings(uint64_t first, uint64_t last, uint64_t prev, uint64_t epoch = 1,
                         const std::string& device = "gw-1") {
  codec::Envelope e;
  e.device_id = device;
  e.boot_epoch = epoch;
  e.lane = Lane::kReadings;
  e.first_seq = first;
  e.last_seq = last;
  e.prev_seq = prev;
  for (uint64_t s = first; s <= last; ++s) {
    e.readings.push_back({"s", kT0 + static_cast<int64_t>(s) * 1000, 1.0, 0});
  }
  return e;
}

codec::Envelope GapRecord(uint64_t first, uint64_t last, uint64_t prev) {
  codec::Envelope e;
  e.device_id = "gw-1";
  e.boot_epoch = 1;
  e.lane = Lane::kReadings;
  e.first_seq = first;
  e.last_seq = last;
  e.prev_seq = prev;
  e.gap = codec::EnvelopeGap{first, last, last - first + 1, 0, 0, "quota"};
  return e;
}

TEST(SinkLedger, InOrderStreamHasNothingToReport) {
  SinkLedger ledger;
  ledger.Observe(Readings(1, 10, 0), kT0 + 20'000);
  ledger.Observe(Readings(11, 20, 10), kT0 + 30'000);
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.delivered, 20u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(r.order_violations, 0u);
  EXPECT_EQ(r.silent_gaps, 0u);
  EXPECT_TRUE(ledger.Gaps().empty());
}

TEST(SinkLedger, ResentEnvelopeCountsDuplicatesAndDeliversNothingNew) {
  SinkLedger ledger;
  ledger.Observe(Readings(1, 10, 0), kT0);
  const auto again = ledger.Observe(Readings(1, 10, 0), kT0);
  EXPECT_TRUE(again.duplicate_envelope);
  EXPECT_TRUE(again.readings.empty());
  // An overlapping resend delivers only what is new.
  const auto overlap = ledger.Observe(Readings(6, 15, 5), kT0);
  EXPECT_EQ(overlap.readings.size(), 5u);
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.delivered, 15u);
  EXPECT_EQ(r.duplicates, 15u);
  EXPECT_EQ(r.order_violations, 0u);
  EXPECT_EQ(r.silent_gaps, 0u);
}

TEST(SinkLedger, PrevSeqPastWhatWeHaveIsASilentGap) {
  SinkLedger ledger;
  ledger.Observe(Readings(1, 10, 0), kT0);
  ledger.Observe(Readings(21, 30, 20), kT0);
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.silent_gaps, 1u);
  const auto gaps = ledger.Gaps();
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_FALSE(gaps[0].evicted);
  EXPECT_EQ(gaps[0].first_seq, 11u);
  EXPECT_EQ(gaps[0].last_seq, 20u);
  EXPECT_EQ(ledger.ToJson()["gaps"][0]["kind"], "silent");
}

TEST(SinkLedger, LateArrivalFillsTheHoleAndCountsOrderViolations) {
  SinkLedger ledger;
  ledger.Observe(Readings(1, 10, 0), kT0);
  ledger.Observe(Readings(21, 30, 20), kT0);
  ledger.Observe(Readings(11, 20, 10), kT0);
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.delivered, 30u);
  EXPECT_EQ(r.silent_gaps, 0u);
  EXPECT_EQ(r.order_violations, 10u);
  EXPECT_EQ(r.duplicates, 0u);
}

TEST(SinkLedger, ExplicitGapRecordIsReportedAsEvictedNotAsAHole) {
  SinkLedger ledger;
  ledger.Observe(Readings(1, 10, 0), kT0);
  ledger.Observe(GapRecord(11, 500, 10), kT0);
  ledger.Observe(Readings(501, 510, 500), kT0);
  ledger.Observe(GapRecord(11, 500, 10), kT0);  // resent gap record: not counted twice
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.delivered, 20u);
  EXPECT_EQ(r.silent_gaps, 0u);
  EXPECT_EQ(r.gap_records, 1u);
  EXPECT_EQ(r.evicted_records, 490u);
  const auto gaps = ledger.Gaps();
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_TRUE(gaps[0].evicted);
  EXPECT_EQ(gaps[0].reason, "quota");
  EXPECT_EQ(ledger.ToJson()["total"]["evicted_gaps"], 1);
  EXPECT_EQ(ledger.ToJson()["gaps"][0]["kind"], "evicted");
}

TEST(SinkLedger, DeviceRestartContinuesTheSequenceAndResendsAreDuplicates) {
  SinkLedger ledger;
  ledger.Observe(Readings(1, 10, 0, /*epoch=*/1), kT0);
  ledger.Observe(Readings(11, 20, 10, /*epoch=*/1), kT0);
  // Restarted before the ack of 11..20 was persisted: it resends them, then carries on.
  ledger.Observe(Readings(11, 20, 10, /*epoch=*/2), kT0);
  ledger.Observe(Readings(21, 25, 20, /*epoch=*/2), kT0);
  EXPECT_EQ(ledger.restarts(), 1u);
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.delivered, 25u);
  EXPECT_EQ(r.duplicates, 10u);
  EXPECT_EQ(r.silent_gaps, 0u);
  EXPECT_EQ(r.order_violations, 0u);
}

TEST(SinkLedger, DevicesAndLanesAreCountedSeparately) {
  SinkLedger ledger;
  ledger.Observe(Readings(1, 5, 0, 1, "gw-1"), kT0);
  ledger.Observe(Readings(1, 5, 0, 1, "gw-2"), kT0);  // same sequences, other device: new
  codec::Envelope d;
  d.device_id = "gw-1";
  d.lane = Lane::kDefects;
  d.first_seq = 6;
  d.last_seq = 9;
  d.prev_seq = 0;
  d.defects = {Defect{}, Defect{}};
  d.defects[0].detected_at_us = kT0;
  d.defects[1].detected_at_us = kT0;
  d.defect_seqs = {6, 9};
  ledger.Observe(d, kT0 + 5000);
  ledger.Observe(d, kT0 + 5000);
  EXPECT_EQ(ledger.devices(), 2u);
  EXPECT_EQ(ledger.ForLane(Lane::kReadings).delivered, 10u);
  EXPECT_EQ(ledger.ForLane(Lane::kReadings).duplicates, 0u);
  EXPECT_EQ(ledger.ForLane(Lane::kDefects).delivered, 2u);
  EXPECT_EQ(ledger.ForLane(Lane::kDefects).duplicates, 2u);
  EXPECT_EQ(ledger.Total().delivered, 12u);
}

TEST(SinkLedger, ANewLogOfTheSameDeviceIsNewDataNotDuplicates) {
  // The state directory was wiped: the device's new log restarts its sequences at 1.
  SinkLedger ledger;
  codec::Envelope old_log = Readings(1, 10, 0, /*epoch=*/7);
  old_log.log_id = LogId{1, 2};
  codec::Envelope new_log = Readings(1, 10, 0, /*epoch=*/1);
  new_log.log_id = LogId{3, 4};
  ledger.Observe(old_log, kT0);
  const auto d = ledger.Observe(new_log, kT0);
  EXPECT_EQ(d.readings.size(), 10u);
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.delivered, 20u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(r.order_violations, 0u);
  EXPECT_EQ(r.silent_gaps, 0u);
  EXPECT_EQ(ledger.devices(), 1u);
  EXPECT_EQ(ledger.logs(), 2u);
  EXPECT_EQ(ledger.restarts(), 0u);  // boot epochs count within one log
  // The same log's records again are duplicates.
  ledger.Observe(new_log, kT0);
  EXPECT_EQ(ledger.ForLane(Lane::kReadings).duplicates, 10u);
  EXPECT_EQ(ledger.ToJson()["logs"], 2);
}

TEST(SinkLedger, GapKindsAreCountedByTheReasonsFirstWord) {
  SinkLedger ledger;
  codec::Envelope rejected = GapRecord(1, 10, 0);
  rejected.gap->reason = "rejected: broker answered Packet too large (reason 149)";
  ledger.Observe(rejected, kT0);
  codec::Envelope damaged = GapRecord(11, 12, 10);
  damaged.gap->reason = "damaged on the device";
  ledger.Observe(damaged, kT0);
  ledger.Observe(GapRecord(13, 15, 12), kT0);  // "quota": an older agent's eviction
  const LaneCounters r = ledger.ForLane(Lane::kReadings);
  EXPECT_EQ(r.gap_records, 3u);
  EXPECT_EQ(r.rejected_records, 10u);
  EXPECT_EQ(r.damaged_records, 2u);
  EXPECT_EQ(r.evicted_records, 3u);
  const auto json = ledger.ToJson();
  EXPECT_EQ(json["gaps"][0]["kind"], "rejected");
  EXPECT_EQ(json["gaps"][1]["kind"], "damaged");
  EXPECT_EQ(json["gaps"][2]["kind"], "evicted");
  EXPECT_EQ(json["lanes"]["readings"]["rejected_records"], 10);
}

TEST(SinkLedger, LatencyPercentilesAreWithinTwoPercent) {
  SinkLedger ledger;
  // Readings 1..100 with event times kT0 + s ms, all received at kT0 + 200 ms: latencies 100..199
  // ms.
  ledger.Observe(Readings(1, 100, 0), kT0 + 200'000);
  const LatencyHistogram& h = ledger.ForLane(Lane::kReadings).latency;
  EXPECT_EQ(h.count(), 100u);
  EXPECT_NEAR(static_cast<double>(h.Quantile(0.5)), 150'000.0, 150'000.0 * 0.02);
  EXPECT_NEAR(static_cast<double>(h.Quantile(0.99)), 199'000.0, 199'000.0 * 0.02);
  EXPECT_EQ(h.max(), 199'000);
}

TEST(SinkLedger, SeqRangesMergeAndCountNewSequences) {
  SeqRanges r;
  EXPECT_EQ(r.Add(10, 20), 11u);
  EXPECT_EQ(r.Add(30, 40), 11u);
  EXPECT_EQ(r.Add(15, 35), 9u);  // 21..29
  EXPECT_EQ(r.runs(), 1u);
  EXPECT_TRUE(r.ContainsAll(10, 40));
  EXPECT_FALSE(r.Contains(9));
  EXPECT_EQ(r.Add(41, 41), 1u);
  EXPECT_EQ(r.runs(), 1u);
  EXPECT_EQ(r.Add(5, 5), 1u);
  EXPECT_EQ(r.runs(), 2u);
}

}  // namespace
}  // namespace weir::app
