#include "agent/app/run_command.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "agent/app/exit_codes.h"
#include "agent/app/fleet_host.h"
#include "agent/app/metrics_text.h"
#include "agent/app/run_config.h"
#include "agent/app/service_notify.h"
#include "agent/app/status_file.h"
#include "agent/app/status_summary.h"
#include "agent/config/config.h"
#include "agent/config/diff.h"
#include "agent/core/clock.h"
#include "agent/core/logging.h"
#include "agent/pipeline/pipeline.h"
#include "agent/store/intake_journal.h"
#include "agent/transport/paho_mqtt_client.h"
#include "platform/files.h"
#include "platform/instance_lock.h"
#include "platform/sd_notify.h"
#include "platform/signals.h"

extern char** environ;

namespace weir::app {
namespace {

constexpr size_t kMaxConfigFileBytes = 1 << 20;

std::vector<std::string> Environment() {
  std::vector<std::string> entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) entries.emplace_back(*e);
  return entries;
}

// The flags as config overrides, in a fixed order, each naming its flag in errors.
Result<std::vector<config::Override>> FlagOverrides(const RunFlags& flags) {
  std::vector<config::Override> out;
  auto add = [&](const std::string& value, const char* path, const char* origin) {
    if (!value.empty()) out.push_back({path, value, origin});
  };
  add(flags.device, "device_id", "--device");
  add(flags.local, "ingest.local.url", "--local");
  add(flags.upstream, "upstream.broker.url", "--upstream");
  if (!flags.state.empty()) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(flags.state, ec);
    add(ec ? flags.state : abs.lexically_normal().string(), "store.state_dir", "--state");
  }
  add(flags.format, "upstream.format", "--format");
  if (!flags.subscribe.empty()) {
    nlohmann::json subs = nlohmann::json::array();
    for (const std::string& topic : flags.subscribe) subs.push_back({{"topic", topic}});
    out.push_back({"ingest.subscriptions", subs.dump(), "--subscribe"});
  }
  for (const std::string& kv : flags.set) {
    WEIR_ASSIGN_OR_RETURN(config::Override o, config::ParseOverride(kv, "--set"));
    out.push_back(std::move(o));
  }
  return out;
}

Result<config::Sources> LocalSources(const RunFlags& flags) {
  config::Sources sources;
  if (!flags.config_file.empty()) {
    auto text = platform::ReadFile(flags.config_file, kMaxConfigFileBytes);
    if (!text.ok()) {
      return InvalidArgument(flags.config_file + ": " + text.status().message());
    }
    sources.file_json = std::move(*text);
    sources.file_name = flags.config_file;
  }
  sources.environ_entries = Environment();
  WEIR_ASSIGN_OR_RETURN(sources.flags, FlagOverrides(flags));
  return sources;
}

// file < fleet group < fleet device < environment < flags (agent/control/admission.h); without
// `layers`, the local config alone.
Result<config::AgentConfig> LoadConfig(const RunFlags& flags,
                                       const control::RemoteLayers* layers = nullptr) {
  WEIR_ASSIGN_OR_RETURN(config::Sources sources, LocalSources(flags));
  if (layers == nullptr) return config::Load(sources);
  control::Composed c = control::Compose(sources, *layers);
  if (!c.ok()) return InvalidArgument(c.refusal.detail);
  return std::move(*c.config);
}

// Counts starts of the agent on this state directory: the envelope's boot_epoch, which tells a
// consumer that the device restarted. A missing or unreadable file starts again from 1.
uint64_t NextBootEpoch(const std::filesystem::path& state_dir) {
  uint64_t epoch = 0;
  if (auto text = platform::ReadFile(BootEpochPathIn(state_dir), 64); text.ok()) {
    epoch = std::strtoull(text->c_str(), nullptr, 10);
  }
  ++epoch;
  const Status s =
      platform::WriteFileAtomically(BootEpochPathIn(state_dir), std::to_string(epoch) + "\n");
  if (!s.ok()) LogWarn("agent", "boot epoch not saved: " + s.ToString());
  return epoch;
}

