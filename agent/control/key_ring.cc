#include "agent/control/key_ring.h"

#include <algorithm>

#include "platform/files.h"

namespace weir::control {
namespace {
constexpr size_t kMaxKeyFileBytes = 16 * 1024;
}

KeyRing KeyRing::Load(const std::filesystem::path& dir) {
  KeyRing ring;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".pub") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // deterministic notes and duplicate handling
  for (const auto& file : files) {
    auto text = platform::ReadFile(file, kMaxKeyFileBytes);
    if (!text.ok()) {
      ring.notes_.push_back(file.string() + ": " + text.status().message());
      continue;
    }
    auto key = PublicKey::FromPem(*text);
    if (!key.ok()) {
      ring.notes_.push_back(file.string() + ": " + key.status().message());
      continue;
    }
    ring.keys_.emplace(key->kid(), *key);
  }
  return ring;
}

KeyRing KeyRing::Of(const std::vector<PublicKey>& keys) {
  KeyRing ring;
  for (const PublicKey& k : keys) ring.keys_.emplace(k.kid(), k);
  return ring;
}

const PublicKey* KeyRing::Find(const std::string& kid) const {
  auto it = keys_.find(kid);
  return it == keys_.end() ? nullptr : &it->second;
}

}  // namespace weir::control
