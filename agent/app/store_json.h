// JSON renderings of the store's figures shared by `weir log stats --json` and status.json, so
// the two list the same counters under the same names (README "Operations"). Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "agent/store/log.h"

namespace weir::app {

// Evictions, gap records and trims: {"acked_rows_deleted", ..., "dead_letter_bytes_trimmed"}.
nlohmann::json EvictionsJson(const store::EvictionStats& e);
// Bytes per kind: {"readings", "defects", "dead_letters", "quarantine_rows", ...}.
nlohmann::json UsageJson(const store::UsageBytes& u);
// What the last open found: quarantine, salvage, damaged gaps, transient retries, notes.
nlohmann::json RecoveryJson(const store::RecoveryReport& r);

}  // namespace weir::app
