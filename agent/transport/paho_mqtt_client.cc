// The Paho adapter behind MqttClient: options to Paho's, Paho's callbacks and exceptions to
// weir's callbacks and Status values. See mqtt_client.h for the contract.
#include "agent/transport/paho_mqtt_client.h"

#include <MQTTAsync.h>
#include <MQTTReasonCodes.h>
#include <mqtt/async_client.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "agent/core/broker_url.h"
#include "agent/transport/tcp_nodelay.h"
#include "agent/transport/tcp_probe.h"

namespace weir::transport {
namespace {

constexpr int kFirstFailureReasonCode = 0x80;  // MQTT 5: reason codes >= 0x80 are failures

std::string CodeText(int rc) {
  const char* text = MQTTAsync_strerror(rc);
  return text ? std::string(text) : "error " + std::to_string(rc);
}

// Maps a Paho C return code (negative: client side; 1..5: MQTT 3.1.1 CONNACK refusals).
Status FromPahoCode(int rc, std::string_view what) {
  std::string message = std::string(what) + ": " + CodeText(rc);
  switch (rc) {
    case MQTTASYNC_SUCCESS:
      return Status::Ok();
    case MQTTASYNC_DISCONNECTED:
      return Unavailable(std::move(message));
    case MQTTASYNC_MAX_MESSAGES_INFLIGHT:
    case MQTTASYNC_MAX_BUFFERED_MESSAGES:
    case MQTTASYNC_MAX_BUFFERED:
    case MQTTASYNC_NO_MORE_MSGIDS:
      return ResourceExhausted(std::move(message));
    case MQTTASYNC_BAD_UTF8_STRING:
    case MQTTASYNC_NULL_PARAMETER:
    case MQTTASYNC_TOPICNAME_TRUNCATED:
    case MQTTASYNC_BAD_STRUCTURE:
    case MQTTASYNC_BAD_QOS:
    case MQTTASYNC_BAD_PROTOCOL:
    case MQTTASYNC_BAD_MQTT_OPTION:
    case MQTTASYNC_WRONG_MQTT_VERSION:
    case MQTTASYNC_0_LEN_WILL_TOPIC:
      return InvalidArgument(std::move(message));
    case MQTTASYNC_SSL_NOT_SUPPORTED:
      return FailedPrecondition(std::move(message));
    case 1:  // unacceptable protocol version
    case 2:  // identifier rejected
      return InvalidArgument(std::string(what) + ": broker refused the connection (code " +
                             std::to_string(rc) + ")");
    case 3:  // server unavailable
      return Unavailable(std::string(what) + ": broker unavailable (CONNACK 3)");
    case 4:  // bad user name or password
    case 5:  // not authorised
      return FailedPrecondition(std::string(what) + ": broker refused our credentials (code " +
                                std::to_string(rc) + ")");
    default:
      // MQTTASYNC_FAILURE and friends: TCP refused, TLS handshake failed, timeout. Retryable.
      return Unavailable(std::move(message));
  }
}

// Maps an MQTT 5 failure reason code (>= 0x80) from the broker.
Status FromReasonCode(int reason, std::string_view what) {
  const char* text = MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(reason));
  std::string message = std::string(what) + ": broker answered " + (text ? text : "?") +
                        " (reason " + std::to_string(reason) + ")";
  switch (reason) {
    case MQTTREASONCODE_PACKET_TOO_LARGE:
    case MQTTREASONCODE_MESSAGE_RATE_TOO_HIGH:
      return OutOfRange(std::move(message));
    case MQTTREASONCODE_QUOTA_EXCEEDED:
    case MQTTREASONCODE_RECEIVE_MAXIMUM_EXCEEDED:
      return ResourceExhausted(std::move(message));
    case MQTTREASONCODE_SERVER_UNAVAILABLE:
    case MQTTREASONCODE_SERVER_BUSY:
    case MQTTREASONCODE_SERVER_SHUTTING_DOWN:
    case MQTTREASONCODE_USE_ANOTHER_SERVER:
    case MQTTREASONCODE_SERVER_MOVED:
    case MQTTREASONCODE_CONNECTION_RATE_EXCEEDED:
      return Unavailable(std::move(message));
    case MQTTREASONCODE_TOPIC_NAME_INVALID:
    case MQTTREASONCODE_TOPIC_FILTER_INVALID:
    case MQTTREASONCODE_PAYLOAD_FORMAT_INVALID:
    case MQTTREASONCODE_MALFORMED_PACKET:
    case MQTTREASONCODE_PROTOCOL_ERROR:
    case MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID:
    case MQTTREASONCODE_UNSUPPORTED_PROTOCOL_VERSION:
      return InvalidArgument(std::move(message));
    default:  // not authorized, bad credentials, banned, implementation specific ...
      return FailedPrecondition(std::move(message));
  }
}

// The outcome of a finished Paho token: its return code, or else an MQTT 5 failure reason.
Status TokenStatus(const mqtt::token& token, bool succeeded, std::string_view what) {
  int reason = static_cast<int>(token.get_reason_code());
  // Paho marks MQTT 3 failures with a reason code of its own (255 in 1.2, 0 in 1.6).
  if (reason == static_cast<int>(mqtt::MQTTPP_V3_CODE)) reason = 0;
  if (succeeded) {
    return reason >= kFirstFailureReasonCode ? FromReasonCode(reason, what) : Status::Ok();
  }
  if (reason >= kFirstFailureReasonCode) return FromReasonCode(reason, what);
  const int rc = token.get_return_code();
  return FromPahoCode(rc == MQTTASYNC_SUCCESS ? MQTTASYNC_FAILURE : rc, what);
}

Status FromException(const mqtt::exception& e, std::string_view what) {
  if (e.get_reason_code() >= kFirstFailureReasonCode) {
    return FromReasonCode(e.get_reason_code(), what);
  }
  return FromPahoCode(e.get_return_code(), what);
}

// Bytes of the PUBLISH packet Paho will send: fixed header, topic, packet id, properties.
size_t PublishPacketBytes(size_t topic, size_t payload, int qos, bool v5) {
  const size_t remaining = 2 + topic + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload;
  size_t length_bytes = 1;
  for (size_t n = remaining; n >= 128; n /= 128) ++length_bytes;
  return 1 + length_bytes + remaining;
}

bool IsTlsUrl(std::string_view url) {
  const auto parsed = ParseBrokerUrl(url);
  return parsed.ok() && parsed->tls;
}

bool HasWildcard(std::string_view topic) {
  return topic.find_first_of("+#") != std::string_view::npos;
}

Status CheckReadable(const std::string& path, std::string_view field) {
  if (path.empty()) return Status::Ok();
  std::ifstream in(path);
  if (!in) return InvalidArgument(std::string(field) + ": cannot read '" + path + "'");
  return Status::Ok();
}

Status ValidateTls(const TlsOptions& tls) {
  WEIR_RETURN_IF_ERROR(CheckReadable(tls.ca_file, "tls.ca_file"));
  WEIR_RETURN_IF_ERROR(CheckReadable(tls.cert_file, "tls.cert_file"));
  WEIR_RETURN_IF_ERROR(CheckReadable(tls.key_file, "tls.key_file"));
  if (!tls.key_file.empty() && tls.cert_file.empty()) {
    return InvalidArgument("tls.key_file: given without tls.cert_file");
  }
  return Status::Ok();
}

mqtt::connect_options BuildConnectOptions(const MqttOptions& o) {
  mqtt::connect_options c;
  const bool v5 = o.version == MqttVersion::kV5;
  c.set_mqtt_version(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
  if (v5) {
    c.set_clean_start(o.clean_session);
    if (!o.clean_session) {
      // Without a session expiry an MQTT 5 broker drops the session at disconnect.
      const auto expiry = std::min<int64_t>(o.session_expiry.count(), INT32_MAX);
      c.set_properties(mqtt::properties{
          mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL, static_cast<int32_t>(expiry))});
    }
  } else {
    c.set_clean_session(o.clean_session);
  }
  c.set_keep_alive_interval(static_cast<int>(o.keepalive.count()));
  c.set_connect_timeout(static_cast<int>(o.connect_timeout.count()));
  c.set_automatic_reconnect(false);  // the caller reconnects, with jitter (see mqtt_client.h)
  c.set_max_inflight(o.max_inflight);
  if (o.username) c.set_user_name(*o.username);
  if (o.password) c.set_password(*o.password);
  if (o.last_will) {
    const LastWill& w = *o.last_will;
    c.set_will(mqtt::will_options(w.topic, w.payload.data(), w.payload.size(), w.qos, w.retained));
  }
  if (IsTlsUrl(o.url)) {
    const TlsOptions tls = o.tls.value_or(TlsOptions{});
    mqtt::ssl_options ssl;
    if (!tls.ca_file.empty()) ssl.set_trust_store(tls.ca_file);
    if (!tls.cert_file.empty()) ssl.set_key_store(tls.cert_file);
    if (!tls.key_file.empty()) ssl.set_private_key(tls.key_file);
    ssl.set_enable_server_cert_auth(tls.verify_server);
    ssl.set_verify(tls.verify_server);  // host name check, not only the chain
    c.set_ssl(std::move(ssl));
  }
  return c;
}

// The broker's TCP port, from a URL ValidateMqttOptions accepted (0 if it cannot be read).
int PortOf(const std::string& url) {
  const auto parsed = ParseBrokerUrl(url);
  return parsed.ok() ? parsed->port : 0;
}

class PahoMqttClient final : public MqttClient {
 public:
  PahoMqttClient(MqttOptions options, std::unique_ptr<mqtt::async_client> cli)
      : options_(std::move(options)),
        connect_options_(BuildConnectOptions(options_)),
        broker_port_(PortOf(options_.url)),
        cli_(std::move(cli)) {
    cli_->set_connection_lost_handler(
        [this](const std::string& cause) { OnConnectionLost(cause); });
    cli_->set_message_callback([this](mqtt::const_message_ptr msg) { OnMessage(msg); });
  }

