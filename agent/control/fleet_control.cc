#include "agent/control/fleet_control.h"

#include <nlohmann/json.hpp>

#include "agent/codec/timestamp.h"
#include "agent/core/logging.h"

namespace weir::control {
namespace {

using Json = nlohmann::json;
constexpr auto kBaseline = std::chrono::seconds(60);
constexpr auto kSampleHistory = std::chrono::seconds(70);

}  // namespace

std::string DesiredTopic(const std::string& prefix, const Target& target) {
  return target.kind == Target::Kind::kDevice
             ? prefix + "/" + target.name + "/config/desired"
             : prefix + "/fleet/" + target.name + "/config/desired";
}
std::string ReportedTopic(const std::string& prefix, const std::string& device) {
  return prefix + "/" + device + "/config/reported";
}
std::string EventsTopic(const std::string& prefix, const std::string& device) {
  return prefix + "/" + device + "/config/events";
}
std::string StatusTopic(const std::string& prefix, const std::string& device) {
  return prefix + "/" + device + "/status";
}

FleetControl::FleetControl(ControlOptions options, ConfigHost& host, ClientFactory factory,
                           const Clock& clock)
    : options_(std::move(options)),
      host_(host),
      factory_(std::move(factory)),
      clock_(clock),
      files_(options_.state_dir),
      backoff_(BackoffOptions{std::chrono::milliseconds(500), std::chrono::seconds(30)}) {}

FleetControl::~FleetControl() = default;

Result<std::unique_ptr<FleetControl>> FleetControl::Open(ControlOptions options, ConfigHost& host,
                                                         ClientFactory factory,
                                                         const Clock& clock) {
  std::unique_ptr<FleetControl> c(
      new FleetControl(std::move(options), host, std::move(factory), clock));
  WEIR_RETURN_IF_ERROR(c->Load());
  return c;
}

Target FleetControl::TargetOf(Layer layer) const {
  return layer == Layer::kGroup ? Target{Target::Kind::kGroup, options_.group}
                                : Target{Target::Kind::kDevice, options_.device_id};
}

Status FleetControl::Load() {
  WEIR_RETURN_IF_ERROR(files_.Init());
  keys_ = KeyRing::Load(options_.keys_dir);
  notes_ = keys_.notes();
  auto ledger = files_.ReadLedger();
  if (ledger.ok()) {
    ledger_ = std::move(*ledger);
  } else {
    notes_.push_back("fleet ledger unreadable, starting a new one: " + ledger.status().message());
  }
  for (Layer layer : kLayers) {
    LoadCommitted(layer);
    RestoreLastRefusal(layer);
  }
  ResolvePending();
  // The committed layers must still compose with today's local config and schema; a layer that
  // does not is dropped (device first: it sits on top), so the agent always starts.
  auto local = host_.LocalSources();
  if (!local.ok()) return local.status();
  for (Layer layer : {Layer::kDevice, Layer::kGroup}) {
    Composed c = Compose(*local, committed_);
    if (c.ok()) break;
    if (!committed_.of(layer)) continue;
    notes_.push_back(std::string("committed ") + LayerName(layer) +
                     " layer dropped: " + c.refusal.detail);
    committed_.of(layer).reset();
    views_[static_cast<int>(layer)].state = "rejected";
    views_[static_cast<int>(layer)].reason = c.refusal.code;
    views_[static_cast<int>(layer)].detail = c.refusal.detail;
  }
  return Status::Ok();
}

void FleetControl::LoadCommitted(Layer layer) {
  LayerView& view = views_[static_cast<int>(layer)];
  if (layer == Layer::kGroup && options_.group.empty()) return;
  auto text = files_.ReadCommitted(layer);
  if (!text.ok() || !*text) {
    if (!text.ok()) notes_.push_back(text.status().message());
    return;
  }
  Opened o = OpenEnvelope(**text, keys_, options_.require_signature);
  if (o.ok() && !(o.document->target == TargetOf(layer))) {
    o.refusal = {std::string(kWrongTarget), "committed for " + o.document->target.ToString()};
    o.document.reset();
  }
  if (!o.ok()) {
    notes_.push_back(std::string("committed ") + LayerName(layer) +
                     " layer dropped: " + o.refusal.code + ": " + o.refusal.detail);
    view.state = "rejected";
    view.reason = o.refusal.code;
    view.detail = o.refusal.detail;
    return;
  }
  // The committed file is the commit point: the ledger follows it.
  LayerRecord& rec = ledger_.of(layer);
  rec.committed_version = o.document->version;
  rec.committed_sha256 = o.document->sha256;
  if (rec.last_seen_version < rec.committed_version) {
    rec.last_seen_version = rec.committed_version;
    rec.last_seen_sha256 = rec.committed_sha256;
  }
  committed_.of(layer) = o.document->config_json;
  view.desired = view.applied = o.document->version;
  view.state = "committed";
  view.sha256 = o.document->sha256;
}

// After a restart the reported state still says why the newest version is not applied.
void FleetControl::RestoreLastRefusal(Layer layer) {
  const LayerRecord& rec = ledger_.of(layer);
  if (rec.refused.empty() || rec.refused.back().version <= rec.committed_version) return;
  const LayerRecord::Refused& r = rec.refused.back();
  LayerView& view = views_[static_cast<int>(layer)];
  view.desired = r.version;
  view.state = r.state;
  view.reason = r.reason;
  view.at_us = r.at_us;
  view.sha256 = r.sha256;
}

void FleetControl::ResolvePending() {
  auto pending = files_.ReadPending();
  if (!pending.ok()) notes_.push_back(pending.status().message());
  if (!pending.ok() || !*pending) return;
  const Pending p = **pending;
  LayerRecord& rec = ledger_.of(p.layer);
  if (rec.committed_version != p.version || rec.committed_sha256 != p.sha256) {
    // A crash during the trial: the agent starts on the last committed layers. The same document
    // is tried once more when it comes again (a power cut is not a verdict), then refused.
    if (p.attempt >= 2) {
      rec.AddRefused(
          {p.version, p.sha256, std::string(kInterrupted), clock_.WallMicros(), "interrupted"});
    } else {
      rec.interrupted_version = p.version;
      rec.interrupted_attempts = p.attempt;
    }
    LayerView& view = views_[static_cast<int>(p.layer)];
    view.desired = p.version;
    view.sha256 = p.sha256;
    view.state = "interrupted";
    view.reason = std::string(kInterrupted);
    view.detail = "the agent stopped during the trial (attempt " + std::to_string(p.attempt) + ")";
    view.at_us = clock_.WallMicros();
    notes_.push_back(std::string("fleet ") + LayerName(p.layer) + " version " +
                     std::to_string(p.version) + ": trial interrupted, started on the last good");
  }
  SaveLedger();
  if (Status s = files_.RemovePending(); !s.ok()) notes_.push_back(s.message());
}

void FleetControl::SaveLedger() {
  if (Status s = files_.WriteLedger(ledger_); !s.ok()) {
    LogError("control", "fleet ledger not saved: " + s.ToString());
  }
}

void FleetControl::ReloadKeys() {
  keys_ = KeyRing::Load(options_.keys_dir);
  for (const std::string& n : keys_.notes()) LogWarn("control", n);
  LogInfo("control", "trusted fleet keys reloaded: " + std::to_string(keys_.size()));
}

void FleetControl::Poll() {
  ConnectionUpkeep();
  AnswerStaleWill();
  SampleHealth();
  if (trial_) JudgeTrial();
  if (!trial_) HandleInbox();
  if (connected_) {
    if (reported_dirty_) PublishReported();
    if (clock_.Now() >= next_status_) PublishStatus("running");
  }
}

void FleetControl::ConnectionUpkeep() {
  bool connected_event = false;
  bool lost_event = false;
  {
    std::lock_guard lock(inbox_->mu);
    std::swap(connected_event, inbox_->connected_event);
    std::swap(lost_event, inbox_->lost_event);
  }
  const auto now = clock_.Now();
  if (lost_event && client_) {
    connected_ = false;
    client_.reset();
    reconnect_at_ = now + backoff_.Next();
  }
  if (connected_event && client_) {
    connected_ = true;
    backoff_.Reset();
    OnConnected();
  }
  if (client_ || now < reconnect_at_) return;
  ++session_;
  Json will = {{"state", "offline"},
               {"device", options_.device_id},
               {"boot_epoch", options_.boot_epoch},
               {"session", session_}};
  auto made = factory_(
      transport::LastWill{StatusTopic(options_.prefix, options_.device_id), will.dump(), 1, true});
  if (!made.ok()) {
    LogError("control", "fleet connection: " + made.status().ToString());
    reconnect_at_ = now + backoff_.Next();
    return;
  }
  client_ = std::move(*made);
  {
    std::lock_guard lock(inbox_->mu);  // events of an earlier client are stale
    inbox_->connected_event = inbox_->lost_event = false;
  }
  std::shared_ptr<Inbox> inbox = inbox_;
  transport::MqttCallbacks cb;
  cb.on_connected = [inbox](bool) {
    std::lock_guard lock(inbox->mu);
    inbox->connected_event = true;
  };
  cb.on_connection_lost = [inbox](const Status&) {
    std::lock_guard lock(inbox->mu);
    inbox->lost_event = true;
  };
  cb.on_message = [inbox](const transport::InboundMessage& m) {
    if (m.payload.empty()) return;  // a deleted retained message: keep the committed layer
    std::lock_guard lock(inbox->mu);
    inbox->latest[std::string(m.topic)] = std::string(m.payload);
  };
  client_->SetCallbacks(std::move(cb));
  if (Status s = client_->Connect(); !s.ok()) {
    client_.reset();
    reconnect_at_ = now + backoff_.Next();
  }
}

void FleetControl::OnConnected() {
  // Our own status too: to see a late will of an earlier session (below).
  std::vector<transport::Subscription> subs = {
      {DesiredTopic(options_.prefix, TargetOf(Layer::kDevice)), 1},
      {StatusTopic(options_.prefix, options_.device_id), 1}};
  if (!options_.group.empty()) {
    subs.push_back({DesiredTopic(options_.prefix, TargetOf(Layer::kGroup)), 1});
  }
  if (Status s = client_->Subscribe(subs); !s.ok()) {
    LogWarn("control", "fleet subscribe: " + s.ToString());
  }
  PublishStatus("running");
  PublishReported();  // at once: before a redelivered document moves the state on
}

// A broker may publish an earlier connection's will after this one is up (a session takeover, a
// late keepalive expiry: mosquitto#1946). The retained status would then say "offline" while we
// run, so an "offline" naming an older (boot_epoch, session) is answered with "running" at once
// (the Sparkplug host STATE rule). Our own will can only be published once we are gone.
void FleetControl::AnswerStaleWill() {
  std::string payload;
  {
    std::lock_guard lock(inbox_->mu);
    auto it = inbox_->latest.find(StatusTopic(options_.prefix, options_.device_id));
    if (it == inbox_->latest.end()) return;
    payload = std::move(it->second);
    inbox_->latest.erase(it);
  }
  if (!connected_) return;
  const Json s = Json::parse(payload, nullptr, false);
  if (!s.is_object() || s.value("state", std::string()) != "offline") return;
  const auto theirs =
      std::make_pair(s.value("boot_epoch", uint64_t{0}), s.value("session", uint64_t{0}));
  if (theirs < std::make_pair(options_.boot_epoch, session_)) {
    LogInfo("control", "a late will of an earlier session said offline; status re-published");
    PublishStatus("running");
  }
}

void FleetControl::SampleHealth() {
  HealthSample s = host_.SampleHealth();
  s.at = clock_.Now();
  samples_.push_back(s);
  while (samples_.size() > 1 && samples_.front().at + kSampleHistory < s.at) {
    samples_.pop_front();
  }
}

HealthSample FleetControl::BaselineSample() const {
  const auto since = clock_.Now() - kBaseline;
  for (const HealthSample& s : samples_) {
    if (s.at >= since) return s;
  }
  return samples_.back();
}

void FleetControl::HandleInbox() {
  std::map<std::string, std::string> latest;
  {
    std::lock_guard lock(inbox_->mu);
    latest.swap(inbox_->latest);
  }
  for (Layer layer : kLayers) {
    if (layer == Layer::kGroup && options_.group.empty()) continue;
    auto it = latest.find(DesiredTopic(options_.prefix, TargetOf(layer)));
    if (it == latest.end()) continue;
    if (trial_) {  // the group document started a trial: the device one waits for its end
      std::lock_guard lock(inbox_->mu);
      inbox_->latest.emplace(it->first, std::move(it->second));
      continue;
    }
    Handle(layer, it->second);
  }
}

void FleetControl::Handle(Layer layer, const std::string& envelope) {
  Opened o = OpenEnvelope(envelope, keys_, options_.require_signature);
  if (!o.ok()) {
    Refuse(layer, 0, o.payload_sha256, o.refusal, false);
    return;
  }
  Document& doc = *o.document;
  const Admission a =
      Admit(doc, TargetOf(layer), ledger_.of(layer), ClockSynchronised(), clock_.WallMicros());
  if (a.verdict == Verdict::kAlreadyApplied) return;
  if (a.verdict == Verdict::kRefuse) {
    if (a.refusal.code == kRolledBackVersion) {
      LogInfo("control", std::string("fleet ") + LayerName(layer) + ": " + a.refusal.detail);
      return;  // a retained redelivery of what was refused: already reported, never re-applied
    }
    Refuse(layer, doc.version, doc.sha256, a.refusal, a.moves_last_seen);
    return;
  }
  auto local = host_.LocalSources();
  if (!local.ok()) {
    Refuse(layer, doc.version, doc.sha256, {std::string(kSchema), local.status().message()}, false);
    return;
  }
  RemoteLayers candidate = committed_;
  candidate.of(layer) = doc.config_json;
  Composed c = Compose(*local, candidate);
  if (!c.ok()) {
    Refuse(layer, doc.version, doc.sha256, c.refusal, true);
    return;
  }
  StartTrial(layer, std::move(doc), *c.config);
}

void FleetControl::Refuse(Layer layer, uint64_t version, const std::string& sha256,
                          const Refusal& r, bool record) {
  ++counters_.refused;
  if (record) {
    LayerRecord& rec = ledger_.of(layer);
    if (version > rec.last_seen_version) {
      rec.last_seen_version = version;
      rec.last_seen_sha256 = sha256;
    }
    rec.AddRefused({version, sha256, r.code, clock_.WallMicros()});
    SaveLedger();
  }
  Transition(layer, version, sha256, "rejected", r);
}

void FleetControl::StartTrial(Layer layer, Document doc, const config::AgentConfig& next) {
  LayerRecord& rec = ledger_.of(layer);
  Pending p{layer, doc.version, doc.sha256,
            rec.interrupted_version == doc.version ? rec.interrupted_attempts + 1 : 1};
  rec.last_seen_version = doc.version;
  rec.last_seen_sha256 = doc.sha256;
  // The trial marker goes to disk before anything changes.
  Status s = files_.WriteLedger(ledger_);
  if (s.ok()) s = files_.WritePending(p);
  if (!s.ok()) {
    Refuse(layer, doc.version, doc.sha256, {std::string(kPersistFailed), s.message()}, false);
    return;
  }
  Transition(layer, doc.version, doc.sha256, "applying", {});
  const Status applied = host_.Apply(next);
  trial_ = Trial{layer, std::move(doc), BaselineSample(), samples_.back(),
                 clock_.Now() + options_.health_window};
  if (!applied.ok()) {
    RollBack({std::string(kApplyFailed), applied.message()});
    return;
  }
  // Sampled again after the apply: the window is judged from here.
  SampleHealth();
  trial_->start = samples_.back();
  upstream_unverified_ = !trial_->start.upstream_connected;
  effective_sha256_ = Sha256Hex(config::RenderJson(next, config::Redact::kNothing));
  Transition(layer, trial_->doc.version, trial_->doc.sha256, "probation", {});
}

void FleetControl::JudgeTrial() {
  const bool over = clock_.Now() >= trial_->deadline;
  if (auto r = JudgeHealth(trial_->base, trial_->start, samples_.back(), over)) {
    RollBack(*r);
    return;
  }
  if (over) Commit();
}

void FleetControl::Commit() {
  Trial t = std::move(*trial_);
  if (Status s = files_.WriteCommitted(t.layer, t.doc.envelope); !s.ok()) {
    RollBack({std::string(kPersistFailed), s.message()});  // trial_ is still set for RollBack
    return;
  }
  trial_.reset();
  LayerRecord& rec = ledger_.of(t.layer);
  rec.committed_version = t.doc.version;
  rec.committed_sha256 = t.doc.sha256;
  rec.interrupted_version = 0;
  rec.interrupted_attempts = 0;
  SaveLedger();
  if (Status s = files_.RemovePending(); !s.ok()) LogError("control", s.ToString());
  committed_.of(t.layer) = t.doc.config_json;
  ++counters_.applied;
  views_[static_cast<int>(t.layer)].applied = t.doc.version;
  Refusal note;
  if (upstream_unverified_) note = {"upstream_unverified", "upstream was down at the apply"};
  Transition(t.layer, t.doc.version, t.doc.sha256, "committed", note);
}

void FleetControl::RollBack(const Refusal& why) {
  Trial t = std::move(*trial_);
  trial_.reset();
  std::string state = "rolled_back";
  auto local = host_.LocalSources();
  Status s = local.ok() ? Status::Ok() : local.status();
  if (s.ok()) {
    Composed c = Compose(*local, committed_);
    s = c.ok() ? host_.Apply(*c.config) : InvalidArgument(c.refusal.detail);
    if (!s.ok()) {
      // The last good layers no longer apply: local config only.
      state = "rollback_failed";
      Composed l = Compose(*local, RemoteLayers{});
      if (l.ok()) s = host_.Apply(*l.config);
      if (!l.ok() || !s.ok()) LogError("control", "fleet rollback: local config did not apply");
    } else {
      effective_sha256_ = Sha256Hex(config::RenderJson(*c.config, config::Redact::kNothing));
    }
  } else {
    state = "rollback_failed";
  }
  LayerRecord& rec = ledger_.of(t.layer);
  rec.AddRefused({t.doc.version, t.doc.sha256, why.code, clock_.WallMicros(), state});
  SaveLedger();
  if (Status r = files_.RemovePending(); !r.ok()) LogError("control", r.ToString());
  ++counters_.rolled_back;
  Transition(t.layer, t.doc.version, t.doc.sha256, state, why);
}

void FleetControl::Transition(Layer layer, uint64_t version, const std::string& sha256,
                              const std::string& state, const Refusal& r) {
  LayerView& view = views_[static_cast<int>(layer)];
  if (version != 0) view.desired = version;
  view.sha256 = sha256;
  view.state = state;
  view.reason = r.code;
  view.detail = r.detail;
  view.at_us = clock_.WallMicros();
  LogInfo("control", std::string("fleet ") + LayerName(layer) + " version " +
                         std::to_string(version) + ": " + state +
                         (r.code.empty() ? "" : " (" + r.code + ": " + r.detail + ")"));
  PublishEvent(layer, version, state, r);
  reported_dirty_ = true;
  if (connected_) PublishReported();
}

std::string FleetControl::ReportedJson() const {
  Json layers = Json::object();
  for (Layer layer : kLayers) {
    const LayerView& v = views_[static_cast<int>(layer)];
    Json l = {{"target", TargetOf(layer).ToString()},
              {"desired", v.desired},
              {"applied", v.applied},
              {"state", v.state}};
    if (!v.reason.empty()) l["reason"] = v.reason;
    if (!v.detail.empty()) l["detail"] = v.detail;
    if (v.at_us != 0) l["at"] = codec::FormatRfc3339(v.at_us);
    if (!v.sha256.empty()) l["sha256"] = v.sha256;
    layers[LayerName(layer)] = std::move(l);
  }
  Json pending = nullptr;
  if (trial_) {
    pending = {{"layer", LayerName(trial_->layer)}, {"version", trial_->doc.version}};
  }
  return Json{{"device", options_.device_id},
              {"boot_epoch", options_.boot_epoch},
              {"session", session_},
              {"effective_sha256", effective_sha256_},
              {"layers", std::move(layers)},
              {"pending", std::move(pending)},
              {"upstream_unverified", upstream_unverified_},
              {"fleet",
               {{"applied", counters_.applied},
                {"refused", counters_.refused},
                {"rolled_back", counters_.rolled_back}}}}
      .dump();
}

bool FleetControl::Publish(const std::string& topic, const std::string& payload, bool retained) {
  if (!client_ || !connected_) return false;
  auto token = client_->Publish(topic, payload, 1, retained);
  if (!token.ok()) LogDebug("control", topic + ": " + token.status().ToString());
  return token.ok();
}

void FleetControl::PublishReported() {
  if (Publish(ReportedTopic(options_.prefix, options_.device_id), ReportedJson(), true)) {
    reported_dirty_ = false;
  }
}

void FleetControl::PublishEvent(Layer layer, uint64_t version, const std::string& state,
                                const Refusal& r) {
  Json e = {{"seq", ++event_seq_},
            {"boot_epoch", options_.boot_epoch},
            {"layer", LayerName(layer)},
            {"version", version},
            {"state", state},
            {"at", codec::FormatRfc3339(clock_.WallMicros())}};
  if (!r.code.empty()) e["reason"] = r.code;
  if (!r.detail.empty()) e["detail"] = r.detail;
  Publish(EventsTopic(options_.prefix, options_.device_id), e.dump(), false);
}

void FleetControl::PublishStatus(const char* state) {
  Json status = Json::parse(host_.StatusJson(), nullptr, false);
  if (status.is_discarded()) status = nullptr;
  Json s = {{"state", state},
            {"device", options_.device_id},
            {"boot_epoch", options_.boot_epoch},
            {"session", session_},
            {"at", codec::FormatRfc3339(clock_.WallMicros())},
            {"fleet",
             {{"applied", counters_.applied},
              {"refused", counters_.refused},
              {"rolled_back", counters_.rolled_back}}},
            {"status", std::move(status)}};
  Publish(StatusTopic(options_.prefix, options_.device_id), s.dump(), true);
  next_status_ = clock_.Now() + options_.status_interval;
}

void FleetControl::Stop(std::chrono::milliseconds timeout) {
  if (client_ && connected_) {
    PublishStatus("stopped");
    client_->Disconnect(timeout).IgnoreError();
  }
  client_.reset();
  connected_ = false;
}

}  // namespace weir::control
