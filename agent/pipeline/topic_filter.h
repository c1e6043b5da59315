// MQTT topic filter matching (MQTT 3.1.1 section 4.7): '+' matches one level, a trailing '#'
// matches the parent level and everything below it. Pure; thread-safe.
#pragma once

#include <string_view>

namespace weir::pipeline {

// True when `topic` (no wildcards) matches `filter`. Topics starting with '$' are not matched by
// a filter starting with a wildcard, as brokers do.
bool TopicMatches(std::string_view filter, std::string_view topic);

}  // namespace weir::pipeline
