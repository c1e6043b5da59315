// `weir sink`: see sink_command.h.
#include "agent/app/sink_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/app/exit_codes.h"
#include "agent/app/sink_ledger.h"
#include "agent/app/sink_output.h"
#include "agent/app/sink_reorder.h"
#include "agent/codec/envelope_codec.h"
#include "agent/core/bounded_queue.h"
#include "agent/core/clock.h"
#include "agent/transport/paho_mqtt_client.h"
#include "platform/files.h"
#include "platform/signals.h"

namespace weir::app {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Messages wait here between Paho's callback thread and the main loop. Large, because a message
// dropped here was already acknowledged to the broker: the sink would report a false gap.
constexpr size_t kQueueCapacity = 1 << 16;

struct Inbound {
  std::string payload;
  int64_t received_us = 0;
};

// State shared with the MQTT callbacks.
struct Shared {
  BoundedQueue<Inbound> queue{kQueueCapacity};
  std::atomic<bool> connected{false};
  std::atomic<bool> ever_connected{false};
  std::atomic<bool> need_subscribe{false};
  std::atomic<bool> subscribed{false};  // the broker granted our filters (tests wait on it)
  std::atomic<bool> lost{false};
  std::atomic<uint64_t> overflow{0};
};

transport::MqttCallbacks Callbacks(Shared* shared) {
  transport::MqttCallbacks c;
  c.on_connected = [shared](bool session_present) {
    shared->connected = true;
    shared->ever_connected = true;
    // A resumed session still holds our subscriptions; subscribing again is harmless but the
    // main loop does it only when needed.
    shared->need_subscribe = !session_present;
    if (session_present) shared->subscribed = true;
  };
  c.on_subscribed = [shared](const Status& result) {
    if (result.ok()) shared->subscribed = true;
  };
  c.on_connection_lost = [shared](const Status&) {
    shared->connected = false;
    shared->lost = true;
  };
  c.on_message = [shared](const transport::InboundMessage& m) {
    Inbound in{std::string(m.payload), SystemClock::Instance().WallMicros()};
    // Never block Paho's thread for long; an overflow is counted and reported.
    if (!shared->queue.PushUntil(std::move(in), Steady::now() + milliseconds(200)).ok()) {
      ++shared->overflow;
    }
  };
  return c;
}

class Sink {
 public:
  Sink(const SinkOptions& options, Shared* shared)
      : options_(options),
        shared_(shared),
        reorder_(
            std::chrono::duration_cast<std::chrono::microseconds>(options.reorder_window).count()) {
  }

  Status OpenOutput() {
    if (options_.out.empty()) return Status::Ok();
    WEIR_ASSIGN_OR_RETURN(output_, OpenSinkOutput(options_.out));
    return Status::Ok();
  }

  Status Handle(const Inbound& in) {
    auto envelope = codec::DecodeEnvelope(in.payload);
    if (!envelope.ok()) {
      ledger_.ObserveUndecodable();
      if (!options_.quiet) std::cerr << "weir sink: " << envelope.status().ToString() << "\n";
      return Status::Ok();
    }
    reorder_.Add(std::move(envelope).value(), in.received_us, &ready_);
    return Account();
  }

  // Releases what has waited the reorder window (now: wall-clock µs); at_exit releases all.
  Status Expire(int64_t now_us, bool at_exit) {
    if (at_exit) {
      reorder_.Flush(now_us, &ready_);
    } else {
      reorder_.Expire(now_us, &ready_);
    }
    return Account();
  }

  std::string SummaryLine() const {
    return ledger_.SummaryLine() + "  reordered " + std::to_string(reorder_.counters().reordered);
  }

  nlohmann::json Report(bool final_report) const {
    nlohmann::json j = ledger_.ToJson();
    j["reorder"] = reorder_.ToJson();
    j["queue_overflow"] = shared_->overflow.load();
    j["connected"] = shared_->connected.load();
    j["subscribed"] = shared_->subscribed.load();
    j["final"] = final_report;
    return j;
  }

  Status WriteReport(bool final_report) const {
    if (options_.report.empty()) return Status::Ok();
    return platform::WriteFileAtomically(options_.report, Report(final_report).dump(2) + "\n");
  }

