// The intake journal: entries read back in order, numbering across reopen and above the log's
// mark, torn tails, rotation and release, damage, and a concurrent writer and reader.
#include "agent/store/intake_journal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace weir::store {
namespace {

namespace fs = std::filesystem;
using weir::testing::TempDir;

std::unique_ptr<IntakeJournal> OpenOrDie(const fs::path& dir, uint64_t mark,
                                         uint64_t segment_bytes = uint64_t{4} << 20) {
  auto j = IntakeJournal::Open({.dir = dir, .segment_bytes = segment_bytes}, mark);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? std::move(*j) : nullptr;
}

std::vector<fs::path> Segments(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<IntakeEntry> ReadAll(IntakeJournal& j, uint64_t after) {
  std::vector<IntakeEntry> all;
  for (;;) {
    auto r = j.ReadAfter(after, j.last_number(), 7, 1 << 20);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || r->empty()) return all;
    after = r->back().number;
    for (auto& e : *r) all.push_back(std::move(e));
  }
}

TEST(IntakeJournal, AppendedEntriesReadBackInOrderWithTopicPayloadAndTime) {
  TempDir dir;
  auto j = OpenOrDie(dir / "intake", 0);
  for (int i = 0; i < 50; ++i) {
    auto n = j->Append("sensors/" + std::to_string(i), "{\"value\": " + std::to_string(i) + "}",
                       1000 + i);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, static_cast<uint64_t>(i + 1));
  }
  const auto all = ReadAll(*j, 0);
  ASSERT_EQ(all.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(all[i].number, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(all[i].topic, "sensors/" + std::to_string(i));
    EXPECT_EQ(all[i].payload, "{\"value\": " + std::to_string(i) + "}");
    EXPECT_EQ(all[i].wall_us, 1000 + i);
  }
  EXPECT_EQ(ReadAll(*j, 40).size(), 10u);  // repositions backwards
}

TEST(IntakeJournal, ReopenContinuesTheNumbering) {
  TempDir dir;
  {
    auto j = OpenOrDie(dir / "intake", 0);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(j->Append("t", "p", 1).ok());
  }
  auto j = OpenOrDie(dir / "intake", 3);
  EXPECT_EQ(j->last_number(), 5u);
  EXPECT_EQ(*j->Append("t", "six", 1), 6u);
  const auto after_mark = ReadAll(*j, 3);
  ASSERT_EQ(after_mark.size(), 3u);
  EXPECT_EQ(after_mark.back().payload, "six");
}

TEST(IntakeJournal, NumbersContinueAboveTheLogsMarkWhenTheJournalLostItsTail) {
  // After a power cut the log (fsynced) may hold more than the journal (not fsynced) kept.
  TempDir dir;
  {
    auto j = OpenOrDie(dir / "intake", 0);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(j->Append("t", "p", 1).ok());
  }
  auto j = OpenOrDie(dir / "intake", 100);
  EXPECT_EQ(j->last_number(), 100u);
  EXPECT_EQ(*j->Append("t", "p", 1), 101u);
  const auto all = ReadAll(*j, 100);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].number, 101u);
}

TEST(IntakeJournal, ATornTailIsCutAtOpenAndAppendsContinueCleanly) {
  TempDir dir;
  {
    auto j = OpenOrDie(dir / "intake", 0);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(j->Append("t", "payload-" + std::to_string(i), 1).ok());
  }
  const fs::path seg = Segments(dir / "intake").back();
  fs::resize_file(seg, fs::file_size(seg) - 3);  // the third entry is torn
  auto j = OpenOrDie(dir / "intake", 0);
  EXPECT_EQ(j->last_number(), 2u);
  EXPECT_EQ(*j->Append("t", "again", 1), 3u);
  const auto all = ReadAll(*j, 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].payload, "again");
}

TEST(IntakeJournal, RotatesSegmentsAndReleaseDeletesOnlyWhollyCommittedOnes) {
  TempDir dir;
  auto j = OpenOrDie(dir / "intake", 0, /*segment_bytes=*/1000);
  const std::string payload(90, 'x');
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(j->Append("t", payload, 1).ok());
  const size_t before = Segments(dir / "intake").size();
  ASSERT_GT(before, 5u);
  j->Release(50);
  EXPECT_LT(Segments(dir / "intake").size(), before);
  const auto rest = ReadAll(*j, 50);
  ASSERT_EQ(rest.size(), 50u);
  EXPECT_EQ(rest.front().number, 51u);
  j->Release(100);
  EXPECT_EQ(Segments(dir / "intake").size(), 1u);  // the one being written stays
  EXPECT_EQ(*j->Append("t", "p", 1), 101u);
  EXPECT_EQ(j->Stats().segments, 1u);
}

TEST(IntakeJournal, DamageInAClosedSegmentSkipsToTheNextAndIsCounted) {
  TempDir dir;
  {
    auto j = OpenOrDie(dir / "intake", 0, /*segment_bytes=*/500);
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(j->Append("t", std::string(90, 'a' + i % 26), 1).ok());
  }
  const auto segs = Segments(dir / "intake");
  ASSERT_GT(segs.size(), 2u);
  {
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(150);
    f.put('#');  // inside the second entry's payload
  }
  auto j = OpenOrDie(dir / "intake", 0, 500);
  const auto all = ReadAll(*j, 0);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().number, 1u);
  EXPECT_LT(all.size(), 30u);
  EXPECT_EQ(all.back().number, 30u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].number, all[i].number);
  EXPECT_EQ(j->Stats().damaged_segments, 1u);
}

TEST(IntakeJournal, AReaderFollowsAConcurrentWriterInOrder) {
  TempDir dir;
  auto j = OpenOrDie(dir / "intake", 0, /*segment_bytes=*/64 * 1024);
  constexpr uint64_t kCount = 20000;
  std::thread writer([&] {
    for (uint64_t i = 1; i <= kCount; ++i) {
      ASSERT_TRUE(j->Append("s/x", std::to_string(i), static_cast<TimeMicros>(i)).ok());
    }
  });
  uint64_t after = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (after < kCount && std::chrono::steady_clock::now() < deadline) {
    auto r = j->ReadAfter(after, j->last_number(), 500, 1 << 20);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const IntakeEntry& e : *r) {
      ASSERT_EQ(e.number, after + 1);
      ASSERT_EQ(e.payload, std::to_string(e.number));
      after = e.number;
    }
    j->Release(after);  // as the store thread does after each commit
  }
  writer.join();
  EXPECT_EQ(after, kCount);
}

}  // namespace
}  // namespace weir::store
