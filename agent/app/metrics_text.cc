#include "agent/app/metrics_text.h"

#include "agent/control/prometheus_text.h"

namespace weir::app {

std::string RenderMetricsText(const pipeline::PipelineSnapshot& s, const StatusContext& c) {
  control::PrometheusText m;
  const control::Labels device = {{"device", c.device_id}};
  auto with = [&](const char* k, std::string v) {
    control::Labels l = device;
    l.emplace_back(k, std::move(v));
    return l;
  };
  m.Gauge("weir_up", "1 while the agent runs", c.state == "running" ? 1 : 0, device);
  m.Gauge("weir_uptime_seconds", "Seconds since the agent started", c.uptime_s, device);
  m.Counter("weir_ingest_messages_total", "Messages taken from the local broker",
            static_cast<double>(s.ingest_messages), device);
  m.Counter("weir_readings_received_total", "Readings parsed, by result",
            static_cast<double>(s.ingest_readings), with("result", "accepted"));
  for (const auto& [reason, n] : s.rejected_by_reason) {
    m.Counter("weir_messages_rejected_total", "Messages refused at ingest, by reason",
              static_cast<double>(n), with("reason", reason));
  }
  m.Counter("weir_readings_committed_total", "Readings committed to the on-device log",
            static_cast<double>(s.store.readings_committed), device);
  m.Counter("weir_defects_committed_total", "Defects committed to the on-device log",
            static_cast<double>(s.store.defects_committed), device);
  m.Counter("weir_dead_letters_committed_total", "Refused payloads kept in the log",
            static_cast<double>(s.store.dead_letters_committed), device);
  m.Counter("weir_readings_forwarded_total", "Readings acknowledged by the upstream broker",
            static_cast<double>(s.forward.readings_acked), device);
  m.Counter("weir_upstream_rejections_total", "Publishes the upstream broker refused",
            static_cast<double>(s.forward.rejections), device);
  m.Counter("weir_upstream_dead_letters_total", "Messages given up on upstream",
            static_cast<double>(s.forward.dead_letters), device);
  m.Counter("weir_upstream_connection_losses_total", "Upstream connections lost",
            static_cast<double>(s.forward.connection_losses), device);
  m.Gauge("weir_upstream_connected", "1 while connected upstream",
          s.forward.state == pipeline::LinkState::kConnected ? 1 : 0, device);
  m.Gauge("weir_backlog_readings", "Records committed but not yet acknowledged upstream",
          static_cast<double>(s.forward.backlog_rows), device);
  m.Gauge("weir_backlog_bytes", "Estimated bytes of the backlog",
          static_cast<double>(s.forward.backlog_bytes), device);
  double oldest = 0;
  if (s.forward.oldest_unsent_us != 0 && c.now_us > s.forward.oldest_unsent_us) {
    oldest = static_cast<double>(c.now_us - s.forward.oldest_unsent_us) / 1e6;
  }
  m.Gauge("weir_oldest_unsent_age_seconds", "Event age of the oldest unsent record", oldest,
          device);
  m.Gauge("weir_store_bytes", "Bytes the on-device log counts against its quota",
          static_cast<double>(s.store.usage.quota_counted), device);
  m.Counter("weir_detect_defects_total", "Defects found on the gateway",
            static_cast<double>(s.detect.defects), device);
  m.Counter("weir_reloads_total", "SIGHUP reloads, by result",
            static_cast<double>(c.reloads_applied), with("result", "applied"));
  m.Counter("weir_reloads_total", "SIGHUP reloads, by result",
            static_cast<double>(c.reloads_refused), with("result", "refused"));
  m.Counter("weir_fleet_documents_total", "Fleet config documents, by outcome",
            static_cast<double>(c.fleet_applied), with("result", "applied"));
  m.Counter("weir_fleet_documents_total", "Fleet config documents, by outcome",
            static_cast<double>(c.fleet_refused), with("result", "refused"));
  m.Counter("weir_fleet_documents_total", "Fleet config documents, by outcome",
            static_cast<double>(c.fleet_rolled_back), with("result", "rolled_back"));
  return m.str();
}

}  // namespace weir::app
