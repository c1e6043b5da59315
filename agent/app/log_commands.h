// `weir log ...`: inspect (stats), export and import the on-device log from the command line.
#pragma once

#include <CLI/CLI.hpp>

namespace weir::app {

// Registers `log stats`, `log export` and `log import` under `app`. The chosen command's exit
// code (see exit_codes.h) is written to *exit_code when it runs; `exit_code` must outlive parsing.
void AddLogCommands(CLI::App& app, int* exit_code);

}  // namespace weir::app
