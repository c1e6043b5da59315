#include "agent/app/status_file.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "agent/app/store_json.h"
#include "agent/codec/defect_codec.h"

namespace weir::app {

std::string RenderStatusJson(const pipeline::PipelineSnapshot& s, const StatusContext& c) {
  using nlohmann::json;
  json ingest = {
      {"local", pipeline::LinkStateName(s.local)},
      {"messages", s.ingest_messages},
      {"readings", s.ingest_readings},
      {"rejected", s.ingest_rejected},
      {"rejected_by_reason", s.rejected_by_reason},
      {"queue_depth", s.ingest_queue_depth},
      {"queue_bytes", s.ingest_queue_bytes},
      {"spilled_now", s.ingest_spilled_now},
      {"spilled_total", s.ingest_spilled_total},
      // Not lost: these stay in the intake journal and are replayed at the next start.
      {"dropped_at_shutdown", s.ingest_dropped_at_shutdown + s.store.dropped_at_shutdown},
      {"readings_per_s", c.ingest_readings_per_s},
  };
  ingest["journal"] = {
      {"enabled", s.journal_enabled},
      {"segments", s.journal.segments},
      {"bytes", s.journal.bytes},
      {"last_number", s.journal.last_number},
      {"append_errors", s.ingest_journal_errors},
      {"redeliveries_dropped", s.ingest_redeliveries_dropped},
      {"local_paused", s.ingest_paused_by_journal},
      {"pauses", s.ingest_journal_pauses},
      {"damaged_segments", s.journal.damaged_segments},
      {"replayed", s.store.intake_replayed},
      {"lost", s.store.intake_lost},
  };
  json store = {
      {"readings_committed", s.store.readings_committed},
      {"defects_committed", s.store.defects_committed},
      {"dead_letters_committed", s.store.dead_letters_committed},
      {"commits", s.store.commits},
      {"last_seq", s.store.last_committed_seq},
      {"paused", s.store.paused},
      {"paused_ms", s.store.ingest_paused_ms},
      // Why writes are held back: "none", "quota", "disk_reserve" or "disk_full".
      {"limit", std::string(store::StoreLimitName(s.store.limit))},
      {"disk_full_commits", s.store.disk_full_commits},
      {"evictions", EvictionsJson(s.store.evictions)},
      {"bytes", UsageJson(s.store.usage)},
  };
  if (s.recovery != nullptr) store["recovery"] = RecoveryJson(*s.recovery);
  const auto& f = s.forward;
  double oldest_age_s = 0;
  if (f.oldest_unsent_us != 0 && c.now_us > f.oldest_unsent_us) {
    oldest_age_s = static_cast<double>(c.now_us - f.oldest_unsent_us) / 1e6;
  }
  json forward = {
      {"upstream", pipeline::LinkStateName(f.state)},
      {"messages_sent", f.messages_sent},
      {"messages_acked", f.messages_acked},
      {"readings_acked", f.readings_acked},
      {"defects_acked", f.defects_acked},
      {"gaps_sent", f.gaps_sent},
      {"rejected_gaps", f.rejected_gaps},
      {"readings_per_s", c.forward_readings_per_s},
      {"resends", f.resends},
      {"rejections", f.rejections},
      {"dead_letters", f.dead_letters},
      {"inflight", f.inflight},
      {"connects", f.connects},
      {"connection_losses", f.connection_losses},
      {"acked_seq", {{"defects", f.acked_seq[0]}, {"readings", f.acked_seq[1]}}},
      {"backlog_rows", f.backlog_rows},
      {"backlog_bytes", f.backlog_bytes},
      {"oldest_unsent_age_s", oldest_age_s},
      {"last_error", f.last_error},
  };
  json detect = {{"enabled", s.detect_enabled}};
  if (s.detect_enabled) {
    detect["readings"] = s.detect.readings;
    detect["sensors"] = s.detect.sensors;
    detect["defects"] = s.detect.defects;
    detect["late"] = s.detect.late;
    detect["published_local"] = s.detect.published_local;
    detect["local_publish_failed"] = s.detect.local_publish_failed;
    detect["aggregates"] = s.detect.aggregates;
    detect["local_latency_p50_ms"] = s.detect.local_latency_p50_ms;
    detect["local_latency_p99_ms"] = s.detect.local_latency_p99_ms;
    detect["incidents_opened"] = s.detect.incidents_opened;
    detect["incidents_closed"] = s.detect.incidents_closed;
    detect["incidents_open"] = s.detect.incidents_open;
    json open = json::array();
    for (const detect::OpenIncident& i : s.detect.open_incidents) {
      open.push_back({{"incident_id", codec::FormatIncidentId(i.id)},
                      {"sensor", i.sensor},
                      {"detector", i.detector},
                      {"opened_at_us", i.opened_at_us},
                      {"last_firing_us", i.last_firing_us},
                      {"peak_score", i.peak_score},
                      {"firings", i.firings}});
    }
    detect["open_incidents"] = std::move(open);
  }
  json doc = {
      {"device", c.device_id}, {"log_id", s.log_id},     {"pid", static_cast<int64_t>(::getpid())},
      {"state", c.state},      {"uptime_s", c.uptime_s}, {"time_us", c.now_us},
      {"ingest", ingest},      {"store", store},         {"forward", forward},
  };
  doc["detect"] = std::move(detect);
  doc["reload"] = {{"applied", c.reloads_applied},
                   {"refused", c.reloads_refused},
                   {"last_error", c.last_reload_error}};
  if (c.fleet_enabled) {
    doc["fleet"] = {{"applied", c.fleet_applied},
                    {"refused", c.fleet_refused},
                    {"rolled_back", c.fleet_rolled_back}};
  }
  return doc.dump(2) + "\n";
}

}  // namespace weir::app
