// `weir config check FILE`: validates a config file the way `weir run --config FILE` loads it
// (schema defaults, then the file, then the whole-config rules) without starting anything, so an
// operator can check /etc/weir/weir.json before `systemctl restart weir`. Every problem is named
// by its key's path ("device_id: required, not set; upstream.broker.url: ..."). Exit codes: 0
// valid, 2 invalid or unreadable. `--print` also prints the effective config (secrets redacted).
#pragma once

namespace CLI {
class App;
}

namespace weir::app {

// Registers `config` (with `check`) on `app`; *exit_code receives the result.
void AddConfigCommand(CLI::App& app, int* exit_code);

}  // namespace weir::app
