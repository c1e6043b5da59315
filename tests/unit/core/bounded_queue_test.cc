// BoundedQueue: close/drain semantics, deadlines, full-policies, and a multi-producer stress run.
#include "agent/core/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace weir {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(BoundedQueue, PopReturnsItemsInPushOrder) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.Push(1).ok());
  ASSERT_TRUE(q.Push(2).ok());
  ASSERT_TRUE(q.TryPush(3).ok());
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(*q.Pop(), 2);
  EXPECT_EQ(*q.TryPop(), 3);
  EXPECT_FALSE(q.TryPop().has_value());
}

TEST(BoundedQueue, ReadersDrainWhatWasPushedBeforeClose) {
  BoundedQueue<int> q(4);
  ASSERT_TRUE(q.Push(1).ok());
  ASSERT_TRUE(q.Push(2).ok());
  q.Close();
  EXPECT_EQ(q.Push(3).code(), StatusCode::kCancelled);
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_EQ(*q.PopUntil(steady_clock::now()), 2);
  EXPECT_EQ(q.Pop().status().code(), StatusCode::kCancelled);
}

TEST(BoundedQueue, FailedPushLeavesTheItemWithTheCaller) {
  BoundedQueue<std::unique_ptr<int>> q(1);
  auto first = std::make_unique<int>(1);
  ASSERT_TRUE(q.TryPush(std::move(first)).ok());
  auto second = std::make_unique<int>(2);
  EXPECT_EQ(q.TryPush(std::move(second)).code(), StatusCode::kResourceExhausted);
  ASSERT_NE(second, nullptr);
  q.Close();
  EXPECT_EQ(q.Push(std::move(second)).code(), StatusCode::kCancelled);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(*second, 2);
}

TEST(BoundedQueue, TryPushFailsWhenFullWithoutBlocking) {
  BoundedQueue<int> q(2);
  ASSERT_TRUE(q.TryPush(1).ok());
  ASSERT_TRUE(q.TryPush(2).ok());
  EXPECT_EQ(q.TryPush(3).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(q.size(), 2u);
}

TEST(BoundedQueue, DropOldestReturnsTheEvictedItem) {
  BoundedQueue<int> q(2);
  auto r1 = q.PushDropOldest(1);
  ASSERT_TRUE(r1.ok());
  EXPECT_FALSE(r1->has_value());
  ASSERT_TRUE(q.PushDropOldest(2).ok());
  auto r3 = q.PushDropOldest(3);
  ASSERT_TRUE(r3.ok());
  ASSERT_TRUE(r3->has_value());
  EXPECT_EQ(**r3, 1);
  EXPECT_EQ(*q.Pop(), 2);
  EXPECT_EQ(*q.Pop(), 3);
  q.Close();
  EXPECT_EQ(q.PushDropOldest(4).status().code(), StatusCode::kCancelled);
}

TEST(BoundedQueue, PushUntilGivesUpAtTheDeadlineWhenFull) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1).ok());
  const auto start = steady_clock::now();
  EXPECT_EQ(q.PushUntil(2, start + milliseconds(20)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_GE(steady_clock::now() - start, milliseconds(20));
  EXPECT_EQ(q.size(), 1u);
}

TEST(BoundedQueue, PopUntilGivesUpAtTheDeadlineWhenEmpty) {
  BoundedQueue<int> q(1);
  const auto start = steady_clock::now();
  EXPECT_EQ(q.PopUntil(start + milliseconds(20)).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_GE(steady_clock::now() - start, milliseconds(20));
}

TEST(BoundedQueue, BlockedPushProceedsWhenAConsumerMakesRoom) {
  BoundedQueue<int> q(1);
  ASSERT_TRUE(q.Push(1).ok());
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(q.Push(2).ok());
    pushed = true;
  });
  EXPECT_EQ(*q.Pop(), 1);
  EXPECT_TRUE(testing::WaitFor([&] { return pushed.load(); }));
  producer.join();
  EXPECT_EQ(*q.Pop(), 2);
}

TEST(BoundedQueue, CloseWakesBlockedProducersAndConsumers) {
  BoundedQueue<int> full(1);
  ASSERT_TRUE(full.Push(1).ok());
  BoundedQueue<int> empty(1);
  std::atomic<int> woken{0};
  std::thread producer([&] {
    EXPECT_EQ(full.Push(2).code(), StatusCode::kCancelled);
    ++woken;
  });
  std::thread consumer([&] {
    EXPECT_EQ(empty.Pop().status().code(), StatusCode::kCancelled);
    ++woken;
  });
  full.Close();
  empty.Close();
  EXPECT_TRUE(testing::WaitFor([&] { return woken.load() == 2; }));
  producer.join();
  consumer.join();
  EXPECT_EQ(*full.Pop(), 1);  // the item queued before Close is still delivered
}

