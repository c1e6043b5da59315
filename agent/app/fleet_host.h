// The agent's side of fleet control (agent/control): how `weir run` gives FleetControl its local
// config sources, its live apply (the SIGHUP path), health samples from the pipeline and the
// status document; and the control's own MQTT clients. Composition only: the policy is in
// agent/control.
//
// Threads: used on the main thread only, like FleetControl.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "agent/config/config.h"
#include "agent/control/fleet_control.h"
#include "agent/core/clock.h"
#include "agent/pipeline/pipeline.h"

namespace weir::app {

class FleetHost final : public control::ConfigHost {
 public:
  using SourcesFn = std::function<Result<config::Sources>()>;
  using ApplyFn = std::function<Status(const config::AgentConfig&)>;
  using StatusFn = std::function<std::string()>;

  FleetHost(SourcesFn sources, ApplyFn apply, StatusFn status, const Clock& clock)
      : sources_(std::move(sources)),
        apply_(std::move(apply)),
        status_(std::move(status)),
        clock_(clock) {}

  // The pipeline whose health is sampled; must outlive this. Before Attach the samples are empty.
  void Attach(const pipeline::Pipeline* p, Clock::Duration stall_limit) {
    pipeline_ = p;
    stall_limit_ = stall_limit;
  }

  Result<config::Sources> LocalSources() override { return sources_(); }
  Status Apply(const config::AgentConfig& next) override { return apply_(next); }
  control::HealthSample SampleHealth() override;
  std::string StatusJson() override { return status_(); }

 private:
  SourcesFn sources_;
  ApplyFn apply_;
  StatusFn status_;
  const Clock& clock_;
  const pipeline::Pipeline* pipeline_ = nullptr;
  Clock::Duration stall_limit_{};
};

// The control's options from the (local) config.
control::ControlOptions ControlOptionsFrom(const config::AgentConfig& config, uint64_t boot_epoch);

// Paho clients to the upstream broker for the control connection: the upstream endpoint with
// client id `<upstream client id>-ctl` and the given will.
control::ClientFactory ControlClientFactory(const config::AgentConfig& config);

}  // namespace weir::app
