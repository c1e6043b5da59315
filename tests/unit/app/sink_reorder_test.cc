// SinkReorder, the order restorer of `weir sink`: what arrives after a hole in a stream is held
// until the hole fills (by the missing records or a gap envelope) or the window passes.
#include "agent/app/sink_reorder.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/app/sink_ledger.h"

namespace weir::app {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000'000;
constexpr int64_t kWindow = 5'000'000;  // 5 s

codec::Envelope Readings(uint64_t first, uint64_t last, uint64_t prev, LogId log = {1, 1}) {
  codec::Envelope e;
  e.device_id = "gw-1";
  e.log_id = log;
  e.boot_epoch = 1;
  e.lane = Lane::kReadings;
  e.first_seq = first;
  e.last_seq = last;
  e.prev_seq = prev;
  for (uint64_t s = first; s <= last; ++s) {
    e.readings.push_back({"s", kT0 + static_cast<int64_t>(s) * 1000, 1.0, 0});
  }
  return e;
}

std::vector<uint64_t> Firsts(const std::vector<SinkReorder::Item>& items) {
  std::vector<uint64_t> out;
  for (const auto& i : items) out.push_back(i.envelope.first_seq);
  return out;
}

TEST(SinkReorder, AnInOrderStreamPassesAtOnce) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  reorder.Add(Readings(11, 20, 10), kT0, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1, 11}));
  EXPECT_EQ(reorder.counters().held, 0u);
}

TEST(SinkReorder, WhatArrivesAfterAHoleIsHeldAndReleasedInOrderWhenTheHoleFills) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  // 11..20 was refused and is being retried; 21..40 were in flight behind it and overtook it.
  reorder.Add(Readings(21, 30, 20), kT0 + 1000, &out);
  reorder.Add(Readings(31, 40, 30), kT0 + 2000, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1}));
  EXPECT_EQ(reorder.counters().holding, 2u);
  reorder.Add(Readings(11, 20, 10), kT0 + 500'000, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1, 11, 21, 31}));
  EXPECT_EQ(reorder.counters().held, 2u);
  EXPECT_EQ(reorder.counters().reordered, 2u);
  EXPECT_EQ(reorder.counters().holding, 0u);
  EXPECT_EQ(reorder.counters().max_hold_us, 499'000);
  // The ledger downstream sees a clean stream.
  SinkLedger ledger;
  for (const auto& i : out) ledger.Observe(i.envelope, i.received_us);
  EXPECT_EQ(ledger.ForLane(Lane::kReadings).order_violations, 0u);
  EXPECT_EQ(ledger.ForLane(Lane::kReadings).silent_gaps, 0u);
}

TEST(SinkReorder, ARejectedGapFillsTheHoleLikeTheRecords) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  reorder.Add(Readings(21, 30, 20), kT0, &out);
  codec::Envelope gap = Readings(11, 20, 10);
  gap.readings.clear();
  gap.gap = codec::EnvelopeGap{11, 20, 10, 0, 0, "rejected: not authorized"};
  reorder.Add(gap, kT0 + 1000, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1, 11, 21}));
  EXPECT_TRUE(out[1].envelope.gap.has_value());
}

TEST(SinkReorder, WhenTheWindowPassesTheHeldGoOutInOrderWithTheHoleOpen) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  reorder.Add(Readings(31, 40, 30), kT0 + 10, &out);
  reorder.Add(Readings(21, 30, 20), kT0 + 20, &out);  // arrived later, belongs before
  reorder.Expire(kT0 + kWindow, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1}));  // not yet
  reorder.Expire(kT0 + 10 + kWindow, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1, 21, 31}));
  EXPECT_EQ(reorder.counters().released_unfilled, 1u);  // 21..30: 11..20 never came
  EXPECT_EQ(reorder.counters().reordered, 1u);          // 31..40 followed it in order
  SinkLedger ledger;
  for (const auto& i : out) ledger.Observe(i.envelope, i.received_us);
  EXPECT_EQ(ledger.ForLane(Lane::kReadings).silent_gaps, 1u);
  EXPECT_EQ(ledger.ForLane(Lane::kReadings).order_violations, 0u);
  // A late arrival after that passes at once (the ledger counts it as out of order).
  reorder.Add(Readings(11, 20, 10), kT0 + 20 + kWindow, &out);
  EXPECT_EQ(out.back().envelope.first_seq, 11u);
}

TEST(SinkReorder, DuplicatesAndResendsPassAtOnce) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  reorder.Add(Readings(11, 20, 10), kT0, &out);
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  reorder.Add(Readings(11, 20, 10), kT0, &out);
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(reorder.counters().held, 0u);
}

TEST(SinkReorder, StreamsOfDifferentLogsAreIndependent) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0, LogId{1, 1}), kT0, &out);
  // The wiped device's new log starts at 1 again: a stream of its own, not a hole.
  reorder.Add(Readings(1, 5, 0, LogId{2, 2}), kT0, &out);
  reorder.Add(Readings(6, 9, 5, LogId{2, 2}), kT0, &out);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(reorder.counters().held, 0u);
}

TEST(SinkReorder, AStreamFirstSeenMidwayWaitsOneWindowForItsStart) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(101, 110, 100), kT0, &out);
  EXPECT_TRUE(out.empty());
  reorder.Expire(kT0 + kWindow, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{101}));
}

TEST(SinkReorder, FlushReleasesEverythingHeldInOrder) {
  SinkReorder reorder(kWindow);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  reorder.Add(Readings(41, 50, 40), kT0, &out);
  reorder.Add(Readings(21, 30, 20), kT0, &out);
  reorder.Flush(kT0 + 1, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1, 21, 41}));
  EXPECT_EQ(reorder.counters().holding, 0u);
  EXPECT_EQ(reorder.ToJson()["released_unfilled"], 2);
}

TEST(SinkReorder, AZeroWindowHoldsNothing) {
  SinkReorder reorder(0);
  std::vector<SinkReorder::Item> out;
  reorder.Add(Readings(1, 10, 0), kT0, &out);
  reorder.Add(Readings(21, 30, 20), kT0, &out);
  reorder.Add(Readings(11, 20, 10), kT0, &out);
  EXPECT_EQ(Firsts(out), (std::vector<uint64_t>{1, 21, 11}));
}

}  // namespace
}  // namespace weir::app
