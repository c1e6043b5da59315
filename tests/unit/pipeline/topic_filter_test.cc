#include "agent/pipeline/topic_filter.h"

#include <gtest/gtest.h>

namespace weir::pipeline {
namespace {

TEST(TopicFilter, ExactTopicsMatchOnlyThemselves) {
  EXPECT_TRUE(TopicMatches("a/b", "a/b"));
  EXPECT_FALSE(TopicMatches("a/b", "a/c"));
  EXPECT_FALSE(TopicMatches("a/b", "a/b/c"));
  EXPECT_FALSE(TopicMatches("a/b/c", "a/b"));
}

TEST(TopicFilter, PlusMatchesExactlyOneLevel) {
  EXPECT_TRUE(TopicMatches("a/+/c", "a/b/c"));
  EXPECT_TRUE(TopicMatches("a/+", "a/"));  // an empty level is a level
  EXPECT_FALSE(TopicMatches("a/+", "a/b/c"));
  EXPECT_FALSE(TopicMatches("+", "a/b"));
}

TEST(TopicFilter, HashMatchesTheParentAndEverythingBelow) {
  EXPECT_TRUE(TopicMatches("sensors/#", "sensors"));
  EXPECT_TRUE(TopicMatches("sensors/#", "sensors/boiler/temp"));
  EXPECT_TRUE(TopicMatches("#", "anything/at/all"));
  EXPECT_FALSE(TopicMatches("sensors/#", "other/boiler"));
}

TEST(TopicFilter, WildcardsAtTheStartDoNotMatchDollarTopics) {
  EXPECT_FALSE(TopicMatches("#", "$SYS/broker/uptime"));
  EXPECT_FALSE(TopicMatches("+/broker/uptime", "$SYS/broker/uptime"));
  EXPECT_TRUE(TopicMatches("$SYS/#", "$SYS/broker/uptime"));
}

}  // namespace
}  // namespace weir::pipeline
