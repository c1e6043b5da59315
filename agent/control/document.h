// Signed fleet documents: the envelope on the wire, the payload it carries, and the checks made on
// them before anything else looks at the content (agent/control/README.md has the format).
//
//   envelope: {"weir_signed":1,"kid":"<16 hex>","payload":"<base64>","sig":"<base64, 64 bytes>"}
//   payload:  {"kind":"weir.config.v1","target":{"device":"gw-17"},"version":7,
//              "issued_at":"2026-12-07T10:00:00Z","expires_at":"…","config":{…}}
//
// The signature is Ed25519 over the exact payload bytes (no canonicalisation), and it is checked
// before the payload is parsed: hostile bytes reach the JSON parser only when a trusted key signed
// them. Every refusal carries a stable reason code (the k* constants) for reported state, events
// and tests, and a human detail.
//
// Pure functions over their arguments (the key ring is passed in); no I/O; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/control/ed25519.h"
#include "agent/control/key_ring.h"
#include "agent/core/status.h"

namespace weir::control {

// Stable reason codes.
inline constexpr std::string_view kTooLarge = "too_large";
inline constexpr std::string_view kBadEnvelope = "bad_envelope";
inline constexpr std::string_view kUnsigned = "unsigned";
inline constexpr std::string_view kUnknownKid = "unknown_kid";
inline constexpr std::string_view kBadSignature = "bad_signature";
inline constexpr std::string_view kBadPayload = "bad_payload";
inline constexpr std::string_view kWrongTarget = "wrong_target";
inline constexpr std::string_view kStale = "stale";
inline constexpr std::string_view kVersionReused = "version_reused";
inline constexpr std::string_view kExpired = "expired";
inline constexpr std::string_view kRolledBackVersion = "rolled_back_version";
inline constexpr std::string_view kSchema = "schema";
inline constexpr std::string_view kNotRemote = "not_remote";
inline constexpr std::string_view kPersistFailed = "persist_failed";
inline constexpr std::string_view kApplyFailed = "apply_failed";
inline constexpr std::string_view kInterrupted = "interrupted";
// Health failures are "health.H1" … "health.H5" (health.h).

struct Refusal {
  std::string code;    // one of the codes above
  std::string detail;  // for people
};

// Envelopes above this are refused before decoding (AWS IoT caps messages at 128 KiB).
inline constexpr size_t kMaxEnvelopeBytes = 64 * 1024;
inline constexpr std::string_view kPayloadKind = "weir.config.v1";

// What a document is for: one device, or every device of a group.
struct Target {
  enum class Kind { kDevice, kGroup };
  Kind kind = Kind::kDevice;
  std::string name;
  std::string ToString() const;  // "device:gw-17", "group:plant-a"
  friend bool operator==(const Target&, const Target&) = default;
};
// Parses "device:NAME" or "group:NAME". InvalidArgument otherwise.
Result<Target> ParseTarget(std::string_view text);

struct Document {
  std::string envelope;  // the exact bytes received: what is persisted on commit
  std::string payload;   // the exact signed bytes
  std::string kid;       // "" when accepted unsigned
  std::string sha256;    // hex SHA-256 of the payload: "same version, same content"
  Target target;
  uint64_t version = 0;
  std::optional<int64_t> expires_at_us;
  std::optional<uint32_t> health_window_s;
  std::string config_json;  // the "config" object: the whole layer
};

// Either the document or why it was refused.
struct Opened {
  std::optional<Document> document;
  Refusal refusal;
  // SHA-256 of the payload bytes whenever they could be decoded (also for a refused envelope),
  // so the reported state can say which document a verdict is about.
  std::string payload_sha256;
  bool ok() const { return document.has_value(); }
};

// Decodes and verifies an envelope, then parses its payload. With `require_signature` false an
// envelope without "kid" and "sig" is accepted unsigned; a signed one is still verified.
Opened OpenEnvelope(std::string_view envelope, const KeyRing& keys, bool require_signature);

// The payload for a layer: `config_json` must be a JSON object. Keys in a fixed order.
Result<std::string> MakePayload(const Target& target, uint64_t version,
                                std::string_view config_json, int64_t issued_at_us,
                                std::optional<int64_t> expires_at_us);
// The envelope of `payload` signed by `key`.
Result<std::string> SignEnvelope(const PrivateKey& key, std::string_view payload);

// Whether the system clock is synchronised (adjtimex without STA_UNSYNC). Expiry is judged only
// then: a gateway that booted in 1970 must not refuse every document, nor accept expired ones
// because its clock is behind.
bool ClockSynchronised();

}  // namespace weir::control
