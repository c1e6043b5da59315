// nab_detect: a small driver for `weir detect`'s RunDetect, so the NAB benchmark runs without the
// full `weir` binary: nab_detect INPUT -o OUTPUT [weir detect options].
#include <CLI/CLI.hpp>

#include "agent/app/detect_command.h"

int main(int argc, char** argv) {
  CLI::App app("Runs weir's detectors offline (the `weir detect` subcommand)");
  int exit_code = 0;
  weir::app::AddDetectCommand(app, &exit_code);
  app.require_subcommand(1);
  // Accept both `nab_detect detect IN -o OUT` and `nab_detect IN -o OUT`.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args.front() != "detect") args.insert(args.begin(), "detect");
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}
