// The `weir` command: parses the command line and runs one subcommand. The composition root:
// the only place that builds concrete objects of every module.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "agent/app/config_command.h"
#include "agent/app/detect_command.h"
#include "agent/app/exit_codes.h"
#include "agent/app/fleet_command.h"
#include "agent/app/log_commands.h"
#include "agent/app/run_command.h"
#include "agent/app/simulate_command.h"
#include "agent/app/sink_command.h"
#include "platform/log_output.h"

#ifndef WEIR_VERSION
#define WEIR_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  // Under systemd, stderr is the journal: lines carry their priority and no time stamp.
  weir::platform::SetUpProcessLogging();
  CLI::App app{
      "weir: edge IoT ingestion agent. Collects sensor readings, detects defects on the gateway, "
      "keeps every reading in a crash-safe compressed log and forwards it upstream in order.",
      "weir"};
  app.set_version_flag("--version", WEIR_VERSION);
  app.require_subcommand(1);
  int exit_code = weir::app::kExitOk;
  weir::app::AddRunCommand(app, &exit_code);
  weir::app::AddConfigCommand(app, &exit_code);
  weir::app::AddFleetCommands(app, &exit_code);
  weir::app::AddLogCommands(app, &exit_code);
  weir::app::AddDetectCommand(app, &exit_code);
  weir::app::AddSimulateCommand(app, &exit_code);
  weir::app::AddSinkCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; every other parse error is a usage error (exit 2), with CLI11's
    // message naming the flag.
    const int rc = app.exit(e);
    return rc == 0 ? weir::app::kExitOk : weir::app::kExitUsage;
  }
  return exit_code;
}