// The detect section as the pipeline's options; defects are published on the local broker at
// <prefix>/<device>/defects. The stage always exists, so that a reload can turn it on or off.
Result<pipeline::DetectStageOptions> DetectOptionsFrom(const config::AgentConfig& config) {
  WEIR_ASSIGN_OR_RETURN(DetectSettings settings, DetectSettingsFrom(config));
  pipeline::DetectStageOptions o;
  o.enabled = settings.enabled;
  o.publish_local = settings.publish_local;
  o.engine = std::move(settings.engine);
  o.aggregates = std::move(settings.aggregates);
  o.local_topic = DefectsTopic(config);
  return o;
}

// Writes status.json and keeps the rates between calls.
class StatusWriter {
 public:
  StatusWriter(std::string device, std::filesystem::path path, std::filesystem::path metrics,
               const Clock& clock)
      : device_(std::move(device)),
        path_(std::move(path)),
        metrics_path_(std::move(metrics)),
        clock_(clock),
        start_(clock.Now()) {}

  // Fleet control's counters for the next Write.
  void NoteFleet(const control::ControlCounters& counters) {
    fleet_ = counters;
    fleet_enabled_ = true;
  }

  // Counts a SIGHUP's outcome for the next Write.
  void NoteReload(const Status& result) {
    if (result.ok()) {
      ++reloads_applied_;
    } else {
      ++reloads_refused_;
      last_reload_error_ = result.message();
    }
  }

  void Write(const pipeline::Pipeline& p, const std::string& state) {
    // No fsync of the directory each second: the file is advisory and rewritten constantly.
    const Status s = platform::WriteFileAtomically(path_, Render(p, state));
    if (!s.ok() && !warned_) {
      LogWarn("agent", "status file not written: " + s.ToString());
      warned_ = true;
    }
    if (metrics_path_.empty()) return;
    const Status m = platform::WriteFileAtomically(
        metrics_path_, RenderMetricsText(last_snapshot_, last_context_), 0644);
    if (!m.ok() && !metrics_warned_) {
      LogWarn("agent", "control.metrics_textfile not written: " + m.ToString());
      metrics_warned_ = true;
    }
  }

  // The status document (also published upstream by fleet control); updates the rates.
  std::string Render(const pipeline::Pipeline& p, const std::string& state) {
    const auto snap = p.Snapshot();
    const auto now = clock_.Now();
    StatusContext c;
    c.device_id = device_;
    c.state = state;
    c.now_us = clock_.WallMicros();
    c.uptime_s = std::chrono::duration<double>(now - start_).count();
    c.reloads_applied = reloads_applied_;
    c.reloads_refused = reloads_refused_;
    c.last_reload_error = last_reload_error_;
    c.fleet_enabled = fleet_enabled_;
    c.fleet_applied = fleet_.applied;
    c.fleet_refused = fleet_.refused;
    c.fleet_rolled_back = fleet_.rolled_back;
    const double dt = std::chrono::duration<double>(now - last_at_).count();
    if (has_last_ && dt > 0) {
      c.ingest_readings_per_s = static_cast<double>(snap.ingest_readings - last_ingest_) / dt;
      c.forward_readings_per_s = static_cast<double>(snap.forward.readings_acked - last_fwd_) / dt;
    }
    has_last_ = true;
    last_at_ = now;
    last_ingest_ = snap.ingest_readings;
    last_fwd_ = snap.forward.readings_acked;
    std::string json = RenderStatusJson(snap, c);
    last_snapshot_ = std::move(snap);
    last_context_ = std::move(c);
    return json;
  }

