#include "agent/app/config_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "agent/app/exit_codes.h"
#include "agent/config/config.h"
#include "platform/files.h"

namespace weir::app {
namespace {

constexpr size_t kMaxConfigFileBytes = 1 << 20;  // as `weir run`

struct CheckFlags {
  std::string file;
  bool print = false;
};

int CheckConfig(const CheckFlags& flags) {
  auto text = platform::ReadFile(flags.file, kMaxConfigFileBytes);
  if (!text.ok()) {
    std::fprintf(stderr, "weir config check: %s: %s\n", flags.file.c_str(),
                 text.status().message().c_str());
    return kExitUsage;
  }
  config::Sources sources;
  sources.file_json = std::move(*text);
  sources.file_name = flags.file;
  auto loaded = config::Load(sources);
  if (!loaded.ok()) {
    std::fprintf(stderr, "weir config check: %s: %s\n", flags.file.c_str(),
                 loaded.status().message().c_str());
    return kExitUsage;
  }
  if (flags.print) {
    const std::string json = config::RenderJson(*loaded);
    std::fwrite(json.data(), 1, json.size(), stdout);
  }
  std::fprintf(stderr, "%s: valid (device %s, upstream %s)\n", flags.file.c_str(),
               loaded->device_id().c_str(), loaded->upstream().broker().url().c_str());
  return kExitOk;
}

}  // namespace

void AddConfigCommand(CLI::App& app, int* exit_code) {
  CLI::App* config = app.add_subcommand("config", "Check the configuration");
  config->require_subcommand(1);
  auto flags = std::make_shared<CheckFlags>();
  CLI::App* check = config->add_subcommand(
      "check",
      "Validate a config file as `weir run --config FILE` would load it (defaults, then the "
      "file), naming every key that is missing or invalid. Exit 0 when valid, 2 when not.");
  check->add_option("file", flags->file, "The JSON config file, e.g. /etc/weir/weir.json")
      ->required();
  check->add_flag("--print", flags->print, "Also print the effective config (secrets redacted)");
  check->callback([flags, exit_code] { *exit_code = CheckConfig(*flags); });
}

}  // namespace weir::app
