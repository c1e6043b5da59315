// MqttClient: the MQTT seam the pipeline and control depend on, so they never see Paho and unit
// tests can use an in-memory fake (tests/support/fake_mqtt_client.h).
//
// The one real implementation is NewPahoMqttClient() (paho_mqtt_client.h). Everything is
// non-blocking except Disconnect(), and every outcome that arrives later (connection up or down,
// broker acks, subscription results, inbound messages) is reported through MqttCallbacks.
//
// Threads: the methods are thread-safe. Callbacks run on the MQTT library's threads, one at a
// time, never while the client holds its own lock, so a callback may call Publish(), Subscribe()
// and Connect(). A callback must only translate and hand off: it is noexcept, never blocks for
// long, and never calls Disconnect() or destroys the client (both wait for the callback thread).
//
// Reconnecting is the caller's job, on purpose: the client never reconnects by itself. After
// on_connection_lost the owner calls Connect() again, spaced by capped exponential backoff with
// full jitter (weir::Backoff in agent/core/backoff.h, waited out with Worker::WaitFor on its own
// thread, never by sleeping in the callback). Keeping the timer outside the client means
// a shutdown never waits on a backoff sleep hidden in a library, and a fleet of gateways that
// lose the same broker do not come back in lockstep.
//
// No offline buffer: Publish() while disconnected fails at once with kUnavailable. The durable
// store is the buffer; the client holds at most `max_inflight` unacknowledged publishes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/status.h"

namespace weir::transport {

enum class MqttVersion { kV311, kV5 };

// A message the broker publishes on our behalf when we vanish without a clean disconnect.
struct LastWill {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = true;
};

struct TlsOptions {
  std::string ca_file;        // PEM bundle of trusted CAs; empty: the system's default trust store
  bool verify_server = true;  // check the chain and that the host name matches the certificate
  std::string cert_file;      // client certificate (PEM), for brokers that require one
  std::string key_file;       // its private key (PEM), unencrypted
};

struct MqttOptions {
  // "mqtt://host:port" (plain TCP, default port 1883) or "mqtts://host:port" (TLS, 8883).
  // "tcp://" and "ssl://" are accepted as synonyms.
  std::string url;
  std::string client_id;
  // false: a persistent session; the broker keeps our subscriptions and queues QoS 1 messages
  // for us while we are away (MQTT 5: clean start off plus `session_expiry`).
  bool clean_session = true;
  // How long (MQTT 5 only) the broker keeps a persistent session after we disconnect.
  std::chrono::seconds session_expiry{std::chrono::hours(24 * 7)};
  std::optional<std::string> username;
  std::optional<std::string> password;
  // TLS settings, only with mqtts://. mqtts:// without them: verify against the system CAs.
  std::optional<TlsOptions> tls;
  MqttVersion version = MqttVersion::kV311;
  std::chrono::seconds keepalive{30};
  std::chrono::seconds connect_timeout{10};
  std::optional<LastWill> last_will;
  // Publishes sent but not yet acknowledged (QoS 1/2) or written (QoS 0). At the limit Publish()
  // returns kResourceExhausted: the caller's window, not a hidden queue.
  int max_inflight = 64;
  // The largest MQTT packet the broker takes, 0 when unknown. A publish that would exceed it
  // fails at once with kOutOfRange instead of being sent: brokers answer an oversized packet by
  // dropping the connection (MQTT 3.1.1 has no other way), which would fail every message in
  // flight with it. With MQTT 5 the Maximum Packet Size the broker announces applies as well.
  size_t max_packet_bytes = 0;
};

// A message received on a subscription. The views are valid only during the callback.
struct InboundMessage {
  std::string_view topic;
  std::string_view payload;
  int qos = 0;
  bool retained = false;
  // The DUP flag: the broker may have sent this message before (a redelivery after a lost
  // connection). See pipeline/redelivery_filter.h.
  bool duplicate = false;
};

struct Subscription {
  std::string filter;  // may contain + and #
  int qos = 1;
};

// Identifies one Publish() in its on_delivered report. Never 0; unique per client object.
using PublishToken = uint64_t;

// Set once, before the first Connect(). Unset members are simply not called.
struct MqttCallbacks {
  // A Connect() succeeded. `session_present`: the broker resumed our persistent session (its
  // subscriptions are still in place); when false, subscribe again.
  std::function<void(bool session_present)> on_connected;
  // The connection is down: a Connect() attempt failed (kUnavailable, or kInvalidArgument /
  // kFailedPrecondition when the broker refused us, e.g. bad credentials), or an established
  // connection broke (kUnavailable). Every pending publish has been reported failed before this
  // runs. Not called after Disconnect().
  std::function<void(const Status& reason)> on_connection_lost;
  // Exactly once per successful Publish(): OK when the broker acknowledged it (QoS 1 and 2) or
  // it was written to the socket (QoS 0); kUnavailable when the connection broke first (the
  // broker may still have it: resend and expect a duplicate); kCancelled on Disconnect();
  // another code when the broker rejected it (MQTT 5 reason code).
  std::function<void(PublishToken token, const Status& result)> on_delivered;
  // The broker answered a Subscribe(): OK when every filter was granted.
  std::function<void(const Status& result)> on_subscribed;
  std::function<void(const InboundMessage& message)> on_message;
};

class MqttClient {
 public:
  virtual ~MqttClient() = default;

  // Must be called before the first Connect(); later calls are ignored (asserted in debug).
  virtual void SetCallbacks(MqttCallbacks callbacks) = 0;

  // Starts one connection attempt and returns at once; the outcome arrives as on_connected or
  // on_connection_lost. Returns kFailedPrecondition when connected or an attempt is under way,
  // or another error when the attempt could not even start.
  virtual Status Connect() = 0;

  // Sends DISCONNECT and blocks up to `timeout` for in-flight work to finish. Pending publishes
  // are reported kCancelled. Returns OK also when already disconnected.
  virtual Status Disconnect(std::chrono::milliseconds timeout) = 0;

  // Subscribes without blocking; the broker's answer arrives as on_subscribed. Returns
  // kUnavailable when not connected, kInvalidArgument for an empty list or a bad QoS.
  virtual Status Subscribe(const std::vector<Subscription>& subscriptions) = 0;

  // Queues one message without blocking. Returns its token, whose outcome on_delivered reports;
  // or kUnavailable when not connected, kResourceExhausted at max_inflight, kOutOfRange when the
  // packet would exceed the broker's limit (split it), kInvalidArgument for a bad topic or QoS.
  // Nothing is buffered when an error is returned.
  virtual Result<PublishToken> Publish(std::string_view topic, std::string_view payload, int qos,
                                       bool retained) = 0;

  virtual bool IsConnected() const = 0;
  // Publishes reported to on_delivered are no longer counted.
  virtual int InflightCount() const = 0;

  // Whether the broker accepts a TCP connection now (no MQTT, no TLS): the cheap check a caller
  // makes before a full Connect() while the broker is away (pipeline/reconnect_pacer.h). Blocks up
  // to `timeout` (and on name resolution). OK when reachable; kUnavailable otherwise. The default
  // says reachable, for clients that cannot tell.
  virtual Status Probe(std::chrono::milliseconds timeout) {
    (void)timeout;
    return Status::Ok();
  }
};

}  // namespace weir::transport