 private:
  const std::string device_;
  const std::filesystem::path path_;
  const std::filesystem::path metrics_path_;  // "" when off
  const Clock& clock_;
  const Clock::TimePoint start_;
  Clock::TimePoint last_at_{};
  bool has_last_ = false;
  uint64_t last_ingest_ = 0;
  uint64_t last_fwd_ = 0;
  uint64_t reloads_applied_ = 0;
  uint64_t reloads_refused_ = 0;
  std::string last_reload_error_;
  bool warned_ = false;
  bool metrics_warned_ = false;
  control::ControlCounters fleet_;
  bool fleet_enabled_ = false;
  pipeline::PipelineSnapshot last_snapshot_;
  StatusContext last_context_;
};

// What systemd is told about the pipeline (service_notify.h). A connect attempt has ended once
// the link connected or failed at least once.
ServiceHealth HealthOf(const pipeline::Pipeline& p, const ServiceNotifier& service,
                       const Clock& clock) {
  const pipeline::PipelineSnapshot s = p.Snapshot();
  ServiceHealth h;
  h.local = s.local;
  h.local_attempted = s.local_connects + s.local_connect_failures > 0;
  h.upstream = s.forward.state;
  h.upstream_attempted = s.forward.connects > 0 || !s.forward.last_error.empty();
  h.backlog_rows = s.forward.backlog_rows;
  const TimeMicros now_us = clock.WallMicros();
  if (s.forward.oldest_unsent_us != 0 && now_us > s.forward.oldest_unsent_us) {
    h.oldest_unsent_age_s = static_cast<double>(now_us - s.forward.oldest_unsent_us) / 1e6;
  }
  h.last_error = s.forward.last_error;
  h.stalled = p.StalledStage(clock.Now(), service.stall_limit());
  return h;
}

// Applies what is live of `next` (SIGHUP and fleet control share this path). OK when applied (or
// nothing changed); otherwise the error, with the running config kept.
Status ApplyLive(config::AgentConfig next, config::AgentConfig& current, pipeline::Pipeline& p) {
  const auto changes = config::Diff(current, next);
  if (changes.empty()) {
    LogInfo("agent", "reload: no changes");
    return Status::Ok();
  }
  WEIR_ASSIGN_OR_RETURN(auto routes, MakeRoutes(next));
  WEIR_ASSIGN_OR_RETURN(auto detect, DetectOptionsFrom(next));
  for (const config::Change& c : changes) {
    // The schema says which keys apply live (config.proto's (key).live).
    const bool live = c.apply == config::Apply::kLive;
    LogInfo("agent", "reload: " + c.path + " " + c.before + " -> " + c.after +
                         (live ? "" : " (applies at the next start)"));
  }
  if (auto level = ParseLogLevel(next.log_level())) SetLogLevel(*level);
  // The detection engine is rebuilt (its per-sensor state starts over) only when detect.* changed.
  std::optional<pipeline::DetectStageOptions> new_detect;
  if (std::any_of(changes.begin(), changes.end(),
                  [](const config::Change& c) { return c.path.rfind("detect", 0) == 0; })) {
    new_detect = std::move(detect);
  }
  p.Reload(std::move(routes), next.ingest().max_payload_bytes(), ForwarderSettingsFrom(next),
           std::move(new_detect));
  current = std::move(next);
  return Status::Ok();
}

// Re-reads the config (file < fleet layers < environment < flags) and applies what is live. OK when
// applied (or nothing changed); otherwise the error, with the running config kept (the caller logs
// it).
Status Reload(const RunFlags& flags, const control::FleetControl* control,
              config::AgentConfig& current, pipeline::Pipeline& p) {
  const control::RemoteLayers layers = control ? control->layers() : control::RemoteLayers{};
  WEIR_ASSIGN_OR_RETURN(auto next, LoadConfig(flags, control ? &layers : nullptr));
  return ApplyLive(std::move(next), current, p);
}

