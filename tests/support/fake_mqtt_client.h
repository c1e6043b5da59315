// FakeMqttClient: an in-memory MqttClient for unit tests of code that talks MQTT (pipeline,
// control). It records what the code under test asks for and lets the test play the broker:
// finish or refuse connects, acknowledge or fail publishes, answer subscriptions, deliver
// messages, and drop the connection.
//
// Like the real client it never calls back from inside the caller's own call (Connect(),
// Publish() ...): callbacks run on the thread of the test-side method that causes them
// (CompleteConnect(), Ack(), ...), never while the fake holds its lock. Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/transport/mqtt_client.h"

namespace weir::testing {

class FakeMqttClient final : public transport::MqttClient {
 public:
  struct Published {
    transport::PublishToken token = 0;
    std::string topic;
    std::string payload;
    int qos = 0;
    bool retained = false;
  };

  explicit FakeMqttClient(int max_inflight = 64) : max_inflight_(max_inflight) {}

  // --- transport::MqttClient ---
  void SetCallbacks(transport::MqttCallbacks callbacks) override;
  // Starts an attempt that the test finishes with CompleteConnect() or FailConnect(). Returns
  // the status set by FailNextConnectCall() instead, once, if one is set.
  Status Connect() override;
  // Cancels pending publishes (on_delivered kCancelled), as the real client does.
  Status Disconnect(std::chrono::milliseconds timeout) override;
  Status Subscribe(const std::vector<transport::Subscription>& subscriptions) override;
  Result<transport::PublishToken> Publish(std::string_view topic, std::string_view payload, int qos,
                                          bool retained) override;
  bool IsConnected() const override;
  int InflightCount() const override;

  // --- Playing the broker ---
  // Finishes the attempt Connect() started: on_connected(session_present). Returns false when
  // no attempt is under way.
  bool CompleteConnect(bool session_present = false);
  // Refuses the attempt: on_connection_lost(reason).
  bool FailConnect(Status reason = Unavailable("fake: connection refused"));
  // The next Connect() call returns `status` at once (no attempt starts).
  void FailNextConnectCall(Status status);
  // Breaks an established connection: pending publishes fail with kUnavailable (in publish
  // order), then on_connection_lost(reason). Returns false when not connected.
  bool DropConnection(Status reason = Unavailable("fake: connection lost"));
  // Completes one pending publish with `result`. Returns false when `token` is not pending.
  bool Ack(transport::PublishToken token, Status result = Status::Ok());
  // Completes every pending publish, in publish order; returns how many.
  int AckAll(Status result = Status::Ok());
  // Answers every Subscribe() not yet answered; returns how many.
  int AnswerSubscribes(Status result = Status::Ok());
  // Delivers an inbound message to on_message.
  void InjectMessage(std::string topic, std::string payload, int qos = 1, bool retained = false,
                     bool duplicate = false);

  // --- Inspection ---
  std::vector<Published> published() const;  // every accepted Publish(), in order
  std::vector<transport::PublishToken> pending() const;
  std::vector<transport::Subscription> subscriptions() const;  // every Subscribe(), in order
  bool connecting() const;
  int connect_calls() const;
  int disconnect_calls() const;

 private:
  enum class State { kDisconnected, kConnecting, kConnected };

  const int max_inflight_;
  transport::MqttCallbacks callbacks_;  // set before use, then read-only
  mutable std::mutex mu_;
  State state_ = State::kDisconnected;
  std::optional<Status> next_connect_status_;
  std::vector<Published> published_;
  std::vector<transport::PublishToken> pending_;  // in publish order
  std::vector<transport::Subscription> subscriptions_;
  int unanswered_subscribes_ = 0;
  transport::PublishToken next_token_ = 1;
  int connect_calls_ = 0;
  int disconnect_calls_ = 0;
};

}  // namespace weir::testing
