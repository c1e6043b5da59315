// Building the agent config: schema defaults, then a JSON or binary document, then environment
// and command-line overrides, then whole-config validation; and rendering it back as JSON.
//
// Everything here is a pure function of its arguments: no I/O (reading the file and the
// environment is the caller's job), no shared state, safe from any thread. Fallible functions
// return InvalidArgument whose message starts with the key's path and says what is wrong:
//   "upstream.brokr: unknown key"
//   "store.group_commit_records: 0 is below the minimum 1"
//   "WEIR_STORE__QUOTA_BYTES: store.quota_bytes: 'lots' is not an integer"
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/core/broker_url.h"
#include "agent/core/status.h"
#include "weir/v1/config.pb.h"

namespace weir::config {

using AgentConfig = ::weir::v1::AgentConfig;

// Every key at its schema default (and present), with one subscription, `sensors/#` as JSON.
// Not valid by itself: device_id and upstream.broker.url have no default.
AgentConfig Defaults();

// Layers a JSON object over `base`: keys present in the document replace base's values (a list
// replaces the whole list; new list elements start from their defaults), absent keys are kept.
// Each value is checked against its key's type and range; unknown keys are errors. Does not run
// the cross-field checks of Validate().
Result<AgentConfig> MergeJson(const AgentConfig& base, std::string_view json_text);

// The same for a binary weir.v1.AgentConfig: fields present on the wire replace base's. Unknown
// field numbers are errors ("upstream.#42: unknown field").
Result<AgentConfig> MergeBinary(const AgentConfig& base, std::string_view bytes);

// One "path=value" setting from the environment or the command line. `origin` names where it
// came from ("--set", "--device", "WEIR_DEVICE_ID") and prefixes its error messages. The value
// is text for string and number keys (doubles as std::from_chars reads them, finite only),
// true|false|1|0 for booleans, and JSON for lists and objects
// (`ingest.subscriptions=[{"topic":"a/#"}]`, `upstream.broker={"url":"mqtt://h:1883"}`).
// A list element is addressed by index; the index one past the end appends an element.
struct Override {
  std::string path;
  std::string value;
  std::string origin;
};

// Splits "path=value" (the value may contain '='). Errors when there is no '=' or no path.
Result<Override> ParseOverride(std::string_view path_equals_value, std::string_view origin);

// The overrides in an environment ("NAME=VALUE" entries, as in environ): every variable named
// WEIR_<KEY> with levels joined by "__" (see EnvName); other variables are ignored. A WEIR_
// variable that names no key is an error when applied, so a typo is never silently ignored.
std::vector<Override> EnvOverrides(const std::vector<std::string>& environ_entries);

// Applies overrides in order over `base` with the same checks and messages as MergeJson.
Result<AgentConfig> ApplyOverrides(const AgentConfig& base, const std::vector<Override>& overrides);

// Checks a complete config: every key in range (as MergeJson would), required keys set, and the
// rules across keys: URLs (scheme mqtt or mqtts, host, port 1-65535), TLS files only with
// mqtts:// and cert_file with key_file, password with username, backoff_initial_ms <=
// backoff_max_ms, distinct subscription topics, no subscription that would take back the
// agent's own upstream messages from the same broker or, while detect.publish_local is on, its
// own local defects; per detect rule, limits.min <= limits.max and a sliding hop_s within
// [size_s/16, size_s].
Status Validate(const AgentConfig& config);

// The layers of `weir run`, lowest first. Empty `file_json` means no file.
struct Sources {
  std::string file_json;
  std::string file_name = "config file";  // prefixes file errors
  std::vector<std::string> environ_entries;
  std::vector<Override> flags;
};

// Defaults < file < environment < flags, then Validate(). Errors say which layer failed.
Result<AgentConfig> Load(const Sources& sources);

// Broker URLs are parsed by core (agent/core/broker_url.h), the one parser transport uses too.
using ::weir::BrokerUrl;
using ::weir::ParseBrokerUrl;

enum class Redact { kSecrets, kNothing };
// The config as pretty JSON with every key, in schema order. Secrets (passwords) that are set are
// shown as "<redacted>" unless Redact::kNothing. MergeJson(Defaults(), RenderJson(c,
// Redact::kNothing)) gives back c.
std::string RenderJson(const AgentConfig& config, Redact redact = Redact::kSecrets);

}  // namespace weir::config