// Opens fleet control when control.enabled, and layers its committed documents into `config`.
// Fleet control failing to open is logged, and the agent runs on its local config without it.
std::unique_ptr<control::FleetControl> OpenFleetControl(const RunFlags& flags, FleetHost& host,
                                                        uint64_t boot_epoch,
                                                        config::AgentConfig& config) {
  if (!config.control().enabled()) return nullptr;
  auto opened = control::FleetControl::Open(ControlOptionsFrom(config, boot_epoch), host,
                                            ControlClientFactory(config), SystemClock::Instance());
  if (!opened.ok()) {
    LogError("agent", "fleet control is off: " + opened.status().ToString());
    return nullptr;
  }
  for (const std::string& note : (*opened)->notes()) LogWarn("control", note);
  const control::RemoteLayers layers = (*opened)->layers();
  if (layers.group || layers.device) {
    auto effective = LoadConfig(flags, &layers);
    if (effective.ok()) {
      config = std::move(*effective);
    } else {
      LogError("agent", "fleet layers not used: " + effective.status().message());
    }
  }
  return std::move(*opened);
}

// After the first SIGTERM: a second one (or SIGINT) ends the process at once. Committed records
// are safe in the log whatever happens; the drain only shortens the next start's backlog.
void WatchForSecondSignal(std::atomic<bool>& done) {
  platform::SignalWaiter waiter;
  while (!done.load()) {
    auto sig = waiter.Wait(std::chrono::milliseconds(100));
    if (sig.ok() && sig->has_value() && **sig != SIGHUP) {
      LogWarn("agent", "second signal: exiting now without finishing the drain");
      std::_Exit(kExitInterrupted);
    }
  }
}

}  // namespace

