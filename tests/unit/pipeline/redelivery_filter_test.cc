// RedeliveryFilter: only a DUP-flagged copy of a message journaled during the previous connection
// is dropped, once.
#include "agent/pipeline/redelivery_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace weir::pipeline {
namespace {

TEST(RedeliveryFilter, ADupCopyOfAMessageOfThePreviousConnectionIsDroppedOnce) {
  RedeliveryFilter f;
  f.OnConnected();
  f.Remember("s/a", "1");
  f.Remember("s/a", "2");
  f.OnConnected();  // reconnect
  EXPECT_TRUE(f.IsRedelivery("s/a", "2", /*duplicate=*/true));
  EXPECT_FALSE(f.IsRedelivery("s/a", "2", true));  // matches once
  EXPECT_EQ(f.dropped(), 1u);
}

TEST(RedeliveryFilter, WithoutTheDupFlagOrWithOtherBytesAMessageIsNew) {
  RedeliveryFilter f;
  f.Remember("s/a", "1");
  f.OnConnected();
  EXPECT_FALSE(f.IsRedelivery("s/a", "1", /*duplicate=*/false));
  EXPECT_FALSE(f.IsRedelivery("s/b", "1", true));  // another topic
  EXPECT_FALSE(f.IsRedelivery("s/a", "10", true));
  EXPECT_TRUE(f.IsRedelivery("s/a", "1", true));
}

TEST(RedeliveryFilter, OnlyTheLastWindowOfMessagesIsRemembered) {
  RedeliveryFilter f(/*window=*/4);
  for (int i = 0; i < 10; ++i) f.Remember("s", std::to_string(i));
  f.OnConnected();
  EXPECT_FALSE(f.IsRedelivery("s", "5", true));
  for (int i = 6; i < 10; ++i) EXPECT_TRUE(f.IsRedelivery("s", std::to_string(i), true)) << i;
}

TEST(RedeliveryFilter, MessagesOfTheCurrentConnectionAreNotMatched) {
  RedeliveryFilter f;
  f.OnConnected();
  f.Remember("s", "x");
  EXPECT_FALSE(f.IsRedelivery("s", "x", true));  // a DUP within one connection is the broker's
  f.OnConnected();
  f.OnConnected();  // two reconnects: the first connection's messages are forgotten
  EXPECT_FALSE(f.IsRedelivery("s", "x", true));
}

}  // namespace
}  // namespace weir::pipeline