  ~PahoMqttClient() override {
    {
      std::lock_guard dispatch(dispatch_mu_);
      callbacks_enabled_ = false;
    }
    Disconnect(std::chrono::seconds(1)).IgnoreError();
    try {
      cli_->disable_callbacks();
    } catch (const mqtt::exception&) {
      // Best effort: the callbacks are disabled on our side already.
    }
    // Wait out a callback that was already running when we disabled them.
    std::lock_guard dispatch(dispatch_mu_);
  }

  PahoMqttClient(const PahoMqttClient&) = delete;
  PahoMqttClient& operator=(const PahoMqttClient&) = delete;

  void SetCallbacks(MqttCallbacks callbacks) override {
    std::lock_guard dispatch(dispatch_mu_);
    assert(!callbacks_set_ && "SetCallbacks must be called once, before Connect");
    if (callbacks_set_) return;
    callbacks_ = std::move(callbacks);
    callbacks_set_ = true;
  }

  Status Connect() override {
    uint64_t attempt = 0;
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kConnected) return FailedPrecondition("connect: already connected");
      if (state_ != State::kDisconnected) {
        return FailedPrecondition("connect: an attempt or a disconnect is under way");
      }
      state_ = State::kConnecting;
      attempt = ++attempt_;
    }
    try {
      cli_->connect(connect_options_, reinterpret_cast<void*>(static_cast<uintptr_t>(attempt)),
                    connect_listener_);
      return Status::Ok();
    } catch (const mqtt::exception& e) {
      std::lock_guard lock(mu_);
      if (state_ == State::kConnecting) state_ = State::kDisconnected;
      return FromException(e, "connect to " + options_.url);
    }
  }

  Status Disconnect(std::chrono::milliseconds timeout) override {
    {
      std::lock_guard lock(mu_);
      if (state_ == State::kDisconnected) return Status::Ok();
      state_ = State::kDisconnecting;
    }
    Status status;
    uint64_t request = 0;
    {
      std::lock_guard lock(disconnect_mu_);
      request = ++disconnects_started_;
    }
    try {
      mqtt::token_ptr token = cli_->disconnect(
          static_cast<int>(timeout.count()),
          reinterpret_cast<void*>(static_cast<uintptr_t>(request)), disconnect_listener_);
      std::unique_lock lock(disconnect_mu_);
      // Paho 1.2 signals a token's condition variable after its callback has returned, so we
      // wait on our own and keep the token alive until the next Disconnect() (or our end).
      disconnect_token_ = std::move(token);
      // Paho bounds its own wait by `timeout`; the margin covers its thread hand-offs.
      if (disconnect_cv_.wait_for(lock, timeout + std::chrono::milliseconds(500),
                                  [&] { return disconnects_done_ >= request; })) {
        status = disconnect_status_;
      } else {
        status = DeadlineExceeded("disconnect: no answer within the timeout");
      }
    } catch (const mqtt::exception& e) {
      if (e.get_return_code() != MQTTASYNC_DISCONNECTED) status = FromException(e, "disconnect");
    }
    std::lock_guard dispatch(dispatch_mu_);
    std::set<PublishToken> cancelled;
    {
      std::lock_guard lock(mu_);
      state_ = State::kDisconnected;
      cancelled.swap(pending_);
    }
    for (PublishToken token : cancelled) {
      Deliver(token, Cancelled("disconnected before the broker acknowledged"));
    }
    return status;
  }

  Status Subscribe(const std::vector<Subscription>& subscriptions) override {
    if (subscriptions.empty()) return InvalidArgument("subscribe: no topic filters");
    std::vector<std::string> filters;
    mqtt::iasync_client::qos_collection qos;
    for (const Subscription& s : subscriptions) {
      if (s.filter.empty()) return InvalidArgument("subscribe: empty topic filter");
      if (s.qos < 0 || s.qos > 2) {
        return InvalidArgument("subscribe '" + s.filter + "': qos must be 0, 1 or 2");
      }
      filters.push_back(s.filter);
      qos.push_back(s.qos);
    }
    if (!IsConnected()) return Unavailable("subscribe: not connected to " + options_.url);
    try {
      cli_->subscribe(mqtt::string_collection::create(std::move(filters)), qos, nullptr,
                      subscribe_listener_);
      return Status::Ok();
    } catch (const mqtt::exception& e) {
      return FromException(e, "subscribe");
    }
  }

  Result<PublishToken> Publish(std::string_view topic, std::string_view payload, int qos,
                               bool retained) override {
    if (qos < 0 || qos > 2) return InvalidArgument("publish: qos must be 0, 1 or 2");
    if (topic.empty() || HasWildcard(topic)) {
      return InvalidArgument("publish: topic '" + std::string(topic) +
                             "' must be non-empty and without wildcards");
    }
    PublishToken id = 0;
    {
      std::lock_guard lock(mu_);
      if (state_ != State::kConnected) {
        return Unavailable("publish: not connected to " + options_.url);
      }
      const size_t bytes = PublishPacketBytes(topic.size(), payload.size(), qos,
                                              options_.version == MqttVersion::kV5);
      if (packet_limit_ > 0 && bytes > packet_limit_) {
        return OutOfRange("publish: a packet of " + std::to_string(bytes) +
                          " bytes exceeds the broker's limit of " + std::to_string(packet_limit_));
      }
      if (static_cast<int>(pending_.size()) >= options_.max_inflight) {
        return ResourceExhausted("publish: " + std::to_string(options_.max_inflight) +
                                 " messages in flight (max_inflight)");
      }
      id = next_token_++;
      pending_.insert(id);
    }
    try {
      cli_->publish(std::string(topic), payload.data(), payload.size(), qos, retained,
                    reinterpret_cast<void*>(static_cast<uintptr_t>(id)), publish_listener_);
      return id;
    } catch (const mqtt::exception& e) {
      std::lock_guard lock(mu_);
      // Not pending any more: a connection loss has reported it failed already, so the caller
      // hears of it exactly once, through on_delivered.
      if (pending_.erase(id) == 0) return id;
      return FromException(e, "publish to '" + std::string(topic) + "'");
    }
  }

  bool IsConnected() const override {
    std::lock_guard lock(mu_);
    return state_ == State::kConnected;
  }

  int InflightCount() const override {
    std::lock_guard lock(mu_);
    return static_cast<int>(pending_.size());
  }

  Status Probe(std::chrono::milliseconds timeout) override {
    WEIR_ASSIGN_OR_RETURN(const BrokerUrl broker, ParseBrokerUrl(options_.url));
    return ProbeTcp(broker.host, broker.port, timeout);
  }

 private:
  enum class State { kDisconnected, kConnecting, kConnected, kDisconnecting };

  // Routes a Paho token's completion to one of our member functions.
  class Listener final : public mqtt::iaction_listener {
   public:
    using Handler = void (PahoMqttClient::*)(const mqtt::token&, bool succeeded) noexcept;
    Listener(PahoMqttClient* owner, Handler handler) : owner_(owner), handler_(handler) {}
    void on_success(const mqtt::token& token) override { (owner_->*handler_)(token, true); }
    void on_failure(const mqtt::token& token) override { (owner_->*handler_)(token, false); }

   private:
    PahoMqttClient* owner_;
    Handler handler_;
  };

  void OnConnectDone(const mqtt::token& token, bool succeeded) noexcept {
    std::lock_guard dispatch(dispatch_mu_);
    const Status status = TokenStatus(token, succeeded, "connect to " + options_.url);
    bool session_present = false;
    size_t packet_limit = options_.max_packet_bytes;
    if (status.ok()) {
      try {
        const mqtt::connect_response response = token.get_connect_response();
        session_present = response.is_session_present();
        const mqtt::properties& props = response.get_properties();
        if (props.contains(mqtt::property::MAXIMUM_PACKET_SIZE)) {
          const size_t broker_limit =
              mqtt::get<uint32_t>(props, mqtt::property::MAXIMUM_PACKET_SIZE);
          if (packet_limit == 0 || broker_limit < packet_limit) packet_limit = broker_limit;
        }
      } catch (const std::exception&) {
        // No CONNACK details: treat as a fresh session, which only costs a resubscribe.
      }
    }
    {
      std::lock_guard lock(mu_);
      const auto attempt =
          static_cast<uint64_t>(reinterpret_cast<uintptr_t>(token.get_user_context()));
      if (state_ != State::kConnecting || attempt != attempt_) {
        // Disconnect() overtook this attempt; do not leave a connection nobody tracks.
        if (status.ok()) DisconnectQuietly();
        return;
      }
      state_ = status.ok() ? State::kConnected : State::kDisconnected;
      packet_limit_ = packet_limit;
    }
    if (status.ok()) DisableNagleOnConnectionsToPort(broker_port_);
    if (!callbacks_enabled_) return;
    if (status.ok()) {
      if (callbacks_.on_connected) callbacks_.on_connected(session_present);
    } else if (callbacks_.on_connection_lost) {
      callbacks_.on_connection_lost(status);
    }
  }

  void OnDisconnectDone(const mqtt::token& token, bool succeeded) noexcept {
    const auto request =
        static_cast<uint64_t>(reinterpret_cast<uintptr_t>(token.get_user_context()));
    const Status status = TokenStatus(token, succeeded, "disconnect");
    std::lock_guard lock(disconnect_mu_);
    disconnects_done_ = std::max(disconnects_done_, request);
    disconnect_status_ = status;
    disconnect_cv_.notify_all();
  }

  void OnConnectionLost(const std::string& cause) noexcept {
    std::lock_guard dispatch(dispatch_mu_);
    std::set<PublishToken> failed;
    {
      std::lock_guard lock(mu_);
      if (state_ != State::kConnected && state_ != State::kConnecting) return;
      state_ = State::kDisconnected;
      failed.swap(pending_);
    }
    for (PublishToken token : failed) {
      Deliver(token, Unavailable("connection lost before the broker acknowledged"));
    }
    if (callbacks_enabled_ && callbacks_.on_connection_lost) {
      callbacks_.on_connection_lost(Unavailable("connection to " + options_.url + " lost" +
                                                (cause.empty() ? "" : ": ") + cause));
    }
  }

  void OnPublishDone(const mqtt::token& token, bool succeeded) noexcept {
    const auto id =
        static_cast<PublishToken>(reinterpret_cast<uintptr_t>(token.get_user_context()));
    const Status status = TokenStatus(token, succeeded, "publish");
    std::lock_guard dispatch(dispatch_mu_);
    {
      std::lock_guard lock(mu_);
      // Already reported (connection lost, Disconnect): a late completion from Paho.
      if (pending_.erase(id) == 0) return;
    }
    Deliver(id, status);
  }

  void OnSubscribeDone(const mqtt::token& token, bool succeeded) noexcept {
    Status status = TokenStatus(token, succeeded, "subscribe");
    if (status.ok()) {
      try {
        const auto codes = token.get_subscribe_response().get_reason_codes();
        const auto topics = token.get_topics();
        for (size_t i = 0; i < codes.size(); ++i) {
          if (static_cast<int>(codes[i]) < kFirstFailureReasonCode) continue;
          const std::string filter = topics && i < topics->size() ? (*topics)[i] : "?";
          status = FromReasonCode(static_cast<int>(codes[i]), "subscribe '" + filter + "'");
          break;
        }
      } catch (const mqtt::exception&) {
        // No SUBACK details; the token itself succeeded.
      }
    }
    std::lock_guard dispatch(dispatch_mu_);
    if (callbacks_enabled_ && callbacks_.on_subscribed) callbacks_.on_subscribed(status);
  }

  void OnMessage(const mqtt::const_message_ptr& msg) noexcept {
    if (!msg) return;
    const std::string& topic = msg->get_topic();
    const std::string& payload = msg->get_payload_str();
    InboundMessage in{topic, payload, msg->get_qos(), msg->is_retained(), msg->is_duplicate()};
    std::lock_guard dispatch(dispatch_mu_);
    if (callbacks_enabled_ && callbacks_.on_message) callbacks_.on_message(in);
  }

  // Requires dispatch_mu_.
  void Deliver(PublishToken token, const Status& status) {
    if (callbacks_enabled_ && callbacks_.on_delivered) callbacks_.on_delivered(token, status);
  }

  void DisconnectQuietly() noexcept {
    try {
      cli_->disconnect(0);
    } catch (const mqtt::exception&) {
      // Already gone.
    }
  }

  const MqttOptions options_;
  const mqtt::connect_options connect_options_;
  const int broker_port_;  // for DisableNagleOnConnectionsToPort

  mutable std::mutex mu_;  // guards state_, pending_, next_token_; never held over a callback
  State state_ = State::kDisconnected;
  std::set<PublishToken> pending_;  // ordered, so failures are reported in publish order
  PublishToken next_token_ = 1;
  size_t packet_limit_ = 0;  // for this connection: options, or the MQTT 5 broker's if smaller
  uint64_t attempt_ = 0;     // numbers Connect() calls, so a stale attempt's answer is ignored

  // Held while a callback runs: serialises callbacks and keeps "lost" reports in order with the
  // next connection's. Recursive in case Paho ever completes a token on the calling thread.
  std::recursive_mutex dispatch_mu_;
  MqttCallbacks callbacks_;
  bool callbacks_set_ = false;
  bool callbacks_enabled_ = true;

  Listener connect_listener_{this, &PahoMqttClient::OnConnectDone};
  Listener publish_listener_{this, &PahoMqttClient::OnPublishDone};
  Listener subscribe_listener_{this, &PahoMqttClient::OnSubscribeDone};
  Listener disconnect_listener_{this, &PahoMqttClient::OnDisconnectDone};

  // Disconnect() waits here for its own request's answer.
  std::mutex disconnect_mu_;
  std::condition_variable disconnect_cv_;
  uint64_t disconnects_started_ = 0;
  uint64_t disconnects_done_ = 0;
  Status disconnect_status_;
  mqtt::token_ptr disconnect_token_;

  // Last, so it is destroyed first: no Paho callback can reach the members above once it is gone.
  std::unique_ptr<mqtt::async_client> cli_;
};

}  // namespace

