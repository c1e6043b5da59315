// `weir log stats`: what the log holds, for people (aligned text) or scripts (--json).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/app/exit_codes.h"
#include "agent/app/log_cli.h"
#include "agent/app/log_open.h"
#include "agent/app/store_json.h"
#include "agent/codec/timestamp.h"

namespace weir::app {

namespace {

double BytesPerReading(const store::LogStats& s) {
  return s.readings.readings == 0
             ? 0.0
             : static_cast<double>(s.stored_bytes) / static_cast<double>(s.readings.readings);
}

std::string TimeText(TimeMicros t) { return t == 0 ? "-" : codec::FormatRfc3339(t); }

nlohmann::json LaneJson(const store::LaneStats& l) {
  return {{"rows", l.rows},           {"chunks", l.chunks},     {"defects", l.defects},
          {"gaps", l.gaps},           {"readings", l.readings}, {"gap_records", l.gap_records},
          {"first_seq", l.first_seq}, {"last_seq", l.last_seq}, {"oldest_us", l.oldest_us},
          {"newest_us", l.newest_us}};
}

nlohmann::json StatsJson(const std::filesystem::path& path, const store::LogStats& s,
                         const store::RecoveryReport* recovery, const std::string& read_only) {
  nlohmann::json cursors = nlohmann::json::array();
  for (const auto& c : s.cursors) {
    cursors.push_back({{"name", c.name},
                       {"lane", std::string(store::LaneName(c.lane))},
                       {"acked_seq", c.acked_seq},
                       {"unsent_rows", c.unsent_rows},
                       {"oldest_unsent_seq", c.oldest_unsent_seq},
                       {"oldest_unsent_us", c.oldest_unsent_us}});
  }
  nlohmann::json j = {
      {"path", path.string()},
      {"log_id", s.log_id.ToHex()},
      {"readings", s.readings.readings},
      {"defects", s.defects.defects},
      {"stored_bytes", s.stored_bytes},
      {"live_bytes", s.live_bytes},
      {"raw_bytes", s.raw_bytes},
      {"encoded_bytes", s.encoded_bytes},
      {"bytes_per_reading", BytesPerReading(s)},
      {"compression_ratio", s.compression_ratio},
      {"next_seq", s.next_seq},
      {"quarantined_rows", s.quarantined_rows},
      {"lanes", {{"readings", LaneJson(s.readings)}, {"defects", LaneJson(s.defects)}}},
      {"cursors", cursors},
      {"evictions", EvictionsJson(s.evictions)},
      {"gaps",
       {{"evicted", s.evicted_gaps},
        {"evicted_records", s.evicted_gap_records},
        {"damaged", s.damaged_gaps},
        {"damaged_records", s.damaged_gap_records}}},
      {"bytes", UsageJson(s.usage)},
      {"dead_letters",
       {{"rows", s.dead_letters.rows},
        {"total", s.dead_letters.total},
        {"by_reason", s.dead_letters.by_reason}}},
      {"read_only", !read_only.empty()},
  };
  if (recovery != nullptr) {
    j["recovery"] = RecoveryJson(*recovery);
  }
  return j;
}

void PrintLane(const char* name, const store::LaneStats& l) {
  std::printf("%-14s %llu rows (%llu chunks, %llu defects, %llu gaps), seq %llu..%llu\n", name,
              static_cast<unsigned long long>(l.rows), static_cast<unsigned long long>(l.chunks),
              static_cast<unsigned long long>(l.defects), static_cast<unsigned long long>(l.gaps),
              static_cast<unsigned long long>(l.first_seq),
              static_cast<unsigned long long>(l.last_seq));
}

void PrintText(const std::filesystem::path& path, const store::LogStats& s,
               const store::RecoveryReport* recovery, const std::string& read_only) {
  std::printf("%-14s %s\n", "log", path.c_str());
  std::printf("%-14s %s\n", "log id",
              s.log_id.empty() ? "none (written before log ids)" : s.log_id.ToHex().c_str());
  std::printf("%-14s %llu\n", "readings", static_cast<unsigned long long>(s.readings.readings));
  std::printf("%-14s %llu\n", "defects", static_cast<unsigned long long>(s.defects.defects));
  std::printf("%-14s %llu (file + WAL), %llu live\n", "stored bytes",
              static_cast<unsigned long long>(s.stored_bytes),
              static_cast<unsigned long long>(s.live_bytes));
  std::printf("%-14s %.3f\n", "bytes/reading", BytesPerReading(s));
  std::printf("%-14s %.1fx (%llu raw -> %llu encoded bytes)\n", "compression", s.compression_ratio,
              static_cast<unsigned long long>(s.raw_bytes),
              static_cast<unsigned long long>(s.encoded_bytes));
  PrintLane("readings lane", s.readings);
  PrintLane("defects lane", s.defects);
  std::printf("%-14s %s .. %s\n", "event time", TimeText(s.readings.oldest_us).c_str(),
              TimeText(s.readings.newest_us).c_str());
  std::printf("%-14s %llu\n", "next seq", static_cast<unsigned long long>(s.next_seq));
  if (s.cursors.empty()) std::printf("%-14s none\n", "cursors");
  for (const auto& c : s.cursors) {
    std::printf("%-14s %s/%s acked %llu, %llu rows unsent, oldest unsent seq %llu at %s\n",
                "cursor", c.name.c_str(), std::string(store::LaneName(c.lane)).c_str(),
                static_cast<unsigned long long>(c.acked_seq),
                static_cast<unsigned long long>(c.unsent_rows),
                static_cast<unsigned long long>(c.oldest_unsent_seq),
                TimeText(c.oldest_unsent_us).c_str());
  }
  std::printf("%-14s %llu readings, %llu defects evicted under quota\n", "evicted",
              static_cast<unsigned long long>(s.evictions.readings_evicted),
              static_cast<unsigned long long>(s.evictions.defects_evicted));
  std::printf("%-14s %llu evicted (%llu records), %llu damaged (%llu records)\n", "gap records",
              static_cast<unsigned long long>(s.evicted_gaps),
              static_cast<unsigned long long>(s.evicted_gap_records),
              static_cast<unsigned long long>(s.damaged_gaps),
              static_cast<unsigned long long>(s.damaged_gap_records));
  std::printf("%-14s %llu rows; trimmed %llu rows and %llu files (%llu bytes)\n", "quarantined",
              static_cast<unsigned long long>(s.quarantined_rows),
              static_cast<unsigned long long>(s.evictions.quarantine_rows_trimmed),
              static_cast<unsigned long long>(s.evictions.quarantine_files_trimmed),
              static_cast<unsigned long long>(s.evictions.quarantine_bytes_trimmed));
  const store::UsageBytes& u = s.usage;
  std::printf(
      "%-14s readings %llu, defects %llu, dead letters %llu, quarantine %llu rows + %llu "
      "files\n",
      "bytes", static_cast<unsigned long long>(u.readings),
      static_cast<unsigned long long>(u.defects), static_cast<unsigned long long>(u.dead_letters),
      static_cast<unsigned long long>(u.quarantine_rows),
      static_cast<unsigned long long>(u.quarantine_files));
  std::printf("%-14s %llu ever, %llu kept", "dead letters",
              static_cast<unsigned long long>(s.dead_letters.total),
              static_cast<unsigned long long>(s.dead_letters.rows));
  const char* sep = ": ";
  for (const auto& [code, n] : s.dead_letters.by_reason) {
    std::printf("%s%s %llu", sep, code.c_str(), static_cast<unsigned long long>(n));
    sep = ", ";
  }
  std::printf("\n");
  if (recovery != nullptr) {
    if (recovery->integrity_ok && recovery->notes.empty()) {
      std::printf("%-14s ok\n", "integrity");
    } else {
      std::printf(
          "%-14s damage found and set aside: %llu rows (%llu readings) quarantined, "
          "%llu salvaged, %llu damaged gap(s)%s\n",
          "integrity", static_cast<unsigned long long>(recovery->rows_quarantined),
          static_cast<unsigned long long>(recovery->readings_quarantined),
          static_cast<unsigned long long>(recovery->rows_salvaged),
          static_cast<unsigned long long>(recovery->damaged_gaps),
          recovery->file_quarantined
              ? (", file moved to " + recovery->quarantine_dir.string()).c_str()
              : "");
      for (const auto& note : recovery->notes) std::printf("%-14s %s\n", "", note.c_str());
    }
  } else {
    std::printf("%-14s not checked: opened read-only (%s)\n", "integrity", read_only.c_str());
  }
}

}  // namespace

int RunLogStats(const LogStatsOptions& options) {
  auto opened = OpenLogForInspection(options.log);
  if (!opened.ok()) {
    std::fprintf(stderr, "weir log stats: %s\n", opened.status().ToString().c_str());
    return opened.status().code() == StatusCode::kNotFound ? kExitUsage : kExitFailure;
  }
  auto stats = opened->Stats();
  if (!stats.ok()) {
    std::fprintf(stderr, "weir log stats: %s\n", stats.status().ToString().c_str());
    return kExitFailure;
  }
  const store::RecoveryReport* recovery = opened->writer ? &opened->writer->recovery() : nullptr;
  // Notes and cursor names from a damaged file may hold invalid UTF-8: replace, never throw.
  if (options.json) {
    std::printf("%s\n", StatsJson(options.log, *stats, recovery, opened->read_only_reason)
                            .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else {
    PrintText(options.log, *stats, recovery, opened->read_only_reason);
  }
  return kExitOk;
}

}  // namespace weir::app
