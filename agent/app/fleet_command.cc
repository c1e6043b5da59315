#include "agent/app/fleet_command.h"

#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/app/exit_codes.h"
#include "agent/codec/timestamp.h"
#include "agent/control/document.h"
#include "agent/control/fleet_control.h"
#include "agent/core/clock.h"
#include "agent/transport/paho_mqtt_client.h"
#include "platform/files.h"

namespace weir::app {
namespace {

using Json = nlohmann::json;
constexpr size_t kMaxInputBytes = 1 << 20;

int Fail(const char* cmd, const std::string& message, int code = kExitUsage) {
  std::fprintf(stderr, "weir %s: %s\n", cmd, message.c_str());
  return code;
}

// --- keygen, sign ---

int Keygen(const std::string& out) {
  if (std::filesystem::exists(out)) return Fail("config keygen", out + ": exists, not replaced");
  auto key = control::PrivateKey::Generate();
  if (!key.ok()) return Fail("config keygen", key.status().message(), kExitFailure);
  Status s = platform::WriteFileAtomically(out, key->ToPem(), 0600);
  if (s.ok()) s = platform::WriteFileAtomically(out + ".pub", key->public_key().ToPem(), 0644);
  if (!s.ok()) return Fail("config keygen", s.message(), kExitFailure);
  std::printf(
      "kid %s\nprivate key %s (keep it off the devices)\npublic key %s.pub (copy to "
      "/etc/weir/fleet-keys/ on the devices)\n",
      key->public_key().kid().c_str(), out.c_str(), out.c_str());
  return kExitOk;
}

struct SignFlags {
  std::string key;
  std::string target;
  uint64_t version = 0;
  std::string expires;
  bool payload_as_is = false;
  std::string file;
};

int Sign(const SignFlags& f) {
  auto key_pem = platform::ReadFile(f.key, kMaxInputBytes);
  if (!key_pem.ok()) return Fail("config sign", f.key + ": " + key_pem.status().message());
  auto key = control::PrivateKey::FromPem(*key_pem);
  if (!key.ok()) return Fail("config sign", f.key + ": " + key.status().message());
  auto text = platform::ReadFile(f.file, kMaxInputBytes);
  if (!text.ok()) return Fail("config sign", f.file + ": " + text.status().message());
  std::string payload = *text;
  if (!f.payload_as_is) {
    auto target = control::ParseTarget(f.target);
    if (!target.ok()) return Fail("config sign", target.status().message());
    const int64_t now_us = SystemClock::Instance().WallMicros();
    std::optional<int64_t> expires;
    if (!f.expires.empty()) {
      auto t = codec::ParseTimestamp(f.expires);
      if (!t.ok()) return Fail("config sign", "--expires: " + t.status().message());
      expires = *t;
    }
    // Milliseconds since the epoch make a version that grows by itself between pushes.
    const uint64_t version = f.version != 0 ? f.version : static_cast<uint64_t>(now_us / 1000);
    auto made = control::MakePayload(*target, version, *text, now_us, expires);
    if (!made.ok()) return Fail("config sign", f.file + ": " + made.status().message());
    payload = std::move(*made);
  }
  auto envelope = control::SignEnvelope(*key, payload);
  if (!envelope.ok()) return Fail("config sign", envelope.status().message(), kExitFailure);
  std::printf("%s\n", envelope->c_str());
  return kExitOk;
}

// --- talking to the broker ---

// A short-lived MQTT session for a command: connect, publish and wait for the ack, collect
// messages. Callbacks only store; the command thread waits on the condition variable.
class Session {
 public:
  Status Open(const std::string& url, const std::string& client_id) {
    transport::MqttOptions o;
    o.url = url;
    o.client_id = client_id;
    auto client = transport::NewPahoMqttClient(o);
    if (!client.ok()) return client.status();
    client_ = std::move(*client);
    transport::MqttCallbacks cb;
    cb.on_connected = [this](bool) { Set([this] { connected_ = true; }); };
    cb.on_connection_lost = [this](const Status& s) { Set([this, s] { lost_ = s; }); };
    cb.on_delivered = [this](transport::PublishToken, const Status& s) {
      Set([this, s] { delivered_ = s; });
    };
    cb.on_subscribed = [this](const Status& s) { Set([this, s] { subscribed_ = s; }); };
    cb.on_message = [this](const transport::InboundMessage& m) {
      Set([this, t = std::string(m.topic), p = std::string(m.payload)] { messages_[t] = p; });
    };
    client_->SetCallbacks(std::move(cb));
    WEIR_RETURN_IF_ERROR(client_->Connect());
    if (!WaitUntil(std::chrono::seconds(10), [this] { return connected_ || lost_; })) {
      return Unavailable("no answer from " + url);
    }
    return connected_ ? Status::Ok() : *lost_;
  }

