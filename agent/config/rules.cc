// String syntax rules (URLs, topic levels, filters) and the rules across keys.
#include "agent/config/rules.h"

#include <charconv>

namespace weir::config {
namespace internal {
namespace {

std::vector<std::string_view> Levels(std::string_view topic) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t slash = topic.find('/', start);
    out.push_back(topic.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

bool IsTopicSafe(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string CheckTopicFilter(std::string_view v) {
  if (v.find('\0') != std::string_view::npos) return "contains a NUL byte";
  const std::vector<std::string_view> levels = Levels(v);
  for (size_t i = 0; i < levels.size(); ++i) {
    const std::string_view l = levels[i];
    if (l.find('#') != std::string_view::npos && (l != "#" || i + 1 != levels.size())) {
      return "'" + std::string(v) + "': '#' must be a whole level and the last one";
    }
    if (l.find('+') != std::string_view::npos && l != "+") {
      return "'" + std::string(v) + "': '+' must be a whole level";
    }
  }
  return "";
}

std::string CheckTopicPrefix(std::string_view v) {
  const std::string shown = "'" + std::string(v) + "'";
  if (v.find_first_of("+#") != std::string_view::npos) return shown + " contains a wildcard";
  if (v.front() == '$') return shown + " starts with '$' (reserved by brokers)";
  for (std::string_view l : Levels(v)) {
    if (l.empty()) return shown + " has an empty level (leading, trailing or double '/')";
  }
  return "";
}

void CheckEndpoint(const v1::MqttEndpoint& e, const std::string& p,
                   std::vector<std::string>* problems) {
  Result<BrokerUrl> url = ParseBrokerUrl(e.url());
  if (!url.ok()) return;  // reported with the key itself
  if (!url->tls) {
    for (auto [name, value] : {std::pair<const char*, const std::string*>{"ca_file", &e.ca_file()},
                               {"cert_file", &e.cert_file()},
                               {"key_file", &e.key_file()}}) {
      if (!value->empty()) {
        problems->push_back(p + "." + name + ": set, but " + p +
                            ".url is mqtt:// (TLS needs mqtts://)");
      }
    }
  }
  if (!e.cert_file().empty() && e.key_file().empty()) {
    problems->push_back(p + ".key_file: required when " + p + ".cert_file is set");
  }
  if (e.cert_file().empty() && !e.key_file().empty()) {
    problems->push_back(p + ".cert_file: required when " + p + ".key_file is set");
  }
  if (!e.password().empty() && e.username().empty()) {
    problems->push_back(p + ".username: required when " + p + ".password is set");
  }
}

// WindowAggregator::kMaxOverlap (agent/detect/window.h): a sliding window may overlap at most
// this many others. Config may not include detect; app_run_config_test checks the two agree.
constexpr uint32_t kMaxWindowOverlap = 16;

void CheckDetectRules(const v1::DetectConfig& d, std::vector<std::string>* problems) {
  for (int i = 0; i < d.rules_size(); ++i) {
    const v1::DetectRule& r = d.rules(i);
    const std::string p = "detect.rules[" + std::to_string(i) + "]";
    if (r.limits().min() > r.limits().max()) {
      problems->push_back(p + ".limits.min: " + DoubleText(r.limits().min()) + " is above " + p +
                          ".limits.max (" + DoubleText(r.limits().max()) + ")");
    }
    const v1::DetectWindow& w = r.window();
    if (w.kind() != "sliding" || w.hop_s() == 0) continue;
    if (w.hop_s() > w.size_s()) {
      problems->push_back(p + ".window.hop_s: " + std::to_string(w.hop_s()) + " is above " + p +
                          ".window.size_s (" + std::to_string(w.size_s()) + ")");
    } else if ((w.size_s() + w.hop_s() - 1) / w.hop_s() > kMaxWindowOverlap) {
      problems->push_back(p + ".window.hop_s: " + std::to_string(w.hop_s()) + " is below size_s/" +
                          std::to_string(kMaxWindowOverlap) +
                          " (at most that many sliding windows may overlap)");
    }
  }
}

}  // namespace

bool IsChoice(std::string_view choices, std::string_view value) {
  size_t start = 0;
  while (true) {
    const size_t bar = choices.find('|', start);
    if (choices.substr(start, bar == std::string_view::npos ? bar : bar - start) == value) {
      return true;
    }
    if (bar == std::string_view::npos) return false;
    start = bar + 1;
  }
}

std::string ChoiceList(std::string_view choices) {
  std::string result;
  for (char c : choices) {
    if (c == '|') {
      result += ", ";
    } else {
      result.push_back(c);
    }
  }
  return result;
}

std::string CheckRule(StringRule rule, std::string_view v) {
  switch (rule) {
    case StringRule::kAny:
      return "";
    case StringRule::kUrl: {
      Result<BrokerUrl> url = ParseBrokerUrl(v);
      return url.ok() ? "" : url.status().message();
    }
    case StringRule::kTopicSafeId:
      for (char c : v) {
        if (!IsTopicSafe(c)) {
          return "'" + std::string(v) + "' contains '" + std::string(1, c) +
                 "'; use letters, digits, '.', '_' and '-' (it becomes an MQTT topic level)";
        }
      }
      return "";
    case StringRule::kTopicFilter:
      return CheckTopicFilter(v);
    case StringRule::kTopicPrefix:
      return CheckTopicPrefix(v);
    case StringRule::kClientId:
      for (char c : v) {
        if (c <= ' ' || c > '~') {
          return "'" + std::string(v) + "' contains a space or a non-printable character";
        }
      }
      return "";
    case StringRule::kAbsolutePath:
      return v.front() == '/' ? "" : "'" + std::string(v) + "' is not an absolute path";
  }
  return "";
}

bool TopicMatches(std::string_view filter, std::string_view topic) {
  const std::vector<std::string_view> f = Levels(filter);
  const std::vector<std::string_view> t = Levels(topic);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

void CheckAcrossKeys(const AgentConfig& c, std::vector<std::string>* problems) {
  CheckEndpoint(c.ingest().local(), "ingest.local", problems);
  CheckEndpoint(c.upstream().broker(), "upstream.broker", problems);
  const v1::UpstreamConfig& up = c.upstream();
  if (up.backoff_initial_ms() > up.backoff_max_ms()) {
    problems->push_back("upstream.backoff_initial_ms: " + std::to_string(up.backoff_initial_ms()) +
                        " is above upstream.backoff_max_ms (" +
                        std::to_string(up.backoff_max_ms()) + ")");
  }
  const auto& subs = c.ingest().subscriptions();
  for (int i = 0; i < subs.size(); ++i) {
    for (int j = 0; j < i; ++j) {
      if (subs[i].topic() == subs[j].topic()) {
        problems->push_back("ingest.subscriptions[" + std::to_string(i) + "].topic: '" +
                            subs[i].topic() + "' duplicates ingest.subscriptions[" +
                            std::to_string(j) + "]");
      }
    }
  }
  // Subscribing on the upstream broker to our own upstream topics would feed every batch back
  // in as input: an endless loop that fills the log.
  Result<BrokerUrl> local = ParseBrokerUrl(c.ingest().local().url());
  Result<BrokerUrl> remote = ParseBrokerUrl(up.broker().url());
  const bool same_broker =
      local.ok() && remote.ok() && local->host == remote->host && local->port == remote->port;
  if (same_broker && !c.device_id().empty()) {
    const std::string own = up.topic_prefix() + "/" + c.device_id() + "/";
    for (int i = 0; i < subs.size(); ++i) {
      if (TopicMatches(subs[i].topic(), own + "data") ||
          TopicMatches(subs[i].topic(), own + "defects")) {
        problems->push_back("ingest.subscriptions[" + std::to_string(i) + "].topic: '" +
                            subs[i].topic() + "' would take in the agent's own upstream " +
                            "messages (" + own + "data), since both brokers are the same");
      }
    }
  }
  // Defects published on the local broker must not come back in through a subscription: each
  // would be parsed as a reading (or dead-lettered), logged and forwarded, over and over. With
  // one broker for both sides the rule above has already reported these subscriptions.
  if (c.detect().enabled() && c.detect().publish_local() && !same_broker &&
      !c.device_id().empty()) {
    const std::string defects = up.topic_prefix() + "/" + c.device_id() + "/defects";
    for (int i = 0; i < subs.size(); ++i) {
      if (TopicMatches(subs[i].topic(), defects)) {
        problems->push_back("ingest.subscriptions[" + std::to_string(i) + "].topic: '" +
                            subs[i].topic() + "' would take in the agent's own defects (" +
                            defects + ", detect.publish_local)");
      }
    }
  }
  CheckDetectRules(c.detect(), problems);
}

}  // namespace internal

}  // namespace weir::config