Result<std::string> PahoServerUri(const std::string& url) {
  WEIR_ASSIGN_OR_RETURN(const BrokerUrl parsed, ParseBrokerUrl(url));
  return std::string(parsed.tls ? "ssl://" : "tcp://") + HostPort(parsed);
}

Status ValidateMqttOptions(const MqttOptions& o) {
  WEIR_RETURN_IF_ERROR(PahoServerUri(o.url).status());
  if (o.client_id.empty() && !o.clean_session) {
    return InvalidArgument("client_id: a persistent session needs a client id");
  }
  if (o.client_id.size() > 65535) return InvalidArgument("client_id: longer than 65535 bytes");
  if (o.tls) {
    if (!IsTlsUrl(o.url))
      return InvalidArgument("tls: set, but url '" + o.url + "' is not mqtts://");
    WEIR_RETURN_IF_ERROR(ValidateTls(*o.tls));
  }
  if (o.password && !o.username && o.version == MqttVersion::kV311) {
    return InvalidArgument("password: MQTT 3.1.1 allows a password only with a username");
  }
  if (o.keepalive.count() < 0 || o.keepalive.count() > 65535) {
    return InvalidArgument("keepalive: must be 0..65535 s");
  }
  if (o.connect_timeout.count() < 1) return InvalidArgument("connect_timeout: must be >= 1 s");
  if (o.session_expiry.count() < 0) return InvalidArgument("session_expiry: must be >= 0 s");
  if (o.max_inflight < 1 || o.max_inflight > 65535) {
    return InvalidArgument("max_inflight: must be 1..65535");
  }
  if (o.last_will) {
    if (o.last_will->topic.empty() || HasWildcard(o.last_will->topic)) {
      return InvalidArgument("last_will.topic: must be non-empty and without wildcards");
    }
    if (o.last_will->qos < 0 || o.last_will->qos > 2) {
      return InvalidArgument("last_will.qos: must be 0, 1 or 2");
    }
  }
  return Status::Ok();
}

