// `weir simulate`: the sensor fleet publisher; see simulate_command.h.
#include "agent/app/simulate_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <unordered_map>
#include <vector>

#include "agent/app/exit_codes.h"
#include "agent/app/signal_generator.h"
#include "agent/codec/timestamp.h"
#include "agent/core/backoff.h"
#include "agent/core/clock.h"
#include "agent/transport/paho_mqtt_client.h"
#include "platform/signals.h"

namespace weir::app {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// A bad flag: prints it naming the flag and returns the usage exit code.
int Usage(const std::string& flag, const std::string& problem) {
  std::cerr << "weir simulate: " << flag << ": " << problem << "\n";
  return kExitUsage;
}

std::string Topic(const std::string& pattern, std::string_view sensor) {
  std::string out = pattern;
  for (size_t at = out.find("{sensor}"); at != std::string::npos;
       at = out.find("{sensor}", at + sensor.size())) {
    out.replace(at, 8, sensor);
  }
  return out;
}

// The JSON payload; "n" is ignored by the parser and lets a consumer count what arrived.
std::string JsonPayload(const SimReading& r) {
  char buf[160];
  std::snprintf(
      buf, sizeof(buf), "{\"sensor\":\"%.*s\",\"ts\":%lld.%03lld,\"value\":%.6g,\"n\":%llu}",
      static_cast<int>(r.sensor.size()), r.sensor.data(), static_cast<long long>(r.time_us / 1000),
      static_cast<long long>(r.time_us % 1000), r.value, static_cast<unsigned long long>(r.n));
  return buf;
}

std::string Payload(const std::string& format, const SimReading& r) {
  char buf[160];
  if (format == "number") {
    std::snprintf(buf, sizeof(buf), "%.6g", r.value);
    return buf;
  }
  if (format == "line") {
    // The parser names this reading "<sensor>.value". n is a string field, which the parser
    // skips (weir stores numbers only), so it adds no series of its own.
    std::snprintf(buf, sizeof(buf), "%.*s value=%.6g,n=\"%llu\" %lld000",
                  static_cast<int>(r.sensor.size()), r.sensor.data(), r.value,
                  static_cast<unsigned long long>(r.n), static_cast<long long>(r.time_us));
    return buf;
  }
  return JsonPayload(r);
}

// One MQTT payload for `readings` (all of one batch): a JSON array, or lines of line protocol;
// a single reading is published as itself (an object, a line, a number), as before batches.
std::string BatchPayload(const std::string& format, std::span<const SimReading> readings) {
  if (readings.size() == 1) return Payload(format, readings[0]);
  std::string out;
  out.reserve(readings.size() * 96);
  const bool json = format == "json";
  if (json) out += '[';
  for (size_t i = 0; i < readings.size(); ++i) {
    if (i > 0) out += json ? ',' : '\n';
    out += Payload(format, readings[i]);
  }
  if (json) out += ']';
  return out;
}

// The most readings one message may carry: 1,000 JSON readings are about 80 KB, over the agent's
// default 64 KiB payload limit, so a larger batch would only measure rejections.
constexpr int kMaxBatch = 1000;

// Checks the options; on a problem prints it naming the flag and returns kExitUsage.
int Validate(const SimulateOptions& o) {
  if (o.sensors <= 0) return Usage("--sensors", "must be > 0");
  if (!(o.rate > 0) || !std::isfinite(o.rate)) return Usage("--rate", "must be > 0");
  if (o.count && *o.count == 0) return Usage("--count", "must be > 0");
  if (o.format != "json" && o.format != "number" && o.format != "line") {
    return Usage("--format", "must be json, number or line, not '" + o.format + "'");
  }
  if (o.topic.empty()) return Usage("--topic", "must not be empty");
  if (o.format == "number" && o.topic.find("{sensor}") == std::string::npos) {
    return Usage("--topic", "must contain {sensor} with --format number");
  }
  if (o.qos < 0 || o.qos > 2) return Usage("--qos", "must be 0, 1 or 2");
  if (o.batch < 1 || o.batch > kMaxBatch) {
    return Usage("--batch", "must be in [1, " + std::to_string(kMaxBatch) + "]");
  }
  if (o.batch > 1 && o.format == "number") {
    return Usage("--batch", "must be 1 with --format number (a bare number is one reading)");
  }
  if (!(o.fault_rate >= 0 && o.fault_rate <= 1)) return Usage("--fault-rate", "must be in [0, 1]");
  if (auto kinds = ParseFaultKinds(o.faults); !kinds.ok()) {
    return Usage("--faults", kinds.status().message());
  }
  if (!o.start_time.empty()) {
    if (auto t = codec::ParseTimestamp(o.start_time); !t.ok()) {
      return Usage("--start-time", t.status().message());
    }
  }
  if (o.dry_run && o.output.empty()) return Usage("-o", "required with --dry-run");
  if (!o.dry_run && !o.output.empty()) return Usage("-o", "only with --dry-run");
  if (o.dry_run && !o.count && !o.duration) {
    return Usage("--dry-run", "needs --count or --duration");
  }
  return kExitOk;
}

// Writes fault records as JSON lines when --faults-out is set.
class FaultSink {
 public:
  explicit FaultSink(const std::string& path) {
    if (!path.empty()) out_.open(path, std::ios::binary | std::ios::trunc);
    enabled_ = !path.empty();
  }
  bool ok() const { return !enabled_ || static_cast<bool>(out_); }
  void Write(SignalGenerator& gen) {
    for (const FaultRecord& f : gen.TakeFaults()) {
      if (!enabled_) continue;
      nlohmann::json j{{"sensor", f.sensor},
                       {"kind", FaultKindName(f.kind)},
                       {"start", codec::FormatRfc3339(f.start_us)},
                       {"end", codec::FormatRfc3339(f.end_us)},
                       {"start_us", f.start_us},
                       {"end_us", f.end_us}};
      out_ << j.dump() << '\n';
    }
  }
  bool Finish() {
    if (!enabled_) return true;
    out_.flush();
    return static_cast<bool>(out_);
  }

