// The control state kept in `<state_dir>/fleet/` (format in agent/control/README.md):
//   group.json, device.json  the committed envelopes, the exact bytes received (re-verified at
//   boot) pending.json             the trial marker, written before anything changes ledger.json
//   per layer: last version seen, committed version, refused versions
// Every write is atomic (platform::WriteFileAtomically: temp file, fsync, rename, fsync dir), so a
// kill -9 or power cut leaves each file old or new. Control state stays out of the data log.
//
// Ledger and Pending are plain values (no I/O); FleetFiles does the I/O and blocks on disk. Not
// thread-safe: one owner (FleetControl, on the main thread).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/status.h"

namespace weir::control {

enum class Layer { kGroup, kDevice };
inline constexpr Layer kLayers[] = {Layer::kGroup, Layer::kDevice};
const char* LayerName(Layer layer);  // "group", "device"

struct LayerRecord {
  uint64_t last_seen_version = 0;  // highest version that passed signature and target checks
  std::string last_seen_sha256;
  uint64_t committed_version = 0;
  std::string committed_sha256;
  // A trial cut short by a crash: retried once when the same document comes again.
  uint64_t interrupted_version = 0;
  uint32_t interrupted_attempts = 0;
  struct Refused {
    uint64_t version = 0;
    std::string sha256;
    std::string reason;  // a reason code (document.h, health.h)
    int64_t at_us = 0;
    std::string state = "rejected";  // or "rolled_back", "rollback_failed", "interrupted"
  };
  std::vector<Refused> refused;  // newest last, at most kMaxRefused
  static constexpr size_t kMaxRefused = 16;

  const Refused* FindRefused(uint64_t version) const;
  void AddRefused(Refused r);
};

struct Ledger {
  LayerRecord group;
  LayerRecord device;
  LayerRecord& of(Layer l) { return l == Layer::kGroup ? group : device; }
  const LayerRecord& of(Layer l) const { return l == Layer::kGroup ? group : device; }
};

struct Pending {
  Layer layer = Layer::kDevice;
  uint64_t version = 0;
  std::string sha256;
  uint32_t attempt = 1;
};

class FleetFiles {
 public:
  explicit FleetFiles(std::filesystem::path state_dir);
  // Creates the fleet/ directory.
  Status Init() const;

  // A missing ledger is an empty one; an unreadable one is an error (the caller starts empty
  // and says so).
  Result<Ledger> ReadLedger() const;
  Status WriteLedger(const Ledger& ledger) const;

  // The committed envelope of a layer; nullopt when there is none.
  Result<std::optional<std::string>> ReadCommitted(Layer layer) const;
  // The commit point of a trial: one atomic replace.
  Status WriteCommitted(Layer layer, const std::string& envelope) const;
  Status RemoveCommitted(Layer layer) const;

  Result<std::optional<Pending>> ReadPending() const;
  Status WritePending(const Pending& pending) const;
  Status RemovePending() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace weir::control
