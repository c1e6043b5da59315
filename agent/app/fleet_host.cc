#include "agent/app/fleet_host.h"

#include "agent/app/run_config.h"
#include "agent/transport/paho_mqtt_client.h"

namespace weir::app {

control::HealthSample FleetHost::SampleHealth() {
  control::HealthSample h;
  if (pipeline_ == nullptr) return h;
  const pipeline::PipelineSnapshot s = pipeline_->Snapshot();
  h.upstream_connected = s.forward.state == pipeline::LinkState::kConnected;
  h.upstream_losses = s.forward.connection_losses;
  h.upstream_acked = s.forward.messages_acked;
  h.upstream_refused = s.forward.rejections + s.forward.dead_letters;
  h.backlog_rows = s.forward.backlog_rows;
  h.ingest_messages = s.ingest_messages;
  h.ingest_rejected = s.ingest_rejected;
  h.store_errors = pipeline_->fatal_error().has_value() ? 1 : 0;
  h.store_held_back = s.store.paused;
  h.stalled = pipeline_->StalledStage(clock_.Now(), stall_limit_).has_value();
  return h;
}

control::ControlOptions ControlOptionsFrom(const config::AgentConfig& config, uint64_t boot_epoch) {
  control::ControlOptions o;
  o.device_id = config.device_id();
  o.group = config.group();
  o.prefix = config.upstream().topic_prefix();
  o.state_dir = config.store().state_dir();
  o.keys_dir = config.control().keys_dir();
  o.require_signature = config.control().require_signature();
  o.health_window = std::chrono::seconds(config.control().health_window_s());
  o.status_interval = std::chrono::seconds(config.control().status_interval_s());
  o.boot_epoch = boot_epoch;
  return o;
}

control::ClientFactory ControlClientFactory(const config::AgentConfig& config) {
  transport::MqttOptions base = UpstreamMqttOptions(config);
  base.client_id += "-ctl";
  base.max_inflight = 32;
  return [base](const transport::LastWill& will) -> Result<std::unique_ptr<transport::MqttClient>> {
    transport::MqttOptions o = base;
    o.last_will = will;
    return transport::NewPahoMqttClient(o);
  };
}

}  // namespace weir::app