 private:
  bool enabled_ = false;
  std::ofstream out_;
};

void PrintSummary(uint64_t published, uint64_t failed, double elapsed_s) {
  std::fprintf(stderr, "weir simulate: published %llu, failed %llu, elapsed %.3f s, rate %.0f/s\n",
               static_cast<unsigned long long>(published), static_cast<unsigned long long>(failed),
               elapsed_s, elapsed_s > 0 ? static_cast<double>(published) / elapsed_s : 0.0);
}

double SecondsSince(Clock::TimePoint start) {
  return std::chrono::duration<double>(SystemClock::Instance().Now() - start).count();
}

// Dry run: every reading as a JSON line, as fast as it can be written (no pacing).
int RunDryRun(const SimulateOptions& o, uint64_t total, SignalGenerator& gen, FaultSink& faults) {
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (o.output != "-") {
    file.open(o.output, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "weir simulate: cannot write " << o.output << "\n";
      return kExitFailure;
    }
    out = &file;
  }
  const auto start = SystemClock::Instance().Now();
  for (uint64_t i = 0; i < total; ++i) {
    *out << JsonPayload(gen.Next()) << '\n';
    faults.Write(gen);
  }
  out->flush();
  const bool written = static_cast<bool>(*out) && faults.Finish();
  PrintSummary(written ? total : 0, written ? 0 : total, SecondsSince(start));
  if (!written) {
    std::cerr << "weir simulate: writing the output failed\n";
    return kExitFailure;
  }
  return kExitOk;
}

// What the MQTT callbacks report, handed to the main loop.
struct Delivery {
  std::mutex mu;
  std::condition_variable changed;
  bool connected = false;
  bool connecting = false;
  std::string lost_reason;
  uint64_t ok = 0;      // readings in acknowledged messages
  uint64_t failed = 0;  // readings in messages that failed
  // Readings per message still in flight: a batch counts as its readings when it completes.
  std::unordered_map<transport::PublishToken, uint32_t> in_flight;
  // Outcomes that arrived before the publisher recorded their batch (true: delivered).
  std::unordered_map<transport::PublishToken, bool> early;

