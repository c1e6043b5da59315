#include "agent/control/document.h"

#include <sys/timex.h>

#include <nlohmann/json.hpp>

#include "agent/codec/timestamp.h"

namespace weir::control {
namespace {

using Json = nlohmann::json;

Opened Refuse(std::string_view code, std::string detail) {
  Opened o;
  o.refusal = {std::string(code), std::move(detail)};
  return o;
}

std::optional<Json> ParseObject(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

std::optional<std::string> StringField(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Reads the payload's target object: exactly one of "device" or "group", a non-empty string.
std::optional<Target> TargetOf(const Json& payload) {
  auto it = payload.find("target");
  if (it == payload.end() || !it->is_object() || it->size() != 1) return std::nullopt;
  Target t;
  if (auto d = StringField(*it, "device")) {
    t.kind = Target::Kind::kDevice;
    t.name = *d;
  } else if (auto g = StringField(*it, "group")) {
    t.kind = Target::Kind::kGroup;
    t.name = *g;
  } else {
    return std::nullopt;
  }
  if (t.name.empty()) return std::nullopt;
  return t;
}

// Parses the signed payload into `doc`. Returns a refusal detail, or "" when fine.
std::string ParsePayload(const std::string& payload, Document& doc) {
  auto j = ParseObject(payload);
  if (!j) return "payload is not a JSON object";
  if (StringField(*j, "kind") != std::string(kPayloadKind)) {
    return "kind: must be \"" + std::string(kPayloadKind) + "\"";
  }
  auto target = TargetOf(*j);
  if (!target) return "target: must be {\"device\":\"ID\"} or {\"group\":\"NAME\"}";
  doc.target = *target;
  auto v = j->find("version");
  if (v == j->end() || !v->is_number_unsigned() || v->get<uint64_t>() == 0) {
    return "version: must be a positive integer";
  }
  doc.version = v->get<uint64_t>();
  if (auto e = j->find("expires_at"); e != j->end()) {
    if (!e->is_string()) return "expires_at: must be an RFC 3339 time";
    auto t = codec::ParseTimestamp(e->get<std::string>());
    if (!t.ok()) return "expires_at: " + t.status().message();
    doc.expires_at_us = *t;
  }
  if (auto h = j->find("health"); h != j->end()) {
    auto w = h->is_object() ? h->find("window_s") : h->end();
    if (w != h->end()) {
      if (!w->is_number_unsigned() || w->get<uint64_t>() > 86400) {
        return "health.window_s: must be an integer 0-86400";
      }
      doc.health_window_s = w->get<uint32_t>();
    }
  }
  auto c = j->find("config");
  if (c == j->end() || !c->is_object()) return "config: must be a JSON object (the whole layer)";
  doc.config_json = c->dump();
  return "";
}

// The envelope's signature, then the payload it carries.
Opened CheckSignedPayload(const Json& env, std::string payload, const KeyRing& keys,
                          bool require_signature) {
  Document doc;
  auto kid = StringField(env, "kid");
  auto sig_b64 = StringField(env, "sig");
  if (!kid && !sig_b64) {
    if (require_signature) return Refuse(kUnsigned, "no kid and sig, and a signature is required");
  } else {
    if (!kid || !sig_b64) return Refuse(kBadEnvelope, "kid and sig: both or neither");
    const PublicKey* key = keys.Find(*kid);
    if (key == nullptr) return Refuse(kUnknownKid, "kid " + *kid + " is not a trusted key");
    auto sig = Base64Decode(*sig_b64);
    if (!sig.ok()) return Refuse(kBadEnvelope, "sig: " + sig.status().message());
    // The signature is checked before the payload is parsed.
    if (!key->Verify(payload, *sig)) {
      return Refuse(kBadSignature, "signature does not match the payload for kid " + *kid);
    }
    doc.kid = *kid;
  }
  if (std::string why = ParsePayload(payload, doc); !why.empty()) {
    return Refuse(kBadPayload, why);
  }
  doc.payload = std::move(payload);
  Opened out;
  out.document = std::move(doc);
  return out;
}

}  // namespace

std::string Target::ToString() const {
  return (kind == Kind::kDevice ? "device:" : "group:") + name;
}

Result<Target> ParseTarget(std::string_view text) {
  Target t;
  if (text.starts_with("device:")) {
    t.kind = Target::Kind::kDevice;
    t.name = text.substr(7);
  } else if (text.starts_with("group:")) {
    t.kind = Target::Kind::kGroup;
    t.name = text.substr(6);
  }
  if (t.name.empty()) {
    return InvalidArgument("target: '" + std::string(text) + "' is not device:ID or group:NAME");
  }
  return t;
}

Opened OpenEnvelope(std::string_view envelope, const KeyRing& keys, bool require_signature) {
  if (envelope.size() > kMaxEnvelopeBytes) {
    return Refuse(kTooLarge, std::to_string(envelope.size()) + " bytes, the limit is " +
                                 std::to_string(kMaxEnvelopeBytes));
  }
  auto env = ParseObject(envelope);
  if (!env) return Refuse(kBadEnvelope, "not a JSON object");
  auto marker = env->find("weir_signed");
  if (marker == env->end() || *marker != 1) return Refuse(kBadEnvelope, "weir_signed: must be 1");
  auto payload_b64 = StringField(*env, "payload");
  if (!payload_b64) return Refuse(kBadEnvelope, "payload: missing or not a string");
  auto payload = Base64Decode(*payload_b64);
  if (!payload.ok()) return Refuse(kBadEnvelope, "payload: " + payload.status().message());
  const std::string sha256 = Sha256Hex(*payload);
  Opened out = CheckSignedPayload(*env, std::move(*payload), keys, require_signature);
  out.payload_sha256 = sha256;
  if (out.ok()) {
    out.document->envelope = std::string(envelope);
    out.document->sha256 = sha256;
  }
  return out;
}

Result<std::string> MakePayload(const Target& target, uint64_t version,
                                std::string_view config_json, int64_t issued_at_us,
                                std::optional<int64_t> expires_at_us) {
  auto config = ParseObject(config_json);
  if (!config) return InvalidArgument("config: the layer must be a JSON object");
  if (version == 0) return InvalidArgument("version: must be positive");
  Json p = Json::object();
  p["kind"] = kPayloadKind;
  p["target"] = {{target.kind == Target::Kind::kDevice ? "device" : "group", target.name}};
  p["version"] = version;
  p["issued_at"] = codec::FormatRfc3339(issued_at_us);
  if (expires_at_us) p["expires_at"] = codec::FormatRfc3339(*expires_at_us);
  p["config"] = std::move(*config);
  return p.dump();
}

Result<std::string> SignEnvelope(const PrivateKey& key, std::string_view payload) {
  WEIR_ASSIGN_OR_RETURN(std::string sig, key.Sign(payload));
  Json e = Json::object();
  e["weir_signed"] = 1;
  e["kid"] = key.public_key().kid();
  e["payload"] = Base64Encode(payload);
  e["sig"] = Base64Encode(sig);
  return e.dump();
}

bool ClockSynchronised() {
  struct timex tx {};
  const int state = adjtimex(&tx);
  return state != -1 && state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

}  // namespace weir::control
