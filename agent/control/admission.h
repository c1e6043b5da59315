// Admission: after a document's signature checked out, whether it is for us, new, and in date.
// Also composing the effective config from the local sources and the remote layers, with the
// allow-list: a layer that would change a key that is not `remote` in the schema is refused
// whole, naming the keys.
//
// Pure functions; no I/O; thread-safe.
#pragma once

#include <optional>
#include <string>

#include "agent/config/config.h"
#include "agent/control/document.h"
#include "agent/control/ledger.h"

namespace weir::control {

enum class Verdict {
  kApply,           // new: try it
  kAlreadyApplied,  // the committed document again (retained redelivery, QoS 1 duplicate)
  kRefuse,
};

struct Admission {
  Verdict verdict = Verdict::kRefuse;
  Refusal refusal;  // when kRefuse
  // The refusal moves last_seen (the version was judged, e.g. expired); false for refusals that
  // must not let an old version advance the counter.
  bool moves_last_seen = false;
};

// Target, version and expiry checks, in that order:
//  - target must equal `expected` (wrong_target);
//  - the committed version with the same content: kAlreadyApplied;
//  - a version refused or rolled back before: rolled_back_version (never re-applied);
//  - below the last seen: stale; equal with other content: version_reused;
//    equal with the same content (a trial cut by a crash): kApply again;
//  - expires_at in the past, judged only when `clock_synchronised`: expired.
Admission Admit(const Document& doc, const Target& expected, const LayerRecord& record,
                bool clock_synchronised, int64_t now_us);

// The config JSON of each remote layer, when present (an absent layer and "{}" are the same).
struct RemoteLayers {
  std::optional<std::string> group;
  std::optional<std::string> device;
  std::optional<std::string>& of(Layer l) { return l == Layer::kGroup ? group : device; }
  const std::optional<std::string>& of(Layer l) const {
    return l == Layer::kGroup ? group : device;
  }
};

struct Composed {
  std::optional<config::AgentConfig> config;
  Refusal refusal;  // schema or not_remote, naming the layer and keys
  bool ok() const { return config.has_value(); }
};

// defaults < file < group < device < environment < flags, then config::Validate. Each layer is
// checked against the config below it: a change to a non-remote key refuses it (restating the
// value in force is not a change).
Composed Compose(const config::Sources& local, const RemoteLayers& layers);

}  // namespace weir::control
