// Registration of the `weir log` subcommands with CLI11; the work is in log_*.cc.
#include "agent/app/log_commands.h"

#include <memory>

#include "agent/app/log_cli.h"

namespace weir::app {

namespace {

CLI::Option* AddLogPathOption(CLI::App* cmd, std::filesystem::path* path) {
  return cmd->add_option("--log", *path, "The log file (SQLite)")->capture_default_str();
}

void AddStats(CLI::App* log, int* exit_code) {
  auto opts = std::make_shared<LogStatsOptions>();
  CLI::App* cmd = log->add_subcommand(
      "stats",
      "Show what the log holds: records, readings, stored bytes, bytes per reading, compression "
      "ratio, sequences, cursors and the oldest unsent record, gaps and quarantine. A damaged "
      "log is repaired on the way (damaged parts quarantined) unless an agent holds it.");
  AddLogPathOption(cmd, &opts->log);
  cmd->add_flag("--json", opts->json, "Print one JSON object (for scripts)");
  cmd->callback([opts, exit_code] { *exit_code = RunLogStats(*opts); });
}

void AddExport(CLI::App* log, int* exit_code) {
  auto opts = std::make_shared<LogExportOptions>();
  CLI::App* cmd = log->add_subcommand(
      "export", "Write readings (and defects, gaps) from the log as JSON lines or CSV");
  AddLogPathOption(cmd, &opts->log);
  cmd->add_option("--format", opts->format, "Output format")
      ->check(CLI::IsMember({"jsonl", "csv"}))
      ->capture_default_str();
  cmd->add_option("--lane", opts->lane, "Which lane to export (csv: readings only)")
      ->check(CLI::IsMember({"readings", "defects", "all"}))
      ->capture_default_str();
  cmd->add_option("--from", opts->from,
                  "Earliest event time, RFC 3339 (2024-05-01T00:00:00Z) or epoch seconds");
  cmd->add_option("--to", opts->to, "Latest event time (inclusive), same forms as --from");
  cmd->add_option("--from-seq", opts->from_seq, "First sequence number (inclusive)");
  cmd->add_option("--to-seq", opts->to_seq, "Last sequence number (inclusive)");
  cmd->add_option("--sensor", opts->sensor, "Only this sensor id");
  cmd->add_option("-o,--output", opts->output, "Output file (default: standard output)");
  cmd->add_flag("!--no-progress", opts->progress, "Do not draw a progress bar");
  cmd->callback([opts, exit_code] { *exit_code = RunLogExport(*opts); });
}

void AddImport(CLI::App* log, int* exit_code) {
  auto opts = std::make_shared<LogImportOptions>();
  CLI::App* cmd = log->add_subcommand(
      "import",
      "Import CSV (timestamp,value[,sensor], as in NAB) or JSON lines files into a log. The "
      "sensor id is the file name without extension unless a sensor column or --sensor gives "
      "it. Bad lines are reported with their line number and skipped (exit code 2 at the end), "
      "or stop the import with --strict; everything accepted is committed.");
  AddLogPathOption(cmd, &opts->log);
  cmd->add_option("files", opts->files, "Input files")->required()->check(CLI::ExistingFile);
  cmd->add_option("--format", opts->format, "Input format (auto: .csv is CSV, else JSON lines)")
      ->check(CLI::IsMember({"auto", "csv", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--sensor", opts->sensor, "Sensor id for every reading without one");
  cmd->add_option("--epoch-unit", opts->epoch_unit, "Unit of integer CSV timestamps")
      ->check(CLI::IsMember({"s", "ms", "us", "ns"}))
      ->capture_default_str();
  cmd->add_option("--batch", opts->batch, "Readings per committed chunk")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  cmd->add_flag("--strict", opts->strict, "Stop at the first bad line");
  cmd->add_flag("!--no-progress", opts->progress, "Do not draw a progress bar");
  cmd->callback([opts, exit_code] { *exit_code = RunLogImport(*opts); });
}

void AddDeadLetters(CLI::App* log, int* exit_code) {
  auto opts = std::make_shared<LogDeadLettersOptions>();
  CLI::App* cmd = log->add_subcommand(
      "dead-letters",
      "Show the payloads weir refused (bad local payloads, messages the upstream kept "
      "rejecting): one line each with id, time, source, reason code, topic, reason and the "
      "first bytes of the payload (non-printable bytes as \\xNN), then the counts per reason.");
  AddLogPathOption(cmd, &opts->log);
  cmd->add_flag("--json", opts->json, "Print one JSON object (for scripts)");
  cmd->add_option("--limit", opts->limit, "Show the newest N matching letters (0: all)")
      ->capture_default_str();
  cmd->add_option("--reason", opts->reason, "Only letters with this reason code (e.g. malformed)");
  cmd->callback([opts, exit_code] { *exit_code = RunLogDeadLetters(*opts); });
}

}  // namespace

void AddLogCommands(CLI::App& app, int* exit_code) {
  CLI::App* log = app.add_subcommand("log", "Inspect, export and import the on-device log");
  log->require_subcommand(1);
  AddStats(log, exit_code);
  AddExport(log, exit_code);
  AddImport(log, exit_code);
  AddDeadLetters(log, exit_code);
}

}  // namespace weir::app
