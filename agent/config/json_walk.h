// Internal to agent/config: walking weir.v1.AgentConfig by reflection with schema paths, and
// converting between its fields and JSON values. Not part of the module's interface.
#pragma once

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/config/config.h"
#include "agent/config/schema.h"

namespace weir::config::internal {

using Json = nlohmann::ordered_json;

// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string Join(std::string_view prefix, std::string_view name);

// The spec of a field by its concrete path; a missing row is a programming error (asserted;
// config_schema_test checks that every proto field has one).
const KeySpec& SpecFor(std::string_view path);

// A field's value as JSON (lists and messages recursively), secrets redacted if asked.
Json FieldToJson(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* fd,
                 const std::string& path, Redact redact);

}  // namespace weir::config::internal
