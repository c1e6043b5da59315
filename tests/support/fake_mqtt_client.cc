// In-memory MqttClient for unit tests; see fake_mqtt_client.h.
#include "tests/support/fake_mqtt_client.h"

#include <algorithm>
#include <utility>

namespace weir::testing {

using transport::InboundMessage;
using transport::PublishToken;
using transport::Subscription;

void FakeMqttClient::SetCallbacks(transport::MqttCallbacks callbacks) {
  std::lock_guard lock(mu_);
  callbacks_ = std::move(callbacks);
}

Status FakeMqttClient::Connect() {
  std::lock_guard lock(mu_);
  ++connect_calls_;
  if (next_connect_status_) {
    Status status = std::move(*next_connect_status_);
    next_connect_status_.reset();
    return status;
  }
  if (state_ == State::kConnected) return FailedPrecondition("connect: already connected");
  if (state_ == State::kConnecting) return FailedPrecondition("connect: attempt under way");
  state_ = State::kConnecting;
  return Status::Ok();
}

Status FakeMqttClient::Disconnect(std::chrono::milliseconds /*timeout*/) {
  std::vector<PublishToken> cancelled;
  {
    std::lock_guard lock(mu_);
    ++disconnect_calls_;
    state_ = State::kDisconnected;
    cancelled.swap(pending_);
  }
  for (PublishToken token : cancelled) {
    if (callbacks_.on_delivered) callbacks_.on_delivered(token, Cancelled("fake: disconnected"));
  }
  return Status::Ok();
}

Status FakeMqttClient::Subscribe(const std::vector<Subscription>& subscriptions) {
  if (subscriptions.empty()) return InvalidArgument("subscribe: no topic filters");
  for (const Subscription& s : subscriptions) {
    if (s.filter.empty() || s.qos < 0 || s.qos > 2) {
      return InvalidArgument("subscribe: bad filter or qos");
    }
  }
  std::lock_guard lock(mu_);
  if (state_ != State::kConnected) return Unavailable("subscribe: not connected");
  subscriptions_.insert(subscriptions_.end(), subscriptions.begin(), subscriptions.end());
  ++unanswered_subscribes_;
  return Status::Ok();
}

Result<PublishToken> FakeMqttClient::Publish(std::string_view topic, std::string_view payload,
                                             int qos, bool retained) {
  if (qos < 0 || qos > 2) return InvalidArgument("publish: qos must be 0, 1 or 2");
  if (topic.empty() || topic.find_first_of("+#") != std::string_view::npos) {
    return InvalidArgument("publish: bad topic");
  }
  std::lock_guard lock(mu_);
  if (state_ != State::kConnected) return Unavailable("publish: not connected");
  if (static_cast<int>(pending_.size()) >= max_inflight_) {
    return ResourceExhausted("publish: max_inflight reached");
  }
  const PublishToken token = next_token_++;
  published_.push_back({token, std::string(topic), std::string(payload), qos, retained});
  pending_.push_back(token);
  return token;
}

bool FakeMqttClient::IsConnected() const {
  std::lock_guard lock(mu_);
  return state_ == State::kConnected;
}

int FakeMqttClient::InflightCount() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(pending_.size());
}

bool FakeMqttClient::CompleteConnect(bool session_present) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kConnecting) return false;
    state_ = State::kConnected;
  }
  if (callbacks_.on_connected) callbacks_.on_connected(session_present);
  return true;
}

bool FakeMqttClient::FailConnect(Status reason) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kConnecting) return false;
    state_ = State::kDisconnected;
  }
  if (callbacks_.on_connection_lost) callbacks_.on_connection_lost(reason);
  return true;
}

void FakeMqttClient::FailNextConnectCall(Status status) {
  std::lock_guard lock(mu_);
  next_connect_status_ = std::move(status);
}

bool FakeMqttClient::DropConnection(Status reason) {
  std::vector<PublishToken> failed;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kConnected) return false;
    state_ = State::kDisconnected;
    failed.swap(pending_);
    unanswered_subscribes_ = 0;
  }
  for (PublishToken token : failed) {
    if (callbacks_.on_delivered) {
      callbacks_.on_delivered(token, Unavailable("fake: connection lost before the ack"));
    }
  }
  if (callbacks_.on_connection_lost) callbacks_.on_connection_lost(reason);
  return true;
}

bool FakeMqttClient::Ack(PublishToken token, Status result) {
  {
    std::lock_guard lock(mu_);
    auto it = std::find(pending_.begin(), pending_.end(), token);
    if (it == pending_.end()) return false;
    pending_.erase(it);
  }
  if (callbacks_.on_delivered) callbacks_.on_delivered(token, result);
  return true;
}

int FakeMqttClient::AckAll(Status result) {
  std::vector<PublishToken> acked;
  {
    std::lock_guard lock(mu_);
    acked.swap(pending_);
  }
  for (PublishToken token : acked) {
    if (callbacks_.on_delivered) callbacks_.on_delivered(token, result);
  }
  return static_cast<int>(acked.size());
}

int FakeMqttClient::AnswerSubscribes(Status result) {
  int answered = 0;
  {
    std::lock_guard lock(mu_);
    answered = std::exchange(unanswered_subscribes_, 0);
  }
  for (int i = 0; i < answered; ++i) {
    if (callbacks_.on_subscribed) callbacks_.on_subscribed(result);
  }
  return answered;
}

void FakeMqttClient::InjectMessage(std::string topic, std::string payload, int qos, bool retained,
                                   bool duplicate) {
  if (callbacks_.on_message) {
    callbacks_.on_message(InboundMessage{topic, payload, qos, retained, duplicate});
  }
}

std::vector<FakeMqttClient::Published> FakeMqttClient::published() const {
  std::lock_guard lock(mu_);
  return published_;
}

std::vector<PublishToken> FakeMqttClient::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

std::vector<Subscription> FakeMqttClient::subscriptions() const {
  std::lock_guard lock(mu_);
  return subscriptions_;
}

bool FakeMqttClient::connecting() const {
  std::lock_guard lock(mu_);
  return state_ == State::kConnecting;
}

int FakeMqttClient::connect_calls() const {
  std::lock_guard lock(mu_);
  return connect_calls_;
}

int FakeMqttClient::disconnect_calls() const {
  std::lock_guard lock(mu_);
  return disconnect_calls_;
}

}  // namespace weir::testing
