// The config schema, read from the (weir.v1.key) options of proto/weir/v1/config.proto
// (options.proto says what each option means). Adding a key is adding a field with its option
// there, and regenerating the README (config_schema_test says how).
#include "agent/config/schema.h"

#include <google/protobuf/descriptor.h>

#include <cassert>
#include <cctype>
#include <charconv>
#include <deque>
#include <limits>
#include <string>
#include <vector>

#include "weir/v1/config.pb.h"
#include "weir/v1/options.pb.h"

namespace weir::config {
namespace {

constexpr double kLowest = -std::numeric_limits<double>::max();
constexpr double kHighest = std::numeric_limits<double>::max();

using enum KeyType;
using enum StringRule;
using enum Apply;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

static_assert(static_cast<int>(kAny) == v1::KeyOptions::ANY &&
                  static_cast<int>(kUrl) == v1::KeyOptions::URL &&
                  static_cast<int>(kTopicSafeId) == v1::KeyOptions::TOPIC_SAFE_ID &&
                  static_cast<int>(kTopicFilter) == v1::KeyOptions::TOPIC_FILTER &&
                  static_cast<int>(kTopicPrefix) == v1::KeyOptions::TOPIC_PREFIX &&
                  static_cast<int>(kClientId) == v1::KeyOptions::CLIENT_ID &&
                  static_cast<int>(kAbsolutePath) == v1::KeyOptions::ABSOLUTE_PATH,
              "StringRule mirrors weir.v1.KeyOptions.Rule");

// The schema as read from the descriptor once. KeySpec holds string_views: into `paths` and
// `merged` (deques, so elements never move) and into the generated descriptor pool's options,
// which live as long as the process.
struct BuiltSchema {
  std::vector<KeySpec> keys;
  std::deque<std::string> paths;
  std::deque<v1::KeyOptions> merged;
};

KeyType TypeOf(const FieldDescriptor* f) {
  if (f->is_repeated()) return kList;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return kString;
    case FieldDescriptor::CPPTYPE_UINT32:
      return kUint32;
    case FieldDescriptor::CPPTYPE_UINT64:
      return kUint64;
    case FieldDescriptor::CPPTYPE_INT32:
      return kInt32;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return kDouble;
    case FieldDescriptor::CPPTYPE_BOOL:
      return kBool;
    default:
      // config_schema_test walks every field: a type the schema cannot hold fails there.
      assert(false && "config.proto field of a type KeyType does not cover");
      return kString;
  }
}

KeySpec SpecFrom(std::string_view path, KeyType type, const v1::KeyOptions& o) {
  return KeySpec{.path = path,
                 .type = type,
                 .default_text = o.default_(),
                 .min = o.min(),
                 .max = o.max(),
                 .min_double = o.min_double(),
                 .max_double = o.max_double(),
                 .min_exclusive = o.min_exclusive(),
                 .choices = o.choices(),
                 .rule = static_cast<StringRule>(o.rule()),
                 .required = o.required(),
                 .apply = o.live() ? kLive : kRestart,
                 .remote = o.remote(),
                 .secret = o.secret(),
                 .description = o.description()};
}

// The options of `field` at this place: its own, with what the parent field's `child` entries
// say for it laid over them (KeyOptions.child in options.proto).
const v1::KeyOptions& OptionsAt(const FieldDescriptor* field, const v1::KeyOptions* parent,
                                BuiltSchema& built) {
  const v1::KeyOptions& own = field->options().GetExtension(v1::key);
  if (parent == nullptr) return own;
  for (const v1::KeyOptions::Child& child : parent->child()) {
    if (child.name() != field->name()) continue;
    v1::KeyOptions& merged = built.merged.emplace_back(own);
    merged.MergeFrom(child.options());
    return merged;
  }
  return own;
}

// Depth first in field order: a key, then (for a list) its elements' keys. A singular message
// field is not a key itself, only a level of the path.
void Walk(const Descriptor* message, const std::string& prefix, const v1::KeyOptions* parent,
          BuiltSchema& built) {
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* field = message->field(i);
    const std::string path = prefix + std::string(field->name());
    const v1::KeyOptions& options = OptionsAt(field, parent, built);
    if (field->message_type() != nullptr && !field->is_repeated()) {
      Walk(field->message_type(), path + ".", &options, built);
      continue;
    }
    built.keys.push_back(SpecFrom(built.paths.emplace_back(path), TypeOf(field), options));
    if (field->message_type() != nullptr) Walk(field->message_type(), path + "[].", nullptr, built);
  }
}

