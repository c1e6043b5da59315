#include "agent/control/ledger.h"

#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "platform/files.h"

namespace weir::control {
namespace {

using Json = nlohmann::json;
constexpr size_t kMaxStateFileBytes = 256 * 1024;

Json RecordJson(const LayerRecord& r) {
  Json refused = Json::array();
  for (const auto& x : r.refused) {
    refused.push_back({{"version", x.version},
                       {"sha256", x.sha256},
                       {"reason", x.reason},
                       {"at_us", x.at_us},
                       {"state", x.state}});
  }
  return {{"last_seen_version", r.last_seen_version},
          {"last_seen_sha256", r.last_seen_sha256},
          {"committed_version", r.committed_version},
          {"committed_sha256", r.committed_sha256},
          {"interrupted_version", r.interrupted_version},
          {"interrupted_attempts", r.interrupted_attempts},
          {"refused", std::move(refused)}};
}

LayerRecord RecordFrom(const Json& j) {
  LayerRecord r;
  r.last_seen_version = j.value("last_seen_version", uint64_t{0});
  r.last_seen_sha256 = j.value("last_seen_sha256", std::string());
  r.committed_version = j.value("committed_version", uint64_t{0});
  r.committed_sha256 = j.value("committed_sha256", std::string());
  r.interrupted_version = j.value("interrupted_version", uint64_t{0});
  r.interrupted_attempts = j.value("interrupted_attempts", uint32_t{0});
  if (auto it = j.find("refused"); it != j.end() && it->is_array()) {
    for (const Json& x : *it) {
      r.refused.push_back({x.value("version", uint64_t{0}), x.value("sha256", std::string()),
                           x.value("reason", std::string()), x.value("at_us", int64_t{0}),
                           x.value("state", std::string("rejected"))});
    }
  }
  return r;
}

Result<std::optional<std::string>> ReadOptional(const std::filesystem::path& path) {
  auto text = platform::ReadFile(path, kMaxStateFileBytes);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<std::string>();
    return text.status();
  }
  return std::optional<std::string>(std::move(*text));
}

Status RemoveDurably(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return platform::ErrnoStatus("removing", path, errno);
  }
  return platform::FsyncDirectory(path.parent_path());
}

}  // namespace

const char* LayerName(Layer layer) { return layer == Layer::kGroup ? "group" : "device"; }

const LayerRecord::Refused* LayerRecord::FindRefused(uint64_t version) const {
  for (const auto& r : refused) {
    if (r.version == version) return &r;
  }
  return nullptr;
}

void LayerRecord::AddRefused(Refused r) {
  refused.push_back(std::move(r));
  if (refused.size() > kMaxRefused) refused.erase(refused.begin());
}

FleetFiles::FleetFiles(std::filesystem::path state_dir) : dir_(std::move(state_dir) / "fleet") {}

Status FleetFiles::Init() const { return platform::EnsureDirectory(dir_); }

Result<Ledger> FleetFiles::ReadLedger() const {
  WEIR_ASSIGN_OR_RETURN(auto text, ReadOptional(dir_ / "ledger.json"));
  Ledger ledger;
  if (!text) return ledger;
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss((dir_ / "ledger.json").string() + ": not a JSON object");
  }
  try {
    if (j.contains("group")) ledger.group = RecordFrom(j["group"]);
    if (j.contains("device")) ledger.device = RecordFrom(j["device"]);
  } catch (const Json::exception& e) {
    return DataLoss((dir_ / "ledger.json").string() + ": " + e.what());
  }
  return ledger;
}

Status FleetFiles::WriteLedger(const Ledger& ledger) const {
  Json j = {{"group", RecordJson(ledger.group)}, {"device", RecordJson(ledger.device)}};
  return platform::WriteFileAtomically(dir_ / "ledger.json", j.dump(1) + "\n", 0640);
}

Result<std::optional<std::string>> FleetFiles::ReadCommitted(Layer layer) const {
  return ReadOptional(dir_ / (std::string(LayerName(layer)) + ".json"));
}

Status FleetFiles::WriteCommitted(Layer layer, const std::string& envelope) const {
  return platform::WriteFileAtomically(dir_ / (std::string(LayerName(layer)) + ".json"), envelope,
                                       0640);
}

Status FleetFiles::RemoveCommitted(Layer layer) const {
  return RemoveDurably(dir_ / (std::string(LayerName(layer)) + ".json"));
}

Result<std::optional<Pending>> FleetFiles::ReadPending() const {
  WEIR_ASSIGN_OR_RETURN(auto text, ReadOptional(dir_ / "pending.json"));
  if (!text) return std::optional<Pending>();
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss((dir_ / "pending.json").string() + ": not a JSON object");
  }
  Pending p;
  try {
    p.layer = j.value("layer", std::string()) == "group" ? Layer::kGroup : Layer::kDevice;
    p.version = j.value("version", uint64_t{0});
    p.sha256 = j.value("sha256", std::string());
    p.attempt = j.value("attempt", uint32_t{1});
  } catch (const Json::exception& e) {
    return DataLoss((dir_ / "pending.json").string() + ": " + e.what());
  }
  return std::optional<Pending>(p);
}

Status FleetFiles::WritePending(const Pending& p) const {
  Json j = {{"layer", LayerName(p.layer)},
            {"version", p.version},
            {"sha256", p.sha256},
            {"attempt", p.attempt}};
  return platform::WriteFileAtomically(dir_ / "pending.json", j.dump() + "\n", 0640);
}

Status FleetFiles::RemovePending() const { return RemoveDurably(dir_ / "pending.json"); }

}  // namespace weir::control
