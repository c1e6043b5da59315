// Internal to agent/config: the syntax rules of string keys and the rules across keys. Not part
// of the module's interface (ParseBrokerUrl, in config.h, is).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/config/schema.h"

namespace weir::config::internal {

// `choices` is "a|b|c".
bool IsChoice(std::string_view choices, std::string_view value);
// "a|b|c" -> "a, b, c".
std::string ChoiceList(std::string_view choices);

// Empty when `value` (non-empty) satisfies `rule`, else what is wrong, without the path.
std::string CheckRule(StringRule rule, std::string_view value);

// MQTT topic matching: does `filter` ("a/+/#") match the topic name `topic`?
bool TopicMatches(std::string_view filter, std::string_view topic);

// Appends one "path: problem" per broken rule across keys (Validate()'s second half).
void CheckAcrossKeys(const AgentConfig& c, std::vector<std::string>* problems);

}  // namespace weir::config::internal
