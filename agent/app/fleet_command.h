// Operator commands for fleet control (agent/control/README.md): `weir config keygen|sign|push`
// and `weir fleet status`. They talk to the upstream broker the devices use; nothing here runs
// inside the agent.
#pragma once

#include <CLI/CLI.hpp>

namespace weir::app {

// Adds keygen, sign and push under the existing `config` subcommand, and the `fleet` subcommand.
// Call after AddConfigCommand.
void AddFleetCommands(CLI::App& app, int* exit_code);

}  // namespace weir::app