int RunAgent(const RunFlags& flags) {
  if (const Status s = platform::BlockShutdownSignals(); !s.ok()) {
    std::fprintf(stderr, "weir run: %s\n", s.ToString().c_str());
    return kExitFailure;
  }
  auto loaded = LoadConfig(flags);
  if (!loaded.ok()) {
    std::fprintf(stderr, "weir run: %s\n", loaded.status().message().c_str());
    return kExitUsage;
  }
  config::AgentConfig config = std::move(*loaded);
  if (auto level = ParseLogLevel(config.log_level())) SetLogLevel(*level);
  const std::filesystem::path state_dir = config.store().state_dir();
  if (const Status s = platform::EnsureDirectory(state_dir); !s.ok()) {
    LogError("agent", "store.state_dir: " + s.ToString());
    return kExitFailure;
  }
  auto lock = platform::InstanceLock::Acquire(state_dir);
  if (!lock.ok()) {
    LogError("agent", lock.status().ToString());
    return lock.status().code() == StatusCode::kAlreadyExists ? kExitLocked : kExitFailure;
  }
  const Clock& clock = SystemClock::Instance();
  const uint64_t boot_epoch = NextBootEpoch(state_dir);
  StatusWriter status(config.device_id(), StatusPathIn(state_dir),
                      config.control().metrics_textfile(), clock);
  pipeline::Pipeline* running = nullptr;  // set once the pipeline runs
  FleetHost host([&flags] { return LocalSources(flags); },
                 [&config, &running](const config::AgentConfig& next) {
                   if (running == nullptr) return FailedPrecondition("the pipeline is not running");
                   return ApplyLive(next, config, *running);
                 },
                 [&status, &running] {
                   return running ? status.Render(*running, "running") : std::string("{}");
                 },
                 clock);
  std::unique_ptr<control::FleetControl> control =
      OpenFleetControl(flags, host, boot_epoch, config);
  auto log = store::Log::Open(LogOptionsFrom(config), clock);
  if (!log.ok()) {
    LogError("agent", "opening the log: " + log.status().ToString());
    return log.status().code() == StatusCode::kAlreadyExists ? kExitLocked : kExitFailure;
  }
  for (const std::string& note : (*log)->recovery().notes) LogWarn("store", note);

  auto local = transport::NewPahoMqttClient(LocalMqttOptions(config));
  if (!local.ok()) {
    LogError("agent", "ingest.local: " + local.status().ToString());
    return kExitUsage;
  }
  auto upstream = transport::NewPahoMqttClient(UpstreamMqttOptions(config));
  if (!upstream.ok()) {
    LogError("agent", "upstream.broker: " + upstream.status().ToString());
    return kExitUsage;
  }
  auto routes = MakeRoutes(config);
  if (!routes.ok()) {
    LogError("agent", routes.status().message());
    return kExitUsage;
  }

  pipeline::PipelineOptions options;
  options.routes = std::move(*routes);
  options.max_payload_bytes = config.ingest().max_payload_bytes();
  options.forward.device_id = config.device_id();
  options.forward.boot_epoch = boot_epoch;
  options.forward.data_topic = DataTopic(config);
  options.forward.defects_topic = DefectsTopic(config);
  options.forward.settings = ForwarderSettingsFrom(config);
  auto detect = DetectOptionsFrom(config);
  if (!detect.ok()) {
    LogError("agent", detect.status().message());
    return kExitUsage;
  }
  options.detect = std::move(*detect);
  options.ingest_queue_budget_bytes = config.ingest().queue_budget_bytes();
  options.journal_max_bytes = config.ingest().journal_max_bytes();
  // The intake journal closes the window between Paho's PUBACK and the commit (ingest.h). Without
  // it weir still runs, as before it existed: said loudly, and shown in status.
  auto journal =
      store::IntakeJournal::Open({.dir = state_dir / "intake"}, (*log)->committed_intake_mark());
  if (!journal.ok()) {
    LogError("agent",
             "the intake journal cannot be opened, running without it (a kill -9 may "
             "lose the last group commit's messages): " +
                 journal.status().ToString());
  }
  auto pipeline = pipeline::Pipeline::Start(std::move(options), std::move(*log), std::move(*local),
                                            std::move(*upstream), clock,
                                            journal.ok() ? std::move(*journal) : nullptr);
  if (!pipeline.ok()) {
    LogError("agent", "start: " + pipeline.status().ToString());
    return kExitFailure;
  }
  pipeline::Pipeline& p = **pipeline;
  LogInfo("agent", "running: device " + config.device_id() + ", local " +
                       config.ingest().local().url() + ", upstream " +
                       config.upstream().broker().url() + ", state " + state_dir.string());

  status.Write(p, "running");
  ServiceNotifier service(platform::SystemdNotifier::FromEnvironment(), clock);
  running = &p;
  host.Attach(&p, service.stall_limit());
  bool reload_deferred = false;  // a SIGHUP during a fleet trial waits for its end
  platform::SignalWaiter waiter;
  int exit_code = kExitOk;
  auto next_status = clock.Now() + std::chrono::seconds(1);
  auto reload = [&] {
    const Status reloaded = Reload(flags, control.get(), config, p);
    if (!reloaded.ok()) {
      LogError("agent", "reload refused, keeping the running config: " + reloaded.message());
    }
    status.NoteReload(reloaded);
    status.Write(p, "running");  // at once: whoever sent the signal can see the outcome
  };
  while (true) {
    if (control) {
      control->Poll();
      status.NoteFleet(control->counters());
      if (reload_deferred && !control->in_trial()) {
        reload_deferred = false;
        reload();
      }
    }
    if (service.enabled()) service.Update(HealthOf(p, service, clock));
    const auto wait = service.NextUpdateIn(
        std::chrono::duration_cast<std::chrono::milliseconds>(next_status - clock.Now()));
    auto sig = waiter.Wait(std::max(wait, std::chrono::milliseconds(1)));
    if (sig.ok() && sig->has_value()) {
      if (**sig == SIGHUP) {
        if (control) control->ReloadKeys();
        if (control && control->in_trial()) {
          reload_deferred = true;
        } else {
          reload();
        }
        continue;
      }
      LogInfo("agent", std::string("signal ") + strsignal(**sig) + ": draining");
      break;
    }
    if (auto fatal = p.fatal_error()) {
      exit_code = kExitFailure;
      break;
    }
    if (clock.Now() >= next_status) {
      status.Write(p, "running");
      next_status = clock.Now() + std::chrono::seconds(1);
    }
  }
  if (control) control->Stop(std::chrono::seconds(1));
  status.Write(p, "draining");
  service.Stopping(exit_code == kExitOk ? "draining" : "stopping after a store error");
  std::atomic<bool> done{false};
  std::thread watcher(WatchForSecondSignal, std::ref(done));
  const Status shutdown = p.Shutdown(flags.drain_timeout);
  done.store(true);
  watcher.join();
  status.Write(p, "stopped");
  if (!shutdown.ok()) {
    LogError("agent", "the log reported an error at shutdown: " + shutdown.ToString());
    exit_code = kExitFailure;
  }
  LogInfo("agent", "stopped");
  return exit_code;
}

