// The agent config schema: for every key of weir.v1.AgentConfig, its type, default, allowed range
// or values, whether it may change remotely or needs a restart, and a one-line description.
// The source is the (weir.v1.key) option on each field of proto/weir/v1/config.proto, read from
// the descriptor on first use; validation, the remote allow-list, the diff and
// agent/config/README.md all come from it, so they cannot disagree.
//
// Built once (thread-safe static initialisation), then immutable: safe to read from any thread.
// No I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace weir::config {

enum class KeyType {
  kString,
  kUint32,
  kUint64,
  kInt32,
  kDouble,  // finite only: JSON has no NaN or infinity, and a detector limit of NaN means nothing
  kBool,
  kList,  // a repeated message; its elements' keys are listed as "<path>[].<key>"
};

// When a changed key takes effect.
enum class Apply {
  kLive,     // applied by SIGHUP reload or a remote config without restarting the agent
  kRestart,  // stored, but takes effect at the next start
};

// Extra syntax rules for string keys, beyond length and choices.
enum class StringRule {
  kAny,
  kUrl,           // mqtt://host[:port] or mqtts://host[:port]
  kTopicSafeId,   // letters, digits, '.', '_', '-': usable as one MQTT topic level
  kTopicFilter,   // an MQTT subscription filter ('+' and '#' as whole levels, '#' last)
  kTopicPrefix,   // an MQTT topic name without wildcards, no leading or trailing '/'
  kClientId,      // printable ASCII without spaces
  kAbsolutePath,  // starts with '/'
};

struct KeySpec {
  // Dotted path as in JSON; list elements as "ingest.subscriptions[].topic".
  std::string_view path;
  KeyType type;
  // The default as it would be written after `--set path=`; lists as JSON text.
  std::string_view default_text;
  // Inclusive range: integers' values, strings' byte length, lists' item count.
  int64_t min;
  int64_t max;
  // Range of kDouble keys; min_double itself is excluded when min_exclusive ("> 0").
  double min_double = 0;
  double max_double = 0;
  bool min_exclusive = false;
  // For strings and integers: the allowed values separated by '|'; empty means any in range.
  std::string_view choices = "";
  StringRule rule = StringRule::kAny;
  // Must be non-empty in a complete config (checked by Validate, not while layering).
  bool required = false;
  Apply apply = Apply::kRestart;
  bool remote = false;  // may be changed by fleet config over MQTT
  bool secret = false;  // redacted when rendered
  std::string_view description = "";
};

// Every key, parents before children, in the order of the README.
std::span<const KeySpec> Schema();

// The spec for a path; list indices may be concrete ("ingest.subscriptions[2].topic") or
// elided ("ingest.subscriptions[].topic"). Returns nullptr for unknown paths and for message
// paths that are not keys themselves ("upstream", "ingest.local").
const KeySpec* FindKey(std::string_view path);

// "upstream.broker.url" -> "WEIR_UPSTREAM__BROKER__URL"; "ingest.subscriptions[0].topic" ->
// "WEIR_INGEST__SUBSCRIPTIONS__0__TOPIC". Levels are joined by a double underscore because
// keys contain single ones.
std::string EnvName(std::string_view path);

// A double as the shortest text that reads back as the same value ("0.95", "1e+308").
std::string DoubleText(double v);

// The README's key reference (a Markdown table), generated from Schema().
std::string ReferenceMarkdown();

}  // namespace weir::config
