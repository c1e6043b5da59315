// MqttRecorder: collects what an MqttClient reports through its callbacks, so integration tests
// can wait on it (WaitFor) and assert on it. Thread-safe: callbacks arrive on Paho's threads.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/transport/mqtt_client.h"

namespace weir::testing {

class MqttRecorder {
 public:
  struct Message {
    std::string topic;
    std::string payload;
    int qos = 0;
    bool retained = false;
  };

  transport::MqttCallbacks Callbacks() {
    transport::MqttCallbacks c;
    c.on_connected = [this](bool session_present) {
      std::lock_guard lock(mu_);
      ++connected_;
      session_present_ = session_present;
    };
    c.on_connection_lost = [this](const Status& reason) {
      std::lock_guard lock(mu_);
      lost_.push_back(reason);
    };
    c.on_delivered = [this](transport::PublishToken token, const Status& result) {
      std::lock_guard lock(mu_);
      delivered_order_.push_back(token);
      delivered_[token].push_back(result);
    };
    c.on_subscribed = [this](const Status& result) {
      std::lock_guard lock(mu_);
      subscribed_.push_back(result);
    };
    c.on_message = [this](const transport::InboundMessage& m) {
      std::lock_guard lock(mu_);
      messages_.push_back({std::string(m.topic), std::string(m.payload), m.qos, m.retained});
    };
    return c;
  }

  int connected() const {
    std::lock_guard lock(mu_);
    return connected_;
  }
  bool session_present() const {
    std::lock_guard lock(mu_);
    return session_present_;
  }
  std::vector<Status> lost() const {
    std::lock_guard lock(mu_);
    return lost_;
  }
  std::vector<Status> subscribed() const {
    std::lock_guard lock(mu_);
    return subscribed_;
  }
  std::vector<Message> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }
  size_t message_count() const {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  // Every report per token, to check "exactly once".
  std::map<transport::PublishToken, std::vector<Status>> delivered() const {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  size_t delivered_count() const {
    std::lock_guard lock(mu_);
    return delivered_order_.size();
  }

 private:
  mutable std::mutex mu_;
  int connected_ = 0;
  bool session_present_ = false;
  std::vector<Status> lost_;
  std::vector<Status> subscribed_;
  std::vector<Message> messages_;
  std::map<transport::PublishToken, std::vector<Status>> delivered_;
  std::vector<transport::PublishToken> delivered_order_;
};

}  // namespace weir::testing