  Status Flush() { return output_ != nullptr ? output_->Flush() : Status::Ok(); }
  const SinkLedger& ledger() const { return ledger_; }

 private:
  // Counts and writes what the reorder buffer released, in its order.
  Status Account() {
    Status result = Status::Ok();
    for (SinkReorder::Item& item : ready_) {
      const SinkLedger::Delivery d = ledger_.Observe(item.envelope, item.received_us);
      if (output_ != nullptr && !d.duplicate_envelope && result.ok()) {
        result = output_->Write(item.envelope, d);
      }
    }
    ready_.clear();
    return result;
  }

  const SinkOptions& options_;
  Shared* shared_;
  SinkReorder reorder_;
  std::vector<SinkReorder::Item> ready_;
  SinkLedger ledger_;
  std::unique_ptr<SinkOutput> output_;
};

Result<std::unique_ptr<transport::MqttClient>> MakeClient(const SinkOptions& o, Shared* shared) {
  transport::MqttOptions mo;
  mo.url = o.broker;
  mo.client_id = o.client_id;
  mo.clean_session = false;  // the broker queues for us across our own reconnects
  mo.keepalive = std::chrono::seconds(10);
  mo.connect_timeout = std::chrono::seconds(5);
  WEIR_ASSIGN_OR_RETURN(auto client, transport::NewPahoMqttClient(mo));
  client->SetCallbacks(Callbacks(shared));
  return client;
}

}  // namespace

bool ParseSinkDuration(const std::string& text, milliseconds* out) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 9) return false;
  const int64_t n = std::stoll(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit == "ms") {
    *out = milliseconds(n);
  } else if (unit.empty() || unit == "s") {
    *out = std::chrono::seconds(n);
  } else if (unit == "m") {
    *out = std::chrono::minutes(n);
  } else if (unit == "h") {
    *out = std::chrono::hours(n);
  } else {
    return false;
  }
  return true;
}

int RunSink(const SinkOptions& o) {
  if (Status s = platform::BlockShutdownSignals(); !s.ok()) {
    std::cerr << "weir sink: " << s.ToString() << "\n";
    return kExitFailure;
  }
  Shared shared;
  Sink sink(o, &shared);
  if (Status s = sink.OpenOutput(); !s.ok()) {
    std::cerr << "weir sink: --out " << o.out.string() << ": " << s.ToString() << "\n";
    return kExitFailure;
  }
  auto client = MakeClient(o, &shared);
  if (!client.ok()) {
    std::cerr << "weir sink: --broker: " << client.status().ToString() << "\n";
    return kExitUsage;
  }
  (void)(*client)->Connect();

  const platform::SignalWaiter signals;
  const bool live = !o.quiet && isatty(STDERR_FILENO);
  const Steady::time_point start = Steady::now();
  Steady::time_point last_activity = start;  // a message, or the subscription taking effect
  Steady::time_point next_tick = start + milliseconds(1000);
  Steady::time_point next_connect = start;
  int exit_code = kExitOk;
  for (;;) {
    const Steady::time_point now = Steady::now();
    if (o.duration.count() > 0 && now - start >= o.duration) break;
    if (o.until_idle.count() > 0 && now - last_activity >= o.until_idle) break;
    if (shared.need_subscribe.exchange(false)) {
      std::vector<transport::Subscription> subs;
      for (const std::string& t : o.topics) subs.push_back({t, 1});
      if (!(*client)->Subscribe(subs).ok()) shared.need_subscribe = true;
      last_activity = now;
    }
    if (shared.lost.load() && now >= next_connect) {
      // Reconnect at a steady pace: a sink has one broker and nothing to spread out.
      shared.lost = false;
      (void)(*client)->Connect();
      next_connect = now + milliseconds(500);
    }
    auto in = shared.queue.PopUntil(std::min(now + milliseconds(100), next_tick));
    Status handled = in.ok() ? sink.Handle(*in) : Status::Ok();
    if (in.ok()) last_activity = Steady::now();
    if (handled.ok()) handled = sink.Expire(SystemClock::Instance().WallMicros(), false);
    if (!handled.ok()) {
      std::cerr << "weir sink: --out " << o.out.string() << ": " << handled.ToString() << "\n";
      exit_code = kExitFailure;
      break;
    }
    if (Steady::now() >= next_tick) {
      next_tick += milliseconds(1000);
      if (live) std::cerr << "\r" << sink.SummaryLine() << "   " << std::flush;
      (void)sink.Flush();
      if (Status s = sink.WriteReport(false); !s.ok()) {
        std::cerr << "weir sink: --report: " << s.ToString() << "\n";
      }
    }
    auto sig = signals.Wait(milliseconds(0));
    if (sig.ok() && sig->has_value() && **sig != SIGHUP) break;
  }
  (void)(*client)->Disconnect(milliseconds(1000));
  // Whatever was received before the disconnect is counted.
  while (exit_code == kExitOk) {
    auto in = shared.queue.PopUntil(Steady::now());
    if (!in.ok()) break;
    if (!sink.Handle(*in).ok()) exit_code = kExitFailure;
  }
  // What is still held goes out in order; a hole still open is reported as a silent gap.
  if (exit_code == kExitOk && !sink.Expire(SystemClock::Instance().WallMicros(), true).ok()) {
    exit_code = kExitFailure;
  }
  if (Status s = sink.Flush(); !s.ok()) {
    std::cerr << "weir sink: --out " << o.out.string() << ": " << s.ToString() << "\n";
    exit_code = kExitFailure;
  }
  if (Status s = sink.WriteReport(true); !s.ok()) {
    std::cerr << "weir sink: --report: " << s.ToString() << "\n";
    exit_code = kExitFailure;
  }
  if (live) std::cerr << "\n";
  if (!o.quiet) std::cout << "weir sink: " << sink.SummaryLine() << "\n";
  if (!shared.ever_connected.load()) {
    std::cerr << "weir sink: never connected to " << o.broker << "\n";
    if (exit_code == kExitOk) exit_code = kExitFailure;
  }
  return exit_code;
}

void AddSinkCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<SinkOptions>();
  auto topics = std::make_shared<std::vector<std::string>>();
  auto duration = std::make_shared<std::string>();
  auto idle = std::make_shared<std::string>();
  auto reorder = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "sink",
      "Reference upstream consumer: subscribe to envelopes, drop duplicates, report gaps, order "
      "violations and latency, optionally write the readings.");
  cmd->add_option("--broker", options->broker, "Upstream broker URL")->capture_default_str();
  cmd->add_option("--topic", *topics,
                  "Topic filter, repeatable (default weir/+/data and weir/+/defects)");
  cmd->add_option("--out", options->out, "Write delivered records: .jsonl, .csv or .db (weir log)");
  cmd->add_option("--report", options->report,
                  "Write the JSON report here (every second, at exit)");
  cmd->add_option("--duration", *duration, "Stop after this long (e.g. 60s, 500ms, 2m)");
  cmd->add_option("--until-idle", *idle, "Stop after this long without a message (e.g. 5s)");
  cmd->add_option("--reorder-window", *reorder,
                  "Hold what arrives after a hole in a stream this long for the hole to fill, "
                  "then release it in order (default 5s; 0 turns reordering off)");
  cmd->add_option("--client-id", options->client_id, "MQTT client id (persistent session)")
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", options->quiet, "No live line and no summary");
  cmd->callback([options, topics, duration, idle, reorder, exit_code] {
    if (!topics->empty()) options->topics = *topics;
    if (!duration->empty() && !ParseSinkDuration(*duration, &options->duration)) {
      throw CLI::ValidationError("--duration", "expected a duration such as 60s, got " + *duration);
    }
    if (!idle->empty() && !ParseSinkDuration(*idle, &options->until_idle)) {
      throw CLI::ValidationError("--until-idle", "expected a duration such as 5s, got " + *idle);
    }
    if (!reorder->empty() && !ParseSinkDuration(*reorder, &options->reorder_window)) {
      throw CLI::ValidationError("--reorder-window",
                                 "expected a duration such as 5s or 0, got " + *reorder);
    }
    *exit_code = RunSink(*options);
  });
}

}  // namespace weir::app
