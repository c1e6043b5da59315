#include "agent/app/store_json.h"

#include <string>

namespace weir::app {

nlohmann::json EvictionsJson(const store::EvictionStats& e) {
  return {{"acked_rows_deleted", e.acked_rows_deleted},
          {"rows_evicted", e.rows_evicted},
          {"readings_evicted", e.readings_evicted},
          {"defects_evicted", e.defects_evicted},
          {"bytes_evicted", e.bytes_evicted},
          {"quarantine_rows_trimmed", e.quarantine_rows_trimmed},
          {"quarantine_files_trimmed", e.quarantine_files_trimmed},
          {"quarantine_bytes_trimmed", e.quarantine_bytes_trimmed},
          {"dead_letters_trimmed", e.dead_letters_trimmed},
          {"dead_letter_bytes_trimmed", e.dead_letter_bytes_trimmed}};
}

nlohmann::json UsageJson(const store::UsageBytes& u) {
  return {{"readings", u.readings},
          {"defects", u.defects},
          {"dead_letters", u.dead_letters},
          {"quarantine_rows", u.quarantine_rows},
          {"quarantine_files", u.quarantine_files},
          {"pages_in_use", u.pages_in_use},
          {"quota_counted", u.quota_counted},
          {"filesystem_available", u.filesystem_available},
          {"min_free_bytes", u.min_free_bytes}};
}

nlohmann::json RecoveryJson(const store::RecoveryReport& r) {
  return {{"integrity_ok", r.integrity_ok},
          {"file_quarantined", r.file_quarantined},
          {"quarantine_dir", r.quarantine_dir.string()},
          {"rows_salvaged", r.rows_salvaged},
          {"rows_quarantined", r.rows_quarantined},
          {"readings_quarantined", r.readings_quarantined},
          {"damaged_gaps", r.damaged_gaps},
          {"damaged_sequences", r.damaged_sequences},
          {"transient_retries", r.transient_retries},
          {"last_transient_error", r.last_transient_error},
          {"opened_without_space", r.opened_without_space},
          {"notes", r.notes}};
}

}  // namespace weir::app
