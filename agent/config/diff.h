// Comparing two configs: which keys changed, whether each applies live or needs a restart, and
// whether a remote (fleet) update may make the change. Used by SIGHUP reload and agent/control.
//
// Pure functions, no I/O, safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.h"
#include "agent/config/schema.h"
#include "agent/core/status.h"

namespace weir::config {

struct Change {
  std::string path;  // "upstream.max_inflight", "ingest.subscriptions[1].topic", or a whole
                     // element "ingest.subscriptions[1]" when one side has no such element
  Apply apply;
  bool remote;         // the key may be changed remotely
  std::string before;  // JSON text of the values, secrets redacted; "" when absent
  std::string after;
};

// Changed keys in schema order; empty when equal.
std::vector<Change> Diff(const AgentConfig& before, const AgentConfig& after);

// True when any change needs a restart.
bool NeedsRestart(const std::vector<Change>& changes);

// OK when every change is allowed remotely; otherwise InvalidArgument naming each key that is
// not ("upstream.broker.url, device_id: may not be changed remotely").
Status CheckRemoteAllowed(const std::vector<Change>& changes);

// A remote update judged against the running config.
struct RemotePlan {
  AgentConfig config;           // the new effective config
  std::vector<Change> changes;  // what differs from the running one
  bool needs_restart = false;
};

// Layers a remote document (JSON text, or binary weir.v1.AgentConfig when `binary`) over
// `current`, validates the result and checks the allow-list. Errors leave nothing applied.
Result<RemotePlan> PlanRemoteUpdate(const AgentConfig& current, std::string_view document,
                                    bool binary);

}  // namespace weir::config