  // Requires mu. Counts a finished message of `readings` readings.
  void Count(bool delivered, uint64_t readings) {
    (delivered ? ok : failed) += readings;
    changed.notify_all();
  }
};

transport::MqttCallbacks Callbacks(Delivery* d) {
  transport::MqttCallbacks c;
  c.on_connected = [d](bool) {
    std::lock_guard lock(d->mu);
    d->connected = true;
    d->connecting = false;
    d->changed.notify_all();
  };
  c.on_connection_lost = [d](const Status& reason) {
    std::lock_guard lock(d->mu);
    d->connected = false;
    d->connecting = false;
    d->lost_reason = reason.ToString();
    d->changed.notify_all();
  };
  c.on_delivered = [d](transport::PublishToken token, const Status& result) {
    std::lock_guard lock(d->mu);
    if (auto it = d->in_flight.find(token); it != d->in_flight.end()) {
      d->Count(result.ok(), it->second);
      d->in_flight.erase(it);
    } else {
      d->early.emplace(token, result.ok());  // the publisher counts it when it records the batch
    }
  };
  return c;
}

// The paced publishing loop. Returns the exit code.
class Publisher {
 public:
  Publisher(const SimulateOptions& o, uint64_t total, SignalGenerator& gen, FaultSink& faults,
            transport::MqttClient& client, Delivery& d)
      : o_(o), total_(total), gen_(gen), faults_(faults), client_(client), d_(d) {}

  int Run() {
    const auto& clock = SystemClock::Instance();
    start_ = clock.Now();
    while (!stopped_) {
      if (total_ > 0 && sent_ >= total_) break;
      if (o_.duration && clock.Now() - start_ >= *o_.duration) break;
      if (!EnsureConnected()) continue;
      // Everything due by now, counted from the start so that pacing never drifts.
      const double due_f = SecondsSince(start_) * o_.rate;
      uint64_t due = static_cast<uint64_t>(due_f) + 1;
      if (total_ > 0) due = std::min(due, total_);
      bool blocked = false;
      for (uint64_t next = NextBatchSize(); next > 0 && sent_ + next <= due && !blocked;
           next = NextBatchSize()) {
        blocked = !PublishBatch();
      }
      // Wait for the next reading's time (or, when blocked, briefly for acknowledgements).
      const double next_s = static_cast<double>(sent_) / o_.rate;
      const auto wait =
          blocked ? milliseconds(1)
                  : std::clamp(std::chrono::duration_cast<milliseconds>(
                                   std::chrono::duration<double>(next_s - SecondsSince(start_))),
                               milliseconds(1), milliseconds(100));
      CheckSignal(wait);
    }
    const bool bounded = total_ > 0 || o_.duration.has_value();
    const bool finished = !stopped_ || !bounded;
    Drain();
    (void)client_.Disconnect(milliseconds(2000));
    uint64_t ok, failed;
    {
      std::lock_guard lock(d_.mu);
      ok = d_.ok;
      failed = d_.failed + (sent_ - d_.ok - d_.failed);  // never acknowledged
    }
    PrintSummary(ok, failed, SecondsSince(start_));
    if (!faults_.Finish()) {
      std::cerr << "weir simulate: writing " << o_.faults_out << " failed\n";
      return kExitFailure;
    }
    if (!finished) return kExitInterrupted;
    return failed > 0 ? kExitFailure : kExitOk;
  }

 private:
  // Takes a pending SIGINT/SIGTERM, waiting up to `timeout` for one.
  void CheckSignal(milliseconds timeout) {
    auto sig = waiter_.Wait(timeout);
    if (sig.ok() && sig->has_value() && **sig != SIGHUP) stopped_ = true;
  }

  // Connects (with capped, jittered backoff between failed attempts). False while not connected.
  bool EnsureConnected() {
    std::unique_lock lock(d_.mu);
    if (d_.connected) return true;
    if (!d_.connecting) {
      if (!d_.lost_reason.empty()) {
        std::cerr << "weir simulate: " << o_.broker << ": " << d_.lost_reason << "\n";
        d_.lost_reason.clear();
        const auto delay = std::chrono::duration_cast<milliseconds>(backoff_.Next());
        lock.unlock();
        CheckSignal(delay);
        if (stopped_) return false;
        lock.lock();
      }
      d_.connecting = true;
      lock.unlock();
      if (Status s = client_.Connect(); !s.ok()) {
        lock.lock();
        d_.connecting = false;
        d_.lost_reason = s.ToString();
        return false;
      }
      lock.lock();
    }
    d_.changed.wait_for(lock, milliseconds(20), [&] { return d_.connected || !d_.connecting; });
    if (d_.connected) backoff_.Reset();
    lock.unlock();
    if (!d_.connected) CheckSignal(milliseconds(0));
    return false;  // go round once more: the loop rechecks its bounds first
  }

