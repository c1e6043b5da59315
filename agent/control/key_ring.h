// KeyRing: the public keys trusted to sign fleet documents, read from a directory of PEM files
// (`control.keys_dir`, default /etc/weir/fleet-keys/, every `*.pub`). Several keys may be trusted
// at once so an operator can rotate: add the new key, sign with it, remove the old one. Revoking
// a key is deleting its file and sending SIGHUP (the agent then reloads the ring and re-checks its
// committed layers).
//
// A file that is not an Ed25519 public key is skipped and named in notes() (one bad file must not
// leave the device trusting nothing, nor stop it from starting). A missing directory is an empty
// ring: every signed document is then refused with `unknown_kid`.
//
// Immutable after Load(): safe to share between threads. Load() reads files (blocks on disk).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "agent/control/ed25519.h"

namespace weir::control {

class KeyRing {
 public:
  KeyRing() = default;
  static KeyRing Load(const std::filesystem::path& dir);
  // For tests and tools: a ring of the given keys.
  static KeyRing Of(const std::vector<PublicKey>& keys);

  // The key with this id, or nullptr.
  const PublicKey* Find(const std::string& kid) const;
  size_t size() const { return keys_.size(); }
  // "<file>: <why it was skipped>", one per skipped file.
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  std::map<std::string, PublicKey> keys_;
  std::vector<std::string> notes_;
};

}  // namespace weir::control
