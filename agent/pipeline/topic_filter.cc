#include "agent/pipeline/topic_filter.h"

namespace weir::pipeline {
namespace {

// Splits off the next level of `s` (up to '/') and advances `s` past it and its separator.
// `more` is false once the last level has been taken.
std::string_view NextLevel(std::string_view& s, bool& more) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    std::string_view level = s;
    s = {};
    more = false;
    return level;
  }
  std::string_view level = s.substr(0, slash);
  s.remove_prefix(slash + 1);
  more = true;
  return level;
}

}  // namespace

bool TopicMatches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  bool filter_more = true;
  bool topic_more = true;
  while (filter_more) {
    const std::string_view f = NextLevel(filter, filter_more);
    if (f == "#") return true;  // matches this level and below, including none ("a/#" ~ "a")
    if (!topic_more) return false;
    const std::string_view t = NextLevel(topic, topic_more);
    if (f != "+" && f != t) return false;
  }
  return !topic_more;
}

}  // namespace weir::pipeline