  // Readings in the next message: --batch, or what is left of --count.
  uint64_t NextBatchSize() const {
    const auto batch = static_cast<uint64_t>(o_.batch);
    return total_ > 0 ? std::min(batch, total_ - sent_) : batch;
  }

  // Publishes the pending batch (generating it if needed). False when it must wait: the
  // in-flight window is full or the connection is down.
  bool PublishBatch() {
    if (pending_.empty()) {
      for (uint64_t i = NextBatchSize(); i > 0; --i) {
        pending_.push_back(gen_.Next());
        faults_.Write(gen_);
      }
    }
    const auto readings = static_cast<uint32_t>(pending_.size());
    auto token = client_.Publish(Topic(o_.topic, pending_.front().sensor),
                                 BatchPayload(o_.format, pending_), o_.qos, false);
    if (!token.ok() && (token.status().code() == StatusCode::kResourceExhausted ||
                        token.status().code() == StatusCode::kUnavailable)) {
      return false;
    }
    {
      std::lock_guard lock(d_.mu);
      if (!token.ok()) {
        // A publish the client refuses outright (a bad topic) is counted failed, not retried.
        d_.Count(false, readings);
      } else if (auto it = d_.early.find(*token); it != d_.early.end()) {
        d_.Count(it->second, readings);  // its outcome came before Publish returned
        d_.early.erase(it);
      } else {
        d_.in_flight.emplace(*token, readings);
      }
    }
    pending_.clear();
    sent_ += readings;
    return true;
  }

  // Waits (up to 10 s, or until a signal) for the acknowledgements still in flight.
  void Drain() {
    const auto deadline = SystemClock::Instance().Now() + std::chrono::seconds(10);
    while (SystemClock::Instance().Now() < deadline) {
      {
        std::unique_lock lock(d_.mu);
        if (d_.ok + d_.failed >= sent_ || !d_.connected) return;
        d_.changed.wait_for(lock, milliseconds(20));
      }
      auto sig = waiter_.Wait(milliseconds(0));
      if (sig.ok() && sig->has_value() && **sig != SIGHUP) return;
    }
  }

  const SimulateOptions& o_;
  const uint64_t total_;  // 0: no count bound
  SignalGenerator& gen_;
  FaultSink& faults_;
  transport::MqttClient& client_;
  Delivery& d_;
  platform::SignalWaiter waiter_;
  Backoff backoff_{BackoffOptions{milliseconds(100), std::chrono::seconds(5)}};
  Clock::TimePoint start_;
  std::vector<SimReading> pending_;  // the next message's readings
  uint64_t sent_ = 0;                // readings handed to the client (or refused outright)
  bool stopped_ = false;
};

}  // namespace

std::optional<microseconds> ParseDurationText(const std::string& text) {
  size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(used);
  double scale;
  if (unit.empty() || unit == "s") {
    scale = 1e6;
  } else if (unit == "ms") {
    scale = 1e3;
  } else if (unit == "us") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60e6;
  } else if (unit == "h") {
    scale = 3600e6;
  } else if (unit == "d") {
    scale = 86400e6;
  } else {
    return std::nullopt;
  }
  const double us = number * scale;
  if (!std::isfinite(us) || us < 1 || us > 1e17) return std::nullopt;
  return microseconds(static_cast<int64_t>(us));
}

