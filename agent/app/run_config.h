// From the validated AgentConfig to the options of each part of `weir run`: the log, the two MQTT
// clients, the ingest routes (one parser per subscription) and the forwarder. Pure functions
// except MakeRoutes, which builds parsers (no I/O either).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/core/status.h"
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

}  // namespace weir::app
