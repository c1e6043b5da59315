#include "agent/app/run_config.h"

#include <chrono>
#include <memory>

#include "agent/codec/payload_parser.h"

namespace weir::app {
namespace {

transport::MqttOptions EndpointOptions(const v1::MqttEndpoint& e, const std::string& client_id) {
  transport::MqttOptions o;
  o.url = e.url();
  o.client_id = e.client_id().empty() ? client_id : e.client_id();
  if (!e.username().empty()) o.username = e.username();
  if (!e.password().empty()) o.password = e.password();
  if (e.url().rfind("mqtts://", 0) == 0 || e.url().rfind("ssl://", 0) == 0) {
    transport::TlsOptions tls;
    tls.ca_file = e.ca_file();
    tls.cert_file = e.cert_file();
    tls.key_file = e.key_file();
    o.tls = tls;
  }
  o.version = e.mqtt_version() == 5 ? transport::MqttVersion::kV5 : transport::MqttVersion::kV311;
  o.keepalive = std::chrono::seconds(e.keepalive_s());
  return o;
}

constexpr TimeMicros Seconds(uint32_t s) { return static_cast<TimeMicros>(s) * detect::kSecond; }

detect::WindowConfig WindowFrom(const v1::DetectWindow& w) {
  detect::WindowConfig out;
  out.kind = w.kind() == "sliding" ? detect::WindowKind::kSliding
             : w.kind() == "count" ? detect::WindowKind::kCount
                                   : detect::WindowKind::kTumbling;
  out.size_us = Seconds(w.size_s());
  if (out.kind == detect::WindowKind::kSliding) {
    out.hop_us = w.hop_s() == 0 ? out.size_us : Seconds(w.hop_s());
  }
  out.count = w.count();
  out.allowed_lateness_us = Seconds(w.allowed_lateness_s());
  return out;
}

// Keys the config does not expose (spike.min_count, the shift parameters, flatline.epsilon,
// auto's params, max_evidence) keep the detect defaults.
detect::DetectorConfig DetectorFrom(const v1::DetectRule& r) {
  detect::DetectorConfig d;
  d.name = r.pattern();
  d.window = WindowFrom(r.window());
  d.limits.enabled = r.limits().enabled();
  d.limits.min = r.limits().min();
  d.limits.max = r.limits().max();
  d.rate.enabled = r.rate().enabled();
  d.rate.max_per_second = r.rate().max_per_s();
  d.spike.enabled = r.spike().enabled();
  d.spike.z = r.spike().z();
  d.spike.window = r.spike().window();
  d.shift.enabled = r.shift().enabled();
  d.flatline.enabled = r.flatline().enabled();
  d.flatline.min_repeats = r.flatline().min_repeats();
  d.dropout.enabled = r.dropout().enabled();
  d.dropout.max_gap_us = Seconds(r.dropout().max_gap_s());
  d.auto_score.enabled = r.auto_().enabled();
  d.auto_score.threshold = r.auto_().threshold();
  d.holdoff_us = Seconds(r.holdoff_s());
  return d;
}

AggregateMode AggregateFrom(const std::string& mode) {
  if (mode == "beside") return AggregateMode::kBeside;
  if (mode == "instead") return AggregateMode::kInstead;
  return AggregateMode::kOff;
}

}  // namespace

std::filesystem::path LogPathIn(const std::filesystem::path& state_dir) {
  return state_dir / "log.db";
}
std::filesystem::path StatusPathIn(const std::filesystem::path& state_dir) {
  return state_dir / "status.json";
}
std::filesystem::path BootEpochPathIn(const std::filesystem::path& state_dir) {
  return state_dir / "boot_epoch";
}

store::LogOptions LogOptionsFrom(const config::AgentConfig& config) {
  store::LogOptions o;
  o.path = LogPathIn(config.store().state_dir());
  o.commit_records = config.store().group_commit_records();
  o.commit_interval = std::chrono::milliseconds(config.store().group_commit_interval_ms());
  o.synchronous = config.store().synchronous() == "normal" ? store::Synchronous::kNormal
                                                           : store::Synchronous::kFull;
  o.quota_bytes = config.store().quota_bytes();
  o.quota_policy = config.store().quota_policy() == "pause_ingest"
                       ? store::QuotaPolicy::kPauseIngest
                       : store::QuotaPolicy::kEvictOldest;
  o.min_free_bytes = config.store().min_free_bytes();
  o.quarantine_quota_percent = config.store().quarantine_quota_percent();
  o.dead_letters_quota_percent = config.store().dead_letters_quota_percent();
  return o;
}

transport::MqttOptions LocalMqttOptions(const config::AgentConfig& config) {
  transport::MqttOptions o =
      EndpointOptions(config.ingest().local(), "weir-" + config.device_id() + "-in");
  o.clean_session = false;
  return o;
}

transport::MqttOptions UpstreamMqttOptions(const config::AgentConfig& config) {
  transport::MqttOptions o =
      EndpointOptions(config.upstream().broker(), "weir-" + config.device_id());
  // The forwarder keeps at most upstream.max_inflight messages unacknowledged; the client's own
  // window is set a little wider so that a reload raising the setting takes effect without a
  // restart up to the schema's maximum.
  o.max_inflight = 1024;
  return o;
}

Result<std::vector<pipeline::IngestRoute>> MakeRoutes(const config::AgentConfig& config) {
  std::vector<pipeline::IngestRoute> routes;
  const auto& ingest = config.ingest();
  for (int i = 0; i < ingest.subscriptions_size(); ++i) {
    const v1::Subscription& sub = ingest.subscriptions(i);
    codec::ParserConfig pc;
    pc.format = sub.format();
    pc.json.sensor_field = sub.json_fields().sensor();
    pc.json.time_field = sub.json_fields().time();
    pc.json.value_field = sub.json_fields().value();
    pc.json.quality_field = sub.json_fields().quality();
    // -1 (the default) is the whole topic: a JSON payload without a sensor member takes its id
    // from the topic, as a bare number always does.
    pc.sensor_topic_segment = sub.sensor_topic_segment();
    pc.limits.max_payload_bytes = ingest.max_payload_bytes();
    pc.limits.max_past_us = static_cast<int64_t>(ingest.max_past_s()) * 1'000'000;
    pc.limits.max_future_us = static_cast<int64_t>(ingest.max_future_s()) * 1'000'000;
    pc.json.limits = pc.limits;
    auto parser = codec::MakeParser(pc);
    if (!parser.ok()) {
      return InvalidArgument("ingest.subscriptions[" + std::to_string(i) +
                             "]: " + parser.status().message());
    }
    routes.push_back(
        {sub.topic(), std::shared_ptr<const codec::PayloadParser>(std::move(*parser))});
  }
  return routes;
}

pipeline::ForwarderSettings ForwarderSettingsFrom(const config::AgentConfig& config) {
  const auto& up = config.upstream();
  pipeline::ForwarderSettings s;
  s.format = up.format() == "json" ? codec::EnvelopeFormat::kJson : codec::EnvelopeFormat::kBinary;
  s.max_message_bytes = up.max_message_bytes();
  s.batch_readings = up.batch_readings();
  s.max_inflight = static_cast<int>(up.max_inflight());
  s.max_attempts = up.max_attempts();
  s.backoff.base = std::chrono::milliseconds(up.backoff_initial_ms());
  s.backoff.cap = std::chrono::milliseconds(up.backoff_max_ms());
  s.reconnect.spread = std::chrono::milliseconds(up.reconnect_spread_ms());
  return s;
}

std::string DataTopic(const config::AgentConfig& config) {
  return config.upstream().topic_prefix() + "/" + config.device_id() + "/data";
}
std::string DefectsTopic(const config::AgentConfig& config) {
  return config.upstream().topic_prefix() + "/" + config.device_id() + "/defects";
}

detect::GroupConfig GroupFrom(const v1::DetectGroup& g) {
  detect::GroupConfig out;
  out.name = g.name();
  std::string_view rest = g.sensors();
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.sensors.emplace_back(item);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  out.interval_us = static_cast<TimeMicros>(g.interval_ms()) * 1000;
  out.staleness_us = static_cast<TimeMicros>(g.staleness_ms()) * 1000;
  out.learn_rows = g.learn_rows();
  out.learn_time_us = Seconds(g.learn_time_s());
  out.variance = g.variance();
  out.alpha = g.alpha();
  out.persistence = g.persistence();
  out.top = g.top();
  return out;
}

Result<DetectSettings> DetectSettingsFrom(const config::AgentConfig& config) {
  const v1::DetectConfig& d = config.detect();
  DetectSettings out;
  out.enabled = d.enabled();
  out.publish_local = d.publish_local();
  out.engine.max_sensors = d.max_sensors();
  out.engine.incident_close_after_us = Seconds(d.incident_close_after_s());
  for (const v1::DetectGroup& g : d.groups()) out.engine.groups.push_back(GroupFrom(g));
  for (const v1::DetectRule& r : d.rules()) {
    out.engine.rules.push_back({r.pattern(), DetectorFrom(r)});
    out.aggregates.emplace_back(r.pattern(), AggregateFrom(r.aggregate()));
  }
  Status s = detect::Validate(out.engine);
  // detect names fields after its own structs ("rules[2].spike.window"); the user wrote
  // detect.rules[2]..., so say where in their config to look.
  if (!s.ok()) return InvalidArgument("detect." + s.message());
  return out;
}

}  // namespace weir::app