int RunSimulate(const SimulateOptions& o) {
  if (int rc = Validate(o); rc != kExitOk) return rc;
  SignalOptions so;
  so.sensors = o.sensors;
  so.seed = o.seed;
  so.start_us = o.start_time.empty() ? SystemClock::Instance().WallMicros()
                                     : *codec::ParseTimestamp(o.start_time);
  so.step_us = o.time_step ? o.time_step->count()
                           : std::max<int64_t>(1, std::llround(o.sensors / o.rate * 1e6));
  so.faults = *ParseFaultKinds(o.faults);
  so.fault_rate = o.fault_rate;
  auto gen = SignalGenerator::Create(so);
  if (!gen.ok()) return Usage("--sensors/--time-step", gen.status().message());
  FaultSink faults(o.faults_out);
  if (!faults.ok()) {
    std::cerr << "weir simulate: cannot write " << o.faults_out << "\n";
    return kExitFailure;
  }
  uint64_t total = o.count.value_or(0);
  if (o.dry_run) {
    if (total == 0) {
      total = static_cast<uint64_t>(
          std::llround(static_cast<double>(o.duration->count()) / 1e6 * o.rate));
    }
    return RunDryRun(o, total, *gen, faults);
  }

  // Before the client exists: Paho's threads inherit the mask, so the signals reach only us.
  if (Status s = platform::BlockShutdownSignals(); !s.ok()) {
    std::cerr << "weir simulate: " << s.message() << "\n";
    return kExitFailure;
  }
  transport::MqttOptions mo;
  mo.url = o.broker;
  mo.client_id = o.client_id.empty() ? "weir-simulate-" + std::to_string(::getpid()) : o.client_id;
  mo.max_inflight = o.max_inflight;
  auto client = transport::NewPahoMqttClient(mo);
  if (!client.ok()) return Usage("--broker", client.status().message());
  Delivery delivery;
  (*client)->SetCallbacks(Callbacks(&delivery));
  Publisher publisher(o, total, *gen, faults, **client, delivery);
  const int rc = publisher.Run();
  client->reset();  // before `delivery`, which its callbacks use
  return rc;
}

void AddSimulateCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<SimulateOptions>();
  auto duration = std::make_shared<std::string>();
  auto time_step = std::make_shared<std::string>();
  auto count = std::make_shared<uint64_t>(0);
  CLI::App* cmd = app.add_subcommand(
      "simulate",
      "Publish synthetic readings of a sensor fleet (noise, drift, faults) to a broker");
  cmd->add_option("--broker", options->broker, "Broker URL (mqtt://host:port)")
      ->capture_default_str();
  cmd->add_option("--client-id", options->client_id, "MQTT client id (default weir-simulate-PID)");
  cmd->add_option("--sensors", options->sensors, "Number of sensors")->capture_default_str();
  cmd->add_option("--rate", options->rate, "Readings per second, all sensors together")
      ->capture_default_str();
  auto* dur = cmd->add_option("--duration", *duration, "Stop after this long (60s, 5m, 1h)");
  auto* cnt = cmd->add_option("--count", *count, "Stop after this many readings");
  dur->excludes(cnt);
  cmd->add_option("--seed", options->seed, "Random seed")->capture_default_str();
  cmd->add_option("--topic", options->topic, "Topic; {sensor} becomes the sensor id")
      ->capture_default_str();
  cmd->add_option("--format", options->format, "Payload: json, number or line")
      ->capture_default_str();
  cmd->add_option("--faults", options->faults,
                  "Faults to inject: comma-separated spike,drift,stuck,dropout,step");
  cmd->add_option("--fault-rate", options->fault_rate, "Chance per reading that a fault starts")
      ->capture_default_str();
  cmd->add_option("--faults-out", options->faults_out, "Write each injected fault as a JSON line");
  cmd->add_option("--qos", options->qos, "MQTT QoS")->capture_default_str();
  cmd->add_option("--max-inflight", options->max_inflight, "Unacknowledged publishes at most")
      ->capture_default_str();
  cmd->add_option("--start-time", options->start_time,
                  "Event time of the first readings (RFC 3339)");
  cmd->add_option("--time-step", *time_step,
                  "Event time between readings of one sensor (default sensors/rate)");
  cmd->add_option("--batch", options->batch,
                  "Readings per message (a JSON array or lines; not with --format number)")
      ->capture_default_str();
  cmd->add_flag("--dry-run", options->dry_run,
                "Write payloads as JSON lines instead of publishing");
  cmd->add_option("-o,--output", options->output, "With --dry-run: output file, or - for stdout");
  cmd->callback([options, duration, time_step, count, dur, cnt, exit_code] {
    SimulateOptions o = *options;
    if (dur->count() > 0) {
      o.duration = ParseDurationText(*duration);
      if (!o.duration) {
        *exit_code = Usage("--duration", "not a positive duration: '" + *duration + "'");
        return;
      }
    }
    if (!time_step->empty()) {
      o.time_step = ParseDurationText(*time_step);
      if (!o.time_step) {
        *exit_code = Usage("--time-step", "not a positive duration: '" + *time_step + "'");
        return;
      }
    }
    if (cnt->count() > 0) o.count = *count;
    *exit_code = RunSimulate(o);
  });
}

}  // namespace weir::app
