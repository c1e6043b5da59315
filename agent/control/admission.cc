#include "agent/control/admission.h"

#include "agent/config/diff.h"

namespace weir::control {
namespace {

Admission Refuse(std::string_view code, std::string detail, bool moves_last_seen) {
  Admission a;
  a.refusal = {std::string(code), std::move(detail)};
  a.moves_last_seen = moves_last_seen;
  return a;
}

Composed SchemaRefusal(const Status& s, std::string_view where) {
  Composed c;
  c.refusal = {std::string(kSchema), std::string(where) + ": " + s.message()};
  return c;
}

}  // namespace

Admission Admit(const Document& doc, const Target& expected, const LayerRecord& record,
                bool clock_synchronised, int64_t now_us) {
  if (!(doc.target == expected)) {
    return Refuse(kWrongTarget,
                  "for " + doc.target.ToString() + ", this topic is " + expected.ToString(), false);
  }
  const std::string v = std::to_string(doc.version);
  if (doc.version == record.committed_version && doc.sha256 == record.committed_sha256) {
    Admission a;
    a.verdict = Verdict::kAlreadyApplied;
    return a;
  }
  if (const auto* r = record.FindRefused(doc.version)) {
    return Refuse(kRolledBackVersion, "version " + v + " was refused before (" + r->reason + ")",
                  false);
  }
  if (doc.version < record.last_seen_version) {
    return Refuse(kStale, "version " + v + " is below " + std::to_string(record.last_seen_version),
                  false);
  }
  if (doc.version == record.last_seen_version && doc.sha256 != record.last_seen_sha256) {
    return Refuse(kVersionReused, "version " + v + " was seen before with other content", false);
  }
  if (doc.expires_at_us && clock_synchronised && *doc.expires_at_us <= now_us) {
    return Refuse(kExpired, "expired at " + std::to_string(*doc.expires_at_us) + " us", true);
  }
  Admission a;
  a.verdict = Verdict::kApply;
  return a;
}

Composed Compose(const config::Sources& local, const RemoteLayers& layers) {
  config::AgentConfig c = config::Defaults();
  if (!local.file_json.empty()) {
    auto r = config::MergeJson(c, local.file_json);
    if (!r.ok()) return SchemaRefusal(r.status(), local.file_name);
    c = std::move(*r);
  }
  for (Layer layer : kLayers) {
    const auto& json = layers.of(layer);
    if (!json) continue;
    const std::string where = std::string(LayerName(layer)) + " layer";
    auto next = config::MergeJson(c, *json);
    if (!next.ok()) return SchemaRefusal(next.status(), where);
    const Status allowed = config::CheckRemoteAllowed(config::Diff(c, *next));
    if (!allowed.ok()) {
      Composed out;
      out.refusal = {std::string(kNotRemote), where + ": " + allowed.message()};
      return out;
    }
    c = std::move(*next);
  }
  auto env = config::ApplyOverrides(c, config::EnvOverrides(local.environ_entries));
  if (!env.ok()) return SchemaRefusal(env.status(), "environment");
  auto flags = config::ApplyOverrides(*env, local.flags);
  if (!flags.ok()) return SchemaRefusal(flags.status(), "flags");
  if (Status s = config::Validate(*flags); !s.ok()) return SchemaRefusal(s, "effective config");
  Composed out;
  out.config = std::move(*flags);
  return out;
}

}  // namespace weir::control
