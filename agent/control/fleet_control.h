// FleetControl: fleet config over MQTT for one agent. On its own connection to the upstream
// broker it subscribes to the device's and its group's desired config (retained, QoS 1), admits
// signed documents (document.h, admission.h), tries each one under a health window and commits
// or rolls it back, and publishes the reported state, an event trail and the status (retained,
// also the last will). The state machine and formats are in agent/control/README.md.
//
// Threads: every method is called from one thread (the agent's main thread). MQTT callbacks only
// store what arrived (latest document per topic, connection events) under a lock; Poll() does the
// work. Poll() blocks only on small fsync'd file writes and on the host's Apply().
//
// Ownership: the host must outlive the FleetControl; the control owns its MQTT clients, made by
// the factory (a new client per connection, because the will carries the session number).
#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/config/config.h"
#include "agent/control/admission.h"
#include "agent/control/document.h"
#include "agent/control/health.h"
#include "agent/control/key_ring.h"
#include "agent/control/ledger.h"
#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/transport/mqtt_client.h"

namespace weir::control {

struct ControlOptions {
  std::string device_id;
  std::string group;   // "" when none: no group layer
  std::string prefix;  // upstream.topic_prefix
  std::filesystem::path state_dir;
  std::filesystem::path keys_dir;
  bool require_signature = true;
  std::chrono::milliseconds health_window{std::chrono::seconds(60)};
  std::chrono::milliseconds status_interval{std::chrono::seconds(10)};
  uint64_t boot_epoch = 0;
};

// What the control needs from the agent. Called on the thread calling Poll().
class ConfigHost {
 public:
  virtual ~ConfigHost() = default;
  // The local layers (file, environment, flags) as they are now.
  virtual Result<config::Sources> LocalSources() = 0;
  // Applies `next` live, through the same path as SIGHUP. An error leaves the running config.
  virtual Status Apply(const config::AgentConfig& next) = 0;
  virtual HealthSample SampleHealth() = 0;
  // The status document (what status.json has), a JSON object.
  virtual std::string StatusJson() = 0;
};

using ClientFactory =
    std::function<Result<std::unique_ptr<transport::MqttClient>>(const transport::LastWill&)>;

struct ControlCounters {
  uint64_t applied = 0;      // trials committed
  uint64_t refused = 0;      // documents refused before apply
  uint64_t rolled_back = 0;  // trials rolled back
};

// Topics under the prefix.
std::string DesiredTopic(const std::string& prefix, const Target& target);
std::string ReportedTopic(const std::string& prefix, const std::string& device);
std::string EventsTopic(const std::string& prefix, const std::string& device);
std::string StatusTopic(const std::string& prefix, const std::string& device);

class FleetControl {
 public:
  // Reads the fleet state: committed layers are re-verified with the current keys (a layer whose
  // key was revoked, or that no longer validates, is dropped and reported), and a trial cut short
  // by a crash is resolved (the layers stay the last committed ones). Blocks on disk.
  static Result<std::unique_ptr<FleetControl>> Open(ControlOptions options, ConfigHost& host,
                                                    ClientFactory factory, const Clock& clock);
  ~FleetControl();

  // The committed layers, to compose the effective config at start and on SIGHUP.
  RemoteLayers layers() const { return committed_; }
  // Notes from Open (dropped layers, skipped key files) for the log.
  const std::vector<std::string>& notes() const { return notes_; }

  // Does what is due: connection upkeep, health sampling, the trial, admitting the newest
  // document of each topic, publishing reported state and status. Call at least once a second.
  void Poll();
  // SIGHUP: reload the trusted keys.
  void ReloadKeys();
  // Publishes a retained "stopped" status and disconnects (clean shutdown, no will).
  void Stop(std::chrono::milliseconds timeout);

  ControlCounters counters() const { return counters_; }
  // The reported-state document (README "Reported state").
  std::string ReportedJson() const;
  bool in_trial() const { return trial_.has_value(); }

 private:
  struct LayerView {
    uint64_t desired = 0;
    uint64_t applied = 0;
    std::string state = "none";
    std::string reason;
    std::string detail;
    int64_t at_us = 0;
    std::string sha256;  // of the payload the state is about ("" when not known)
  };
  struct Trial {
    Layer layer;
    Document doc;
    HealthSample base;
    HealthSample start;
    Clock::TimePoint deadline;
  };
  struct Inbox {
    std::mutex mu;
    std::map<std::string, std::string> latest;  // topic -> newest non-empty payload
    bool connected_event = false;
    bool lost_event = false;
  };

  FleetControl(ControlOptions options, ConfigHost& host, ClientFactory factory, const Clock& clock);
  Status Load();
  void LoadCommitted(Layer layer);
  void RestoreLastRefusal(Layer layer);
  void ResolvePending();

  void ConnectionUpkeep();
  void OnConnected();
  void AnswerStaleWill();
  void SampleHealth();
  HealthSample BaselineSample() const;
  void HandleInbox();
  void Handle(Layer layer, const std::string& envelope);
  void Refuse(Layer layer, uint64_t version, const std::string& sha256, const Refusal& r,
              bool record);
  void StartTrial(Layer layer, Document doc, const config::AgentConfig& next);
  void JudgeTrial();
  void Commit();
  void RollBack(const Refusal& why);
  void Transition(Layer layer, uint64_t version, const std::string& sha256,
                  const std::string& state, const Refusal& r);
  void SaveLedger();
  void PublishReported();
  void PublishStatus(const char* state);
  void PublishEvent(Layer layer, uint64_t version, const std::string& state, const Refusal& r);
  bool Publish(const std::string& topic, const std::string& payload, bool retained);
  Target TargetOf(Layer layer) const;

  const ControlOptions options_;
  ConfigHost& host_;
  const ClientFactory factory_;
  const Clock& clock_;
  FleetFiles files_;
  KeyRing keys_;
  Ledger ledger_;
  RemoteLayers committed_;
  LayerView views_[2];
  std::vector<std::string> notes_;
  std::optional<Trial> trial_;
  std::deque<HealthSample> samples_;  // the last minute or so, oldest first
  ControlCounters counters_;
  bool upstream_unverified_ = false;
  std::string effective_sha256_;

  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  std::unique_ptr<transport::MqttClient> client_;
  bool connected_ = false;
  uint64_t session_ = 0;
  Backoff backoff_;
  Clock::TimePoint reconnect_at_{};
  Clock::TimePoint next_status_{};
  bool reported_dirty_ = true;
  uint64_t event_seq_ = 0;
};

}  // namespace weir::control
