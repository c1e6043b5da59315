// The schema table against config.proto, its own consistency, and the README reference.
#include "agent/config/schema.h"

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/config/config.h"

namespace weir::config {
namespace {

namespace pb = ::google::protobuf;

// Every leaf of the proto as a schema path, with its proto type.
void ProtoLeaves(const pb::Descriptor* d, const std::string& prefix,
                 std::map<std::string, const pb::FieldDescriptor*>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* fd = d->field(i);
    const std::string name(fd->name());  // a string_view from protobuf 30 on
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (fd->is_repeated()) {
      (*out)[path] = fd;
      ProtoLeaves(fd->message_type(), path + "[]", out);
    } else if (fd->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      ProtoLeaves(fd->message_type(), path, out);
    } else {
      (*out)[path] = fd;
    }
  }
}

KeyType ExpectedType(const pb::FieldDescriptor* fd) {
  if (fd->is_repeated()) return KeyType::kList;
  switch (fd->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      return KeyType::kString;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return KeyType::kUint32;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return KeyType::kUint64;
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return KeyType::kInt32;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return KeyType::kDouble;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return KeyType::kBool;
    default:
      ADD_FAILURE() << fd->full_name() << " has a type the schema cannot express";
      return KeyType::kString;
  }
}

TEST(ConfigSchema, EveryProtoFieldHasExactlyOneRowOfTheRightType) {
  std::map<std::string, const pb::FieldDescriptor*> leaves;
  ProtoLeaves(AgentConfig::descriptor(), "", &leaves);
  std::set<std::string> rows;
  for (const KeySpec& k : Schema()) {
    EXPECT_TRUE(rows.insert(std::string(k.path)).second) << "duplicate row " << k.path;
    auto it = leaves.find(std::string(k.path));
    ASSERT_NE(it, leaves.end()) << "schema row without a proto field: " << k.path;
    EXPECT_EQ(k.type, ExpectedType(it->second)) << k.path;
    if (!it->second->is_repeated()) {
      EXPECT_TRUE(it->second->has_presence()) << k.path << " must be `optional` in config.proto";
    }
  }
  for (const auto& [path, fd] : leaves) {
    EXPECT_TRUE(rows.count(path)) << "proto field without a schema row: " << path;
  }
}

TEST(ConfigSchema, RowsAreDescribedAndConsistent) {
  for (const KeySpec& k : Schema()) {
    EXPECT_FALSE(k.description.empty()) << k.path;
    EXPECT_LE(k.min, k.max) << k.path;
    if (k.type == KeyType::kUint32) {
      EXPECT_LE(k.max, int64_t{UINT32_MAX}) << k.path;
    }
    if (k.type == KeyType::kInt32) {
      EXPECT_LE(k.max, int64_t{INT32_MAX}) << k.path;
    }
    if (k.type == KeyType::kDouble) {
      EXPECT_TRUE(std::isfinite(k.min_double) && std::isfinite(k.max_double)) << k.path;
      EXPECT_LE(k.min_double, k.max_double) << k.path;
      EXPECT_TRUE(k.choices.empty()) << k.path << ": choices are for strings and integers";
    } else {
      EXPECT_FALSE(k.min_exclusive) << k.path << ": min_exclusive is for doubles";
    }
    if (k.secret) {
      EXPECT_EQ(k.type, KeyType::kString) << k.path;
    }
    // Elements of a list follow the list's rules: one remote/apply decision per list.
    const std::string path(k.path);
    const size_t bracket = path.find("[]");
    if (bracket != std::string::npos) {
      const KeySpec* list = FindKey(path.substr(0, bracket));
      ASSERT_NE(list, nullptr) << k.path;
      EXPECT_EQ(k.apply, list->apply) << k.path;
      EXPECT_EQ(k.remote, list->remote) << k.path;
    }
    // A key that may change remotely must also apply live: a remote push cannot restart us.
    if (k.remote) {
      EXPECT_EQ(k.apply, Apply::kLive) << k.path;
    }
  }
}

TEST(ConfigSchema, IdentityStorageAndBrokersAreNotRemote) {
  for (const char* path :
       {"device_id", "group", "store.state_dir", "upstream.broker.url", "upstream.broker.password",
        "ingest.local.url", "upstream.topic_prefix"}) {
    const KeySpec* k = FindKey(path);
    ASSERT_NE(k, nullptr) << path;
    EXPECT_FALSE(k->remote) << path;
  }
}

TEST(ConfigSchema, FindKeyAcceptsConcreteAndElidedIndices) {
  ASSERT_NE(FindKey("ingest.subscriptions[7].json_fields.time"), nullptr);
  EXPECT_EQ(FindKey("ingest.subscriptions[7].json_fields.time"),
            FindKey("ingest.subscriptions[].json_fields.time"));
  EXPECT_EQ(FindKey("upstream"), nullptr);
  EXPECT_EQ(FindKey("upstream.brokr"), nullptr);
}

TEST(ConfigSchema, EnvironmentNamesJoinLevelsWithDoubleUnderscores) {
  EXPECT_EQ(EnvName("device_id"), "WEIR_DEVICE_ID");
  EXPECT_EQ(EnvName("upstream.broker.url"), "WEIR_UPSTREAM__BROKER__URL");
  EXPECT_EQ(EnvName("ingest.subscriptions[0].topic"), "WEIR_INGEST__SUBSCRIPTIONS__0__TOPIC");
  // And back: every key's env name maps to the key.
  for (const KeySpec& k : Schema()) {
    std::string path(k.path);
    for (size_t at; (at = path.find("[]")) != std::string::npos;) path.replace(at, 2, "[0]");
    std::vector<Override> o = EnvOverrides({EnvName(path) + "=x"});
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0].path, path);
  }
}

constexpr std::string_view kBegin =
    "<!-- BEGIN KEYS (generated from config.proto by config_schema_test) -->\n";
constexpr std::string_view kEnd = "<!-- END KEYS -->";

TEST(ConfigSchema, ReadmeReferenceMatchesTheSchema) {
  std::ifstream in(WEIR_CONFIG_README);
  ASSERT_TRUE(in) << "cannot read " << WEIR_CONFIG_README;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string readme = buf.str();
  const size_t begin = readme.find(kBegin);
  const size_t end = readme.find(kEnd);
  ASSERT_NE(begin, std::string::npos) << "README lacks the BEGIN KEYS marker";
  ASSERT_NE(end, std::string::npos) << "README lacks the END KEYS marker";
  const size_t from = begin + kBegin.size();
  const std::string current = readme.substr(from, end - from);
  const std::string wanted = ReferenceMarkdown();
  if (current != wanted && std::getenv("WEIR_UPDATE_DOCS") != nullptr) {
    readme.replace(from, end - from, wanted);
    std::ofstream(WEIR_CONFIG_README) << readme;
    GTEST_SKIP() << "rewrote " << WEIR_CONFIG_README;
  }
  EXPECT_EQ(current, wanted) << "agent/config/README.md is out of date; rerun with "
                                "WEIR_UPDATE_DOCS=1 to regenerate it";
}

}  // namespace
}  // namespace weir::config
