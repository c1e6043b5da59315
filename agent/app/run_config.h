// From the validated AgentConfig to the options of each part of `weir run`: the log, the two MQTT
// clients, the ingest routes (one parser per subscription), the forwarder and detection. Pure
// functions except MakeRoutes, which builds parsers (no I/O either).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "agent/config/config.h"
#include "agent/core/status.h"
#include "agent/detect/config.h"
#include "agent/pipeline/detect_stage.h"
#include "agent/pipeline/forwarder.h"
#include "agent/pipeline/ingest.h"
#include "agent/store/log.h"
#include "agent/transport/mqtt_client.h"

namespace weir::app {

// Files in the state directory.
std::filesystem::path LogPathIn(const std::filesystem::path& state_dir);     // log.db
std::filesystem::path StatusPathIn(const std::filesystem::path& state_dir);  // status.json
std::filesystem::path BootEpochPathIn(const std::filesystem::path& state_dir);

store::LogOptions LogOptionsFrom(const config::AgentConfig& config);

// The local (ingest) client: persistent session (clean_session false) so the broker keeps QoS 1
// messages while weir is down; client id weir-<device>-in unless configured.
transport::MqttOptions LocalMqttOptions(const config::AgentConfig& config);
// The upstream client: client id weir-<device> unless configured; max_inflight from
// upstream.max_inflight.
transport::MqttOptions UpstreamMqttOptions(const config::AgentConfig& config);

// One route per subscription, in config order. InvalidArgument naming the subscription when a
// parser cannot be built.
Result<std::vector<pipeline::IngestRoute>> MakeRoutes(const config::AgentConfig& config);

pipeline::ForwarderSettings ForwarderSettingsFrom(const config::AgentConfig& config);
std::string DataTopic(const config::AgentConfig& config);     // <prefix>/<device>/data
std::string DefectsTopic(const config::AgentConfig& config);  // <prefix>/<device>/defects

// Where a sensor's window aggregates go: nowhere, beside its raw readings, or instead of them.
using AggregateMode = pipeline::AggregateMode;

// The detect section of the config, in the detect module's terms.
struct DetectSettings {
  bool enabled = true;
  bool publish_local = true;  // publish each defect on the local broker, DefectsTopic()
  // detect.rules mapped in order (each rule's detector name is its pattern); fallback is the
  // detect defaults (auto only).
  detect::EngineConfig engine;
  // Pattern -> mode, in rule order (first match wins, as for the engine's rules); sensors that
  // no rule matches have kOff.
  std::vector<std::pair<std::string, AggregateMode>> aggregates;
};

// Maps a validated config's detect section and runs detect::Validate on the result. Returns
// InvalidArgument naming the detect.rules element when the detect module rejects it (a config
// that passed config::Validate should not be rejected). Pure, does not block.
Result<DetectSettings> DetectSettingsFrom(const config::AgentConfig& config);

}  // namespace weir::app