const BuiltSchema& Built() {
  static const BuiltSchema* const built = [] {
    auto* b = new BuiltSchema;
    Walk(v1::AgentConfig::descriptor(), "", nullptr, *b);
    return b;
  }();
  return *built;
}

// "ingest.subscriptions[12].topic" -> "ingest.subscriptions[].topic".
std::string ElideIndices(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  bool in_index = false;
  for (char c : path) {
    if (c == '[') in_index = true;
    if (in_index && std::isdigit(static_cast<unsigned char>(c))) continue;
    if (c == ']') in_index = false;
    out.push_back(c);
  }
  return out;
}

std::string TypeName(const KeySpec& k) {
  switch (k.type) {
    case kString:
      return "string";
    case kUint32:
      return "uint32";
    case kUint64:
      return "uint64";
    case kInt32:
      return "int32";
    case kDouble:
      return "double";
    case kBool:
      return "bool";
    case kList:
      return "list";
  }
  return "?";
}

}  // namespace

std::string DoubleText(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : "?";
}

namespace {

std::string RangeText(const KeySpec& k) {
  std::string choices(k.choices);
  for (char& c : choices) {
    if (c == '|') c = '/';
  }
  if (!choices.empty()) return "one of " + choices;  // "json/number/line"
  switch (k.type) {
    case kString: {
      std::string rule;
      switch (k.rule) {
        case kAny:
          break;
        case kUrl:
          rule = "mqtt:// or mqtts:// URL, ";
          break;
        case kTopicSafeId:
          rule = "[A-Za-z0-9._-], ";
          break;
        case kTopicFilter:
          rule = "MQTT topic filter, ";
          break;
        case kTopicPrefix:
          rule = "MQTT topic, no wildcards, ";
          break;
        case kClientId:
          rule = "printable ASCII, no spaces, ";
          break;
        case kAbsolutePath:
          rule = "absolute path, ";
          break;
      }
      std::string len = k.min > 0 ? std::to_string(k.min) + ".." + std::to_string(k.max)
                                  : "at most " + std::to_string(k.max);
      return rule + len + " bytes";
    }
    case kList:
      return std::to_string(k.min) + ".." + std::to_string(k.max) + " items";
    case kBool:
      return "true/false";
    case kDouble:
      if (k.min_double == kLowest && k.max_double == kHighest) return "any finite number";
      if (k.min_exclusive) {
        return "> " + DoubleText(k.min_double) +
               (k.max_double == kHighest ? ", finite" : ", <= " + DoubleText(k.max_double));
      }
      return DoubleText(k.min_double) + ".." + DoubleText(k.max_double);
    default:
      return std::to_string(k.min) + ".." + std::to_string(k.max);
  }
}

}  // namespace

std::span<const KeySpec> Schema() { return Built().keys; }

const KeySpec* FindKey(std::string_view path) {
  const std::string elided = ElideIndices(path);
  for (const KeySpec& k : Schema()) {
    if (k.path == elided) return &k;
  }
  return nullptr;
}

std::string EnvName(std::string_view path) {
  std::string out = "WEIR_";
  for (char c : path) {
    if (c == '.' || c == '[') {
      out += "__";
    } else if (c != ']') {
      out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

std::string ReferenceMarkdown() {
  std::string md =
      "| key | type | default | allowed | remote | applies | description |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const KeySpec& k : Schema()) {
    std::string def = k.default_text.empty() ? (k.required ? "(required)" : "\"\"")
                                             : "`" + std::string(k.default_text) + "`";
    md += "| `" + std::string(k.path) + "` | " + TypeName(k) + " | " + def + " | " + RangeText(k) +
          " | " + (k.remote ? "yes" : "no") + " | " + (k.apply == kLive ? "live" : "restart") +
          " | " + std::string(k.description) + " |\n";
  }
  return md;
}

}  // namespace weir::config
