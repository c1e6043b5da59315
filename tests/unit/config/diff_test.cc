// Diff between configs: changed paths, live or restart, and the remote allow-list.
#include "agent/config/diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir::config {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

AgentConfig Running() {
  Result<AgentConfig> r = MergeJson(Defaults(), R"({"device_id": "gw-17",
      "upstream": {"broker": {"url": "mqtts://broker.example:8883", "username": "u",
                              "password": "old-secret"}}})");
  EXPECT_TRUE(r.ok());
  return r.value();
}

AgentConfig With(const AgentConfig& base, std::string_view json) {
  Result<AgentConfig> r = MergeJson(base, json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : base;
}

TEST(ConfigDiff, EqualConfigsHaveNoChanges) { EXPECT_TRUE(Diff(Running(), Running()).empty()); }

TEST(ConfigDiff, ListsChangedPathsInSchemaOrderWithValues) {
  const AgentConfig old_config = Running();
  const AgentConfig new_config =
      With(old_config, R"({"log_level": "debug", "store": {"group_commit_records": 500}})");
  std::vector<Change> changes = Diff(old_config, new_config);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].path, "store.group_commit_records");
  EXPECT_EQ(changes[0].before, "1000");
  EXPECT_EQ(changes[0].after, "500");
  EXPECT_EQ(changes[1].path, "log_level");
  EXPECT_EQ(changes[1].after, "\"debug\"");
}

TEST(ConfigDiff, ClassifiesLiveAndRestart) {
  const AgentConfig old_config = Running();
  std::vector<Change> live =
      Diff(old_config, With(old_config, R"({"upstream": {"max_inflight": 4}})"));
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].apply, Apply::kLive);
  EXPECT_FALSE(NeedsRestart(live));
  std::vector<Change> restart =
      Diff(old_config,
           With(old_config,
                R"({"upstream": {"max_inflight": 4}, "store": {"state_dir": "/data/weir"}})"));
  ASSERT_EQ(restart.size(), 2u);
  EXPECT_EQ(restart[0].path, "store.state_dir");
  EXPECT_EQ(restart[0].apply, Apply::kRestart);
  EXPECT_TRUE(NeedsRestart(restart));
}

TEST(ConfigDiff, ListElementsAreComparedByIndexAndAddedOnesNamed) {
  const AgentConfig old_config = Running();
  const AgentConfig new_config = With(
      old_config,
      R"({"ingest": {"subscriptions": [{"topic": "sensors/#", "format": "number"}, {"topic": "b/#"}]}})");
  std::vector<Change> changes = Diff(old_config, new_config);
  EXPECT_THAT(changes, ElementsAre(Field(&Change::path, "ingest.subscriptions[0].format"),
                                   Field(&Change::path, "ingest.subscriptions[1]")));
  EXPECT_EQ(changes[1].before, "");
  EXPECT_THAT(changes[1].after, HasSubstr("\"topic\":\"b/#\""));
  EXPECT_EQ(changes[1].apply, Apply::kLive);
  EXPECT_TRUE(changes[1].remote);
  // And removed again.
  std::vector<Change> back = Diff(new_config, old_config);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].path, "ingest.subscriptions[1]");
  EXPECT_EQ(back[1].after, "");
}

TEST(ConfigDiff, SecretsAreRedactedInChanges) {
  const AgentConfig old_config = Running();
  std::vector<Change> changes =
      Diff(old_config, With(old_config, R"({"upstream": {"broker": {"password": "new-secret"}}})"));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "upstream.broker.password");
  EXPECT_EQ(changes[0].before, "\"<redacted>\"");
  EXPECT_EQ(changes[0].after, "\"<redacted>\"");
}

TEST(ConfigRemote, AllowListedChangesPass) {
  Result<RemotePlan> plan = PlanRemoteUpdate(
      Running(), R"({"upstream": {"batch_readings": 200}, "log_level": "warn"})", false);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->config.upstream().batch_readings(), 200u);
  EXPECT_EQ(plan->changes.size(), 2u);
  EXPECT_FALSE(plan->needs_restart);
}

TEST(ConfigRemote, ChangesOutsideTheAllowListAreRejectedByName) {
  Result<RemotePlan> plan = PlanRemoteUpdate(
      Running(),
      R"({"device_id": "evil", "upstream": {"broker": {"url": "mqtt://attacker:1883"}, "max_inflight": 2}})",
      false);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "device_id, upstream.broker.url: may not be changed remotely (local config only)");
}

TEST(ConfigRemote, RestatingANonRemoteKeyWithItsCurrentValueIsNotAChange) {
  Result<RemotePlan> plan = PlanRemoteUpdate(
      Running(), R"({"device_id": "gw-17", "upstream": {"max_inflight": 2}})", false);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->changes.size(), 1u);
}

TEST(ConfigRemote, BinaryDocumentsAreJudgedTheSameWay) {
  AgentConfig doc;
  doc.mutable_store()->set_state_dir("/tmp/elsewhere");
  Result<RemotePlan> plan = PlanRemoteUpdate(Running(), doc.SerializeAsString(), true);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(),
            "store.state_dir: may not be changed remotely (local config only)");
  AgentConfig ok_doc;
  ok_doc.mutable_ingest()->set_max_payload_bytes(4096);
  plan = PlanRemoteUpdate(Running(), ok_doc.SerializeAsString(), true);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->config.ingest().max_payload_bytes(), 4096u);
}

TEST(ConfigRemote, AnInvalidResultIsRejectedBeforeTheAllowList) {
  Result<RemotePlan> plan = PlanRemoteUpdate(
      Running(), R"({"upstream": {"backoff_initial_ms": 9000, "backoff_max_ms": 100}})", false);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(), HasSubstr("upstream.backoff_initial_ms: 9000 is above"));
}

}  // namespace
}  // namespace weir::config
