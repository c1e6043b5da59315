// The status file of `weir run`: `<state_dir>/status.json`, rewritten atomically every second and
// once at exit, for operators (`weir status`, scripts, a node exporter's textfile collector via
// the Prometheus rendering) and for tests. Fields are listed in the README ("Operations").
#pragma once

#include <cstdint>
#include <string>

#include "agent/pipeline/pipeline.h"

namespace weir::app {

struct StatusContext {
  std::string device_id;
  std::string state;  // "running", "draining", "stopped"
  double uptime_s = 0;
  TimeMicros now_us = 0;
  double ingest_readings_per_s = 0;   // over the last status interval
  double forward_readings_per_s = 0;  // acknowledged upstream, over the last interval
  // SIGHUP reloads: how many were applied (with changes or none) and refused, and why the last
  // refused one was ("" when none was), so an operator can see whether a SIGHUP took.
  uint64_t reloads_applied = 0;
  uint64_t reloads_refused = 0;
  std::string last_reload_error;
  // Fleet control (agent/control): documents committed, refused and rolled back since start.
  bool fleet_enabled = false;
  uint64_t fleet_applied = 0;
  uint64_t fleet_refused = 0;
  uint64_t fleet_rolled_back = 0;
};

// The status document as pretty JSON. Pure.
std::string RenderStatusJson(const pipeline::PipelineSnapshot& snapshot,
                             const StatusContext& context);

}  // namespace weir::app