TEST(BoundedQueue, PopBatchReturnsAsSoonAsTheBatchIsFull) {
  BoundedQueue<int> q(100);
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(q.Push(int{i}).ok());
  });
  std::vector<int> batch;
  // A deadline far away: returning at all shows the count, not the time, ended the wait.
  ASSERT_TRUE(q.PopBatch(10, steady_clock::now() + std::chrono::minutes(5), &batch).ok());
  producer.join();
  EXPECT_EQ(batch, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(BoundedQueue, PopBatchReturnsAPartialBatchAtTheDeadline) {
  BoundedQueue<int> q(100);
  ASSERT_TRUE(q.Push(7).ok());
  ASSERT_TRUE(q.Push(8).ok());
  std::vector<int> batch{1};
  ASSERT_TRUE(q.PopBatch(10, steady_clock::now() + milliseconds(10), &batch).ok());
  EXPECT_EQ(batch, (std::vector<int>{1, 7, 8}));  // appended, not replaced
  batch.clear();
  EXPECT_EQ(q.PopBatch(10, steady_clock::now() + milliseconds(10), &batch).code(),
            StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(batch.empty());
}

TEST(BoundedQueue, PopBatchTakesAtMostMax) {
  BoundedQueue<int> q(10);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Push(int{i}).ok());
  std::vector<int> batch;
  ASSERT_TRUE(q.PopBatch(3, steady_clock::now(), &batch).ok());
  EXPECT_EQ(batch, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(q.size(), 2u);
}

TEST(BoundedQueue, PopBatchLargerThanCapacityReturnsWhenTheQueueIsFull) {
  BoundedQueue<int> q(3);
  std::thread producer([&] {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.Push(int{i}).ok());
  });
  std::vector<int> batch;
  ASSERT_TRUE(q.PopBatch(1000, steady_clock::now() + std::chrono::minutes(5), &batch).ok());
  producer.join();
  EXPECT_EQ(batch.size(), 3u);
}

TEST(BoundedQueue, PopBatchDrainsAfterCloseThenReportsCancelled) {
  BoundedQueue<int> q(10);
  ASSERT_TRUE(q.Push(1).ok());
  std::vector<int> batch;
  std::thread closer([&] { q.Close(); });
  ASSERT_TRUE(q.PopBatch(5, BoundedQueue<int>::TimePoint::max(), &batch).ok());
  closer.join();
  EXPECT_EQ(batch, std::vector<int>{1});
  EXPECT_EQ(q.PopBatch(5, BoundedQueue<int>::TimePoint::max(), &batch).code(),
            StatusCode::kCancelled);
}

TEST(BoundedQueue, HighWaterRemembersTheLargestSize) {
  BoundedQueue<int> q(10);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(q.Push(int{i}).ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(q.Pop().ok());
  ASSERT_TRUE(q.Push(1).ok());
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.high_water(), 6u);
  EXPECT_EQ(q.capacity(), 10u);
}

// Four producers and three consumers (two popping singly, one in batches) through a small queue:
// every item arrives exactly once and each producer's items arrive in the order it pushed them.
TEST(BoundedQueue, ManyProducersAndConsumersDeliverEveryItemOnceInProducerOrder) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 20000;
  BoundedQueue<std::pair<int, int>> q(16);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&q, p] {
      for (int i = 0; i < kPerProducer; ++i) ASSERT_TRUE(q.Push({p, i}).ok());
    });
  }
  std::vector<std::vector<std::pair<int, int>>> seen(3);
  std::vector<std::thread> consumers;
  for (int c = 0; c < 2; ++c) {
    consumers.emplace_back([&q, &seen, c] {
      for (auto item = q.Pop(); item.ok(); item = q.Pop()) seen[c].push_back(*item);
    });
  }
  consumers.emplace_back([&q, &seen] {
    std::vector<std::pair<int, int>> batch;
    while (true) {
      batch.clear();
      const Status s = q.PopBatch(8, steady_clock::now() + milliseconds(1), &batch);
      if (s.code() == StatusCode::kCancelled) break;
      seen[2].insert(seen[2].end(), batch.begin(), batch.end());
    }
  });
  for (auto& t : producers) t.join();
  q.Close();
  for (auto& t : consumers) t.join();

  std::set<std::pair<int, int>> all;
  size_t total = 0;
  for (const auto& items : seen) {
    std::vector<int> last(kProducers, -1);
    for (const auto& [p, i] : items) {
      EXPECT_GT(i, last[p]) << "producer " << p << " reordered within one consumer";
      last[p] = i;
      all.insert({p, i});
    }
    total += items.size();
  }
  EXPECT_EQ(total, size_t{kProducers} * kPerProducer);
  EXPECT_EQ(all.size(), size_t{kProducers} * kPerProducer);
  EXPECT_LE(q.high_water(), 16u);
}

}  // namespace
}  // namespace weir