namespace {

// Paho's own OpenSSL set-up (all error strings, all algorithms, locking callbacks that OpenSSL 1.1
// made no-ops) runs when the first client is created, TLS or not, and keeps 1.3 MB more of
// libcrypto resident: 7 % of the agent's 20 MB budget. OpenSSL 1.1 and later initialise themselves
// on first use (Debian 12 and Yocto ship 3.x), so Paho is told to leave it alone; a TLS connection
// then initialises what it needs. Must run before the first MQTTAsync_create.
void InitPahoOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
    init.do_openssl_init = 0;
    MQTTAsync_global_init(&init);
  });
}

}  // namespace

Result<std::unique_ptr<MqttClient>> NewPahoMqttClient(const MqttOptions& options) {
  WEIR_RETURN_IF_ERROR(ValidateMqttOptions(options));
  InitPahoOnce();
  WEIR_ASSIGN_OR_RETURN(std::string uri, PahoServerUri(options.url));
  // No offline buffering: a publish while disconnected must fail, not pile up in Paho's memory.
  mqtt::create_options create(options.version == MqttVersion::kV5 ? MQTTVERSION_5
                                                                  : MQTTVERSION_3_1_1);
  create.set_send_while_disconnected(false);
  try {
    auto cli = std::make_unique<mqtt::async_client>(uri, options.client_id, create);
    return std::unique_ptr<MqttClient>(std::make_unique<PahoMqttClient>(options, std::move(cli)));
  } catch (const mqtt::exception& e) {
    return Internal(std::string("creating the MQTT client: ") + e.what());
  }
}

}  // namespace weir::transport