namespace {

// `weir status`: the summary, or with `raw` the file itself. 1 when the file cannot be read or
// (for the summary) parsed.
int PrintStatus(const std::string& state_dir, bool raw) {
  auto text = platform::ReadFile(StatusPathIn(state_dir), 1 << 20);
  if (!text.ok()) {
    std::fprintf(stderr, "weir status: %s (is weir run using --state %s?)\n",
                 text.status().message().c_str(), state_dir.c_str());
    return kExitFailure;
  }
  if (raw) {
    std::fwrite(text->data(), 1, text->size(), stdout);
    return kExitOk;
  }
  auto summary = RenderStatusSummary(*text, SystemClock::Instance().WallMicros());
  if (!summary.ok()) {
    std::fprintf(stderr, "weir status: %s: %s\n", StatusPathIn(state_dir).c_str(),
                 summary.status().message().c_str());
    return kExitFailure;
  }
  std::fwrite(summary->data(), 1, summary->size(), stdout);
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RunFlags>();
  auto drain_ms = std::make_shared<int64_t>(5000);
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run the agent: take readings from the local broker, keep them in the on-device log, "
      "forward them upstream in order. Flags override the config file and the environment.");
  cmd->add_option("--config,-c", flags->config_file, "JSON config file (e.g. /etc/weir/weir.json)");
  cmd->add_option("--local", flags->local, "Local broker URL (ingest.local.url)");
  cmd->add_option("--subscribe", flags->subscribe,
                  "Topic filter of JSON readings, repeatable (ingest.subscriptions)");
  cmd->add_option("--upstream", flags->upstream, "Upstream broker URL (upstream.broker.url)");
  cmd->add_option("--device", flags->device, "Device id (device_id)");
  cmd->add_option("--state", flags->state, "State directory (store.state_dir)");
  cmd->add_option("--format", flags->format,
                  "Upstream encoding: protobuf or json (upstream.format)");
  cmd->add_option("--set", flags->set, "Any config key: --set store.quota_bytes=500000000");
  cmd->add_option("--drain-timeout-ms", *drain_ms,
                  "On SIGTERM, how long to wait for the upstream to take the backlog")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{600000}));
  cmd->callback([flags, drain_ms, exit_code] {
    flags->drain_timeout = std::chrono::milliseconds(*drain_ms);
    *exit_code = RunAgent(*flags);
  });

  auto state = std::make_shared<std::string>("/var/lib/weir");
  auto raw = std::make_shared<bool>(false);
  CLI::App* st = app.add_subcommand(
      "status", "Summarize the running agent's status file (<state>/status.json) for people");
  st->add_option("--state", *state, "State directory")->capture_default_str();
  st->add_flag("--json", *raw, "Print the status file as it is (for scripts)");
  st->callback([state, raw, exit_code] { *exit_code = PrintStatus(*state, *raw); });
}

}  // namespace weir::app