  Status Publish(const std::string& topic, const std::string& payload, bool retained) {
    WEIR_ASSIGN_OR_RETURN(auto token, client_->Publish(topic, payload, 1, retained));
    (void)token;
    if (!WaitUntil(std::chrono::seconds(10), [this] { return delivered_.has_value(); })) {
      return Unavailable("the broker did not acknowledge the publish");
    }
    return *delivered_;
  }

  Status Subscribe(const std::vector<std::string>& filters) {
    std::vector<transport::Subscription> subs;
    for (const auto& f : filters) subs.push_back({f, 1});
    WEIR_RETURN_IF_ERROR(client_->Subscribe(subs));
    if (!WaitUntil(std::chrono::seconds(10), [this] { return subscribed_.has_value(); })) {
      return Unavailable("the broker did not answer the subscription");
    }
    return *subscribed_;
  }

  // Waits up to `timeout` for `done(messages)`; returns its last value.
  bool WaitForMessages(std::chrono::milliseconds timeout,
                       const std::function<bool(const std::map<std::string, std::string>&)>& done) {
    return WaitUntil(timeout, [&] { return done(messages_); });
  }
  std::map<std::string, std::string> messages() {
    std::lock_guard lock(mu_);
    return messages_;
  }

  ~Session() {
    if (client_) client_->Disconnect(std::chrono::seconds(1)).IgnoreError();
  }

 private:
  template <typename F>
  void Set(F f) {
    {
      std::lock_guard lock(mu_);
      f();
    }
    cv_.notify_all();
  }
  template <typename P>
  bool WaitUntil(std::chrono::milliseconds timeout, P pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }

  std::unique_ptr<transport::MqttClient> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false;
  std::optional<Status> lost_;
  std::optional<Status> delivered_;
  std::optional<Status> subscribed_;
  std::map<std::string, std::string> messages_;
};

std::string CliClientId(const char* what) {
  return std::string("weir-") + what + "-" +
         std::to_string(SystemClock::Instance().WallMicros() % 1000000000);
}

// --- push ---

struct PushFlags {
  std::string broker;
  std::string prefix = "weir";
  std::string device;
  std::string group;
  std::vector<std::string> wait_devices;
  int timeout_s = 120;
  std::string file;
};

// The state of `layer` in a device's reported document when it has settled on `version`.
std::optional<std::string> SettledState(const std::string& reported, const char* layer,
                                        const std::string& sha256) {
  Json r = Json::parse(reported, nullptr, false);
  if (r.is_discarded()) return std::nullopt;
  const Json l = r.value("layers", Json::object()).value(layer, Json::object());
  // The verdict must be about this very document (a retained reported state may be older).
  if (l.value("sha256", std::string()) != sha256) return std::nullopt;
  const std::string state = l.value("state", std::string());
  if (state == "committed" || state == "rejected" || state == "rolled_back" ||
      state == "rollback_failed") {
    return state + (l.contains("reason") ? " (" + l.value("reason", std::string()) + ": " +
                                               l.value("detail", std::string()) + ")"
                                         : std::string());
  }
  return std::nullopt;
}

int Push(const PushFlags& f) {
  if (f.device.empty() == f.group.empty()) return Fail("config push", "give --device or --group");
  auto envelope = platform::ReadFile(f.file, control::kMaxEnvelopeBytes);
  if (!envelope.ok()) return Fail("config push", f.file + ": " + envelope.status().message());
  while (!envelope->empty() && (envelope->back() == '\n' || envelope->back() == '\r')) {
    envelope->pop_back();
  }
  // Read the payload without verifying (the devices verify): its version, and its hash, which
  // the devices' reported state names.
  Json e = Json::parse(*envelope, nullptr, false);
  auto payload = control::Base64Decode(e.is_object() ? e.value("payload", "") : "");
  Json p = payload.ok() ? Json::parse(*payload, nullptr, false) : Json();
  if (!p.is_object()) return Fail("config push", f.file + ": not a weir envelope");
  const uint64_t version = p.value("version", uint64_t{0});
  const std::string sha256 = control::Sha256Hex(*payload);
  const control::Target target = f.device.empty()
                                     ? control::Target{control::Target::Kind::kGroup, f.group}
                                     : control::Target{control::Target::Kind::kDevice, f.device};
  std::vector<std::string> waits = f.wait_devices;
  if (!f.device.empty()) waits.push_back(f.device);
  Session session;
  if (Status s = session.Open(f.broker, CliClientId("push")); !s.ok()) {
    return Fail("config push", s.message(), kExitFailure);
  }
  std::vector<std::string> filters;
  for (const auto& d : waits) filters.push_back(control::ReportedTopic(f.prefix, d));
  if (!filters.empty()) {
    if (Status s = session.Subscribe(filters); !s.ok()) {
      return Fail("config push", s.message(), kExitFailure);
    }
  }
  const std::string topic = control::DesiredTopic(f.prefix, target);
  if (Status s = session.Publish(topic, *envelope, true); !s.ok()) {
    return Fail("config push", topic + ": " + s.message(), kExitFailure);
  }
  std::fprintf(stderr, "published version %llu to %s (retained)\n",
               static_cast<unsigned long long>(version), topic.c_str());
  const char* layer = f.device.empty() ? "group" : "device";
  auto settled = [&](const std::map<std::string, std::string>& m) {
    for (const auto& d : waits) {
      auto it = m.find(control::ReportedTopic(f.prefix, d));
      if (it == m.end() || !SettledState(it->second, layer, sha256)) return false;
    }
    return true;
  };
  session.WaitForMessages(std::chrono::seconds(f.timeout_s), settled);
  int rc = kExitOk;
  const auto messages = session.messages();
  for (const auto& d : waits) {
    auto it = messages.find(control::ReportedTopic(f.prefix, d));
    auto state = it == messages.end() ? std::nullopt : SettledState(it->second, layer, sha256);
    std::printf("%s: %s\n", d.c_str(), state ? state->c_str() : "no answer (timeout)");
    if (!state || state->rfind("committed", 0) != 0) rc = kExitFailure;
  }
  return rc;
}

// --- fleet status ---

struct StatusFlags {
  std::string broker;
  std::string prefix = "weir";
  int wait_ms = 1500;
};

std::string LayerCell(const Json& reported, const char* layer) {
  const Json l = reported.value("layers", Json::object()).value(layer, Json::object());
  if (l.empty() || l.value("state", std::string("none")) == "none") return "-";
  std::string s = std::to_string(l.value("applied", uint64_t{0})) + "/" +
                  std::to_string(l.value("desired", uint64_t{0})) + " " +
                  l.value("state", std::string());
  if (l.contains("reason")) s += " " + l.value("reason", std::string());
  return s;
}

int FleetStatus(const StatusFlags& f) {
  Session session;
  if (Status s = session.Open(f.broker, CliClientId("status")); !s.ok()) {
    return Fail("fleet status", s.message(), kExitFailure);
  }
  if (Status s = session.Subscribe({f.prefix + "/+/status", f.prefix + "/+/config/reported"});
      !s.ok()) {
    return Fail("fleet status", s.message(), kExitFailure);
  }
  // Retained messages arrive right after the subscription; wait a moment for all of them.
  session.WaitForMessages(std::chrono::milliseconds(f.wait_ms), [](const auto&) { return false; });
  std::map<std::string, std::pair<Json, Json>> devices;  // device -> (status, reported)
  const std::string head = f.prefix + "/";
  for (const auto& [topic, payload] : session.messages()) {
    if (topic.rfind(head, 0) != 0) continue;
    const std::string rest = topic.substr(head.size());
    const std::string device = rest.substr(0, rest.find('/'));
    Json j = Json::parse(payload, nullptr, false);
    if (j.is_discarded()) continue;
    if (rest == device + "/status") devices[device].first = j;
    if (rest == device + "/config/reported") devices[device].second = j;
  }
  std::printf("%-20s %-8s %5s %7s %6s %-28s %-28s\n", "DEVICE", "STATE", "BOOT", "SESSION",
              "BACKLOG", "GROUP (applied/desired)", "DEVICE (applied/desired)");
  for (const auto& [device, sr] : devices) {
    const Json& st = sr.first;
    const Json backlog = st.is_object() ? st.value("status", Json::object()) : Json::object();
    std::string backlog_text = "-";
    if (backlog.is_object() && backlog.contains("forward")) {
      backlog_text = backlog["forward"].value("backlog_rows", Json(0)).dump();
    }
    std::printf("%-20s %-8s %5s %7s %6s %-28s %-28s\n", device.c_str(),
                st.is_object() ? st.value("state", std::string("?")).c_str() : "?",
                st.is_object() ? st.value("boot_epoch", Json(0)).dump().c_str() : "-",
                st.is_object() ? st.value("session", Json(0)).dump().c_str() : "-",
                backlog_text.c_str(), LayerCell(sr.second, "group").c_str(),
                LayerCell(sr.second, "device").c_str());
  }
  return kExitOk;
}

}  // namespace

void AddFleetCommands(CLI::App& app, int* exit_code) {
  CLI::App* config = app.get_subcommand("config");
  auto keyfile = std::make_shared<std::string>();
  CLI::App* keygen = config->add_subcommand(
      "keygen",
      "Make an Ed25519 key pair for signing fleet config: FILE (private, mode 0600) "
      "and FILE.pub (public, for /etc/weir/fleet-keys/ on the devices)");
  keygen->add_option("--out", *keyfile, "Private key file to write (PEM)")->required();
  keygen->callback([keyfile, exit_code] { *exit_code = Keygen(*keyfile); });

  auto sign = std::make_shared<SignFlags>();
  CLI::App* s = config->add_subcommand(
      "sign",
      "Sign a config layer (a JSON object of remote keys) for a device or a group and "
      "print the envelope to publish (`weir config push`)");
  s->add_option("--key", sign->key, "Private key (PEM, from `weir config keygen` or openssl)")
      ->required();
  s->add_option("--target", sign->target, "device:ID or group:NAME");
  s->add_option("--version", sign->version,
                "Document version, must grow per target (default: now in milliseconds)");
  s->add_option("--expires", sign->expires, "Expiry time, RFC 3339 (default: none)");
  s->add_flag("--payload", sign->payload_as_is,
              "FILE is a complete payload: sign its bytes as they are");
  s->add_option("file", sign->file, "The layer JSON (or payload with --payload)")->required();
  s->callback([sign, exit_code] {
    if (!sign->payload_as_is && sign->target.empty()) {
      *exit_code = Fail("config sign", "--target is required (device:ID or group:NAME)");
      return;
    }
    *exit_code = Sign(*sign);
  });

  auto push = std::make_shared<PushFlags>();
  CLI::App* p = config->add_subcommand(
      "push",
      "Publish a signed envelope as the retained desired config of a device or a group, "
      "then wait for the devices' reported state. Exit 0 when committed, 1 when refused, "
      "rolled back or not answered in time");
  p->add_option("--broker", push->broker, "Upstream broker URL (mqtt://host:port)")->required();
  p->add_option("--prefix", push->prefix, "Topic prefix (upstream.topic_prefix)")
      ->capture_default_str();
  p->add_option("--device", push->device, "Device id: its device layer");
  p->add_option("--group", push->group, "Group name: the group layer");
  p->add_option("--wait-device", push->wait_devices,
                "With --group: a member device whose reported state to wait for, repeatable");
  p->add_option("--timeout-s", push->timeout_s, "How long to wait for the reported state")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  p->add_option("file", push->file, "The envelope (output of `weir config sign`)")->required();
  p->callback([push, exit_code] { *exit_code = Push(*push); });

  auto status = std::make_shared<StatusFlags>();
  CLI::App* fleet = app.add_subcommand("fleet", "Look at a fleet of agents on their broker");
  fleet->require_subcommand(1);
  CLI::App* st = fleet->add_subcommand(
      "status", "A table of the devices' retained status and reported config state");
  st->add_option("--broker", status->broker, "Upstream broker URL (mqtt://host:port)")->required();
  st->add_option("--prefix", status->prefix, "Topic prefix (upstream.topic_prefix)")
      ->capture_default_str();
  st->add_option("--wait-ms", status->wait_ms, "How long to collect retained messages")
      ->capture_default_str()
      ->check(CLI::Range(0, 60000));
  st->callback([status, exit_code] { *exit_code = FleetStatus(*status); });
}

}  // namespace weir::app
