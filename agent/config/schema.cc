// The config schema table. Adding a field to proto/weir/v1/config.proto needs a row here
// (config_schema_test fails otherwise) and a regenerated README.
#include "agent/config/schema.h"

#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>

namespace weir::config {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
constexpr int64_t kGiB = 1024 * kMiB;
constexpr int64_t kDay = 86'400;
constexpr int64_t kYear = 365 * kDay;
constexpr double kLowest = -std::numeric_limits<double>::max();
constexpr double kHighest = std::numeric_limits<double>::max();
// SpikeDetector::kMaxWindow (agent/detect/detectors.h); config may not include detect, so
// app_run_config_test checks that the two agree.
constexpr int64_t kSpikeMaxWindow = 128;

using enum KeyType;
using enum StringRule;
using enum Apply;

// Why the remote allow-list is what it is: a fleet push may tune rates, limits and what to
// subscribe to, and all of detection, but never identity, storage location, credentials, brokers or
// topics: a bad value there would cut the device off from the very channel that could repair it.
constexpr std::array kSchema = {
    KeySpec{.path = "device_id",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 64,
            .rule = kTopicSafeId,
            .required = true,
            .description = "This gateway's identity: the `<device>` level of every topic and, with "
                           "the sequence, each record's identity upstream. No default (the caller "
                           "may pass the hostname)."},
    KeySpec{.path = "group",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 64,
            .rule = kTopicSafeId,
            .description =
                "Fleet group: config is also taken from `<prefix>/fleet/<group>/config/set`. "
                "Empty: no group."},
    // --- ingest ---
    KeySpec{.path = "ingest.local.url",
            .type = kString,
            .default_text = "mqtt://127.0.0.1:1883",
            .min = 0,
            .max = 1024,
            .rule = kUrl,
            .required = true,
            .description = "Local broker the sensors publish to."},
    KeySpec{.path = "ingest.local.client_id",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 128,
            .rule = kClientId,
            .description = "MQTT client id; empty means `weir-<device_id>-in`. Sessions are "
                           "persistent, so keep it stable."},
    KeySpec{.path = "ingest.local.username",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 256,
            .description = "Username; empty for none."},
    KeySpec{.path = "ingest.local.password",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .secret = true,
            .description = "Password (needs a username). Redacted when printed."},
    KeySpec{.path = "ingest.local.ca_file",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .description = "PEM CA bundle for mqtts://; empty: the system store."},
    KeySpec{.path = "ingest.local.cert_file",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .description = "PEM client certificate (needs key_file and mqtts://)."},
    KeySpec{.path = "ingest.local.key_file",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .description = "PEM private key of cert_file."},
    KeySpec{.path = "ingest.local.mqtt_version",
            .type = kUint32,
            .default_text = "3",
            .min = 3,
            .max = 5,
            .choices = "3|5",
            .description = "3 for MQTT 3.1.1, 5 for MQTT 5."},
    KeySpec{.path = "ingest.local.keepalive_s",
            .type = kUint32,
            .default_text = "30",
            .min = 0,
            .max = 65535,
            .description = "MQTT keep-alive in seconds; 0 disables it."},
    KeySpec{.path = "ingest.subscriptions",
            .type = kList,
            .default_text = R"([{"topic":"sensors/#"}])",
            .min = 1,
            .max = 64,
            .apply = kLive,
            .remote = true,
            .description = "Topic filters on the local broker and how to parse their payloads. A "
                           "document that sets the list replaces it whole."},
    KeySpec{.path = "ingest.subscriptions[].topic",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .rule = kTopicFilter,
            .required = true,
            .apply = kLive,
            .remote = true,
            .description = "MQTT topic filter, e.g. `sensors/#`."},
    KeySpec{.path = "ingest.subscriptions[].format",
            .type = kString,
            .default_text = "json",
            .min = 0,
            .max = 16,
            .choices = "json|number|line",
            .apply = kLive,
            .remote = true,
            .description = "Payload parser: JSON object, bare number, or InfluxDB line protocol."},
    KeySpec{.path = "ingest.subscriptions[].sensor_topic_segment",
            .type = kInt32,
            .default_text = "-1",
            .min = -1,
            .max = 63,
            .apply = kLive,
            .remote = true,
            .description = "Topic level (0-based) holding the sensor id when the payload has "
                           "none; -1: the whole topic."},
    KeySpec{.path = "ingest.subscriptions[].json_fields.sensor",
            .type = kString,
            .default_text = "sensor",
            .min = 1,
            .max = 64,
            .apply = kLive,
            .remote = true,
            .description = "JSON member holding the sensor id."},
    KeySpec{.path = "ingest.subscriptions[].json_fields.time",
            .type = kString,
            .default_text = "ts",
            .min = 1,
            .max = 64,
            .apply = kLive,
            .remote = true,
            .description = "JSON member holding the event time (epoch ms or RFC 3339)."},
    KeySpec{.path = "ingest.subscriptions[].json_fields.value",
            .type = kString,
            .default_text = "value",
            .min = 1,
            .max = 64,
            .apply = kLive,
            .remote = true,
            .description = "JSON member holding the numeric value."},
    KeySpec{.path = "ingest.subscriptions[].json_fields.quality",
            .type = kString,
            .default_text = "quality",
            .min = 1,
            .max = 64,
            .apply = kLive,
            .remote = true,
            .description = "JSON member holding the optional quality."},
    KeySpec{.path = "ingest.max_payload_bytes",
            .type = kUint32,
            .default_text = "65536",
            .min = 16,
            .max = 16 * kMiB,
            .apply = kLive,
            .remote = true,
            .description = "Larger payloads are dead-lettered unparsed."},
    KeySpec{.path = "ingest.max_past_s",
            .type = kUint32,
            .default_text = "315360000",
            .min = 0,
            .max = 100 * kYear,
            .apply = kLive,
            .remote = true,
            .description = "Readings older than now minus this (default 10 years) are rejected."},
    KeySpec{.path = "ingest.max_future_s",
            .type = kUint32,
            .default_text = "86400",
            .min = 0,
            .max = kYear,
            .apply = kLive,
            .remote = true,
            .description = "Readings later than now plus this (default 1 day) are rejected."},
    KeySpec{.path = "ingest.queue_budget_bytes",
            .type = kUint64,
            .default_text = "2097152",
            .min = 64 * 1024,
            .max = 1 * kGiB,
            .description =
                "Memory parsed messages may hold on their way to the store; beyond it they wait "
                "in the intake journal on disk, so memory stays bounded through any outage."},
    KeySpec{.path = "ingest.journal_max_bytes",
            .type = kUint64,
            .default_text = "268435456",
            .min = 16 * kMiB,
            .max = 1024 * kGiB,
            .description =
                "Cap of the intake journal on disk. Past it (the store cannot keep up, e.g. "
                "pause_ingest through a long outage) weir disconnects from the local broker, "
                "which keeps its session's messages, until the journal is below half of it."},
    // --- store ---
    KeySpec{.path = "store.state_dir",
            .type = kString,
            .default_text = "/var/lib/weir",
            .min = 0,
            .max = 1024,
            .rule = kAbsolutePath,
            .required = true,
            .description = "Directory of the on-device log and the single-instance lock."},
    KeySpec{.path = "store.group_commit_records",
            .type = kUint32,
            .default_text = "1000",
            .min = 1,
            .max = 100'000,
            .apply = kLive,
            .remote = true,
            .description =
                "A commit happens after this many records or after group_commit_interval_ms, "
                "whichever comes first."},
    KeySpec{.path = "store.group_commit_interval_ms",
            .type = kUint32,
            .default_text = "50",
            .min = 1,
            .max = 10'000,
            .apply = kLive,
            .remote = true,
            .description =
                "Longest wait before a commit: bounds the inbound loss window (Paho acks "
                "QoS 1 before the commit)."},
    KeySpec{.path = "store.quota_bytes",
            .type = kUint64,
            .default_text = "1073741824",
            .min = 1 * kMiB,
            .max = 1024 * kGiB,
            .apply = kLive,
            .remote = true,
            .description = "Disk budget of the log (default 1 GiB)."},
    KeySpec{.path = "store.quota_policy",
            .type = kString,
            .default_text = "evict_oldest",
            .min = 0,
            .max = 32,
            .choices = "evict_oldest|pause_ingest",
            .apply = kLive,
            .remote = true,
            .description = "At the quota: drop the oldest unsent records (a gap record goes "
                           "upstream) or stop accepting readings."},
    KeySpec{.path = "store.min_free_bytes",
            .type = kUint64,
            .default_text = "1",
            .min = 0,
            .max = 1024 * kGiB,
            .description =
                "Free space the log leaves on its filesystem: below it the quota policy applies "
                "as if the quota were reached (status says `disk_reserve`). 0 disables; 1 "
                "(default) picks the larger of 64 MiB and 5 % of the filesystem, capped at "
                "256 MiB and at 10 % of the filesystem."},
    KeySpec{.path = "store.quarantine_quota_percent",
            .type = kUint32,
            .default_text = "10",
            .min = 0,
            .max = 50,
            .description = "Share of quota_bytes that quarantined rows and files may use; "
                           "beyond it the oldest are deleted."},
    KeySpec{.path = "store.dead_letters_quota_percent",
            .type = kUint32,
            .default_text = "5",
            .min = 0,
            .max = 50,
            .description = "Share of quota_bytes that dead letters may use; beyond it the "
                           "oldest are deleted (besides the count cap)."},
    KeySpec{.path = "store.synchronous",
            .type = kString,
            .default_text = "full",
            .min = 0,
            .max = 16,
            .choices = "full|normal",
            .description = "SQLite synchronous mode: full survives power cuts, normal only "
                           "process crashes (agent/store/FORMAT.md)."},
    // --- upstream ---
    KeySpec{.path = "upstream.broker.url",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .rule = kUrl,
            .required = true,
            .description = "Upstream broker, e.g. `mqtts://broker.example:8883`."},
    KeySpec{.path = "upstream.broker.client_id",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 128,
            .rule = kClientId,
            .description = "MQTT client id; empty means `weir-<device_id>`."},
    KeySpec{.path = "upstream.broker.username",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 256,
            .description = "Username; empty for none."},
    KeySpec{.path = "upstream.broker.password",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .secret = true,
            .description = "Password (needs a username). Redacted when printed."},
    KeySpec{.path = "upstream.broker.ca_file",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .description = "PEM CA bundle for mqtts://; empty: the system store."},
    KeySpec{.path = "upstream.broker.cert_file",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .description = "PEM client certificate (needs key_file and mqtts://)."},
    KeySpec{.path = "upstream.broker.key_file",
            .type = kString,
            .default_text = "",
            .min = 0,
            .max = 1024,
            .description = "PEM private key of cert_file."},
    KeySpec{.path = "upstream.broker.mqtt_version",
            .type = kUint32,
            .default_text = "3",
            .min = 3,
            .max = 5,
            .choices = "3|5",
            .description = "3 for MQTT 3.1.1, 5 for MQTT 5."},
    KeySpec{.path = "upstream.broker.keepalive_s",
            .type = kUint32,
            .default_text = "30",
            .min = 0,
            .max = 65535,
            .description = "MQTT keep-alive in seconds; 0 disables it."},
    KeySpec{
        .path = "upstream.topic_prefix",
        .type = kString,
        .default_text = "weir",
        .min = 1,
        .max = 128,
        .rule = kTopicPrefix,
        .description = "First topic levels of every topic weir uses: `<prefix>/<device>/data`."},
    KeySpec{.path = "upstream.format",
            .type = kString,
            .default_text = "protobuf",
            .min = 0,
            .max = 16,
            .choices = "protobuf|json",
            .apply = kLive,
            .remote = true,
            .description = "Envelope encoding: protobuf + zstd batches, or JSON for consumers "
                           "such as cloud rule engines."},
    KeySpec{.path = "upstream.max_message_bytes",
            .type = kUint32,
            .default_text = "131072",
            .min = 1 * kKiB,
            .max = 256 * kMiB - 1,
            .apply = kLive,
            .remote = true,
            .description = "Largest message published; batches are split to fit (AWS IoT Core "
                           "allows 128 KiB)."},
    KeySpec{.path = "upstream.max_inflight",
            .type = kUint32,
            .default_text = "16",
            .min = 1,
            .max = 1024,
            .apply = kLive,
            .remote = true,
            .description = "Messages published but not yet acknowledged."},
    KeySpec{.path = "upstream.batch_readings",
            .type = kUint32,
            .default_text = "1000",
            .min = 1,
            .max = 1 << 20,
            .apply = kLive,
            .remote = true,
            .description = "Most readings in one message."},
    KeySpec{.path = "upstream.backoff_initial_ms",
            .type = kUint32,
            .default_text = "500",
            .min = 1,
            .max = 60'000,
            .apply = kLive,
            .remote = true,
            .description =
                "First delay after a failed connect to a broker that answers probes; doubles "
                "per failure, with full jitter."},
    KeySpec{.path = "upstream.backoff_max_ms",
            .type = kUint32,
            .default_text = "60000",
            .min = 1,
            .max = 3'600'000,
            .apply = kLive,
            .remote = true,
            .description = "Cap of the reconnect delay (at least backoff_initial_ms)."},
    KeySpec{
        .path = "upstream.reconnect_spread_ms",
        .type = kUint32,
        .default_text = "3000",
        .min = 0,
        .max = 600'000,
        .apply = kLive,
        .remote = true,
        .description =
            "While the upstream is away weir probes it every 0.25-0.75 s; once it answers, weir "
            "connects within a random delay up to this, so a fleet does not reconnect at "
            "once. Raise it for fleets of many thousands."},
    KeySpec{.path = "upstream.max_attempts",
            .type = kUint32,
            .default_text = "10",
            .min = 1,
            .max = 1000,
            .apply = kLive,
            .remote = true,
            .description = "Tries of a message the broker rejects before it is dead-lettered."},
    // --- logging ---
    KeySpec{.path = "log_level",
            .type = kString,
            .default_text = "info",
            .min = 0,
            .max = 16,
            .choices = "error|warn|info|debug|trace",
            .apply = kLive,
            .remote = true,
            .description = "Least severe level written to stderr."},
    // --- detect ---
    KeySpec{.path = "detect.enabled",
            .type = kBool,
            .default_text = "true",
            .apply = kLive,
            .remote = true,
            .description = "Run the detectors on the gateway."},
    KeySpec{.path = "detect.publish_local",
            .type = kBool,
            .default_text = "true",
            .apply = kLive,
            .remote = true,
            .description = "Publish each defect at once as JSON on the local broker, topic "
                           "`<prefix>/<device>/defects`, for local action."},
    KeySpec{.path = "detect.max_sensors",
            .type = kUint32,
            .default_text = "10000",
            .min = 1,
            .max = 1'000'000,
            .apply = kLive,
            .remote = true,
            .description =
                "Sensors tracked at most; readings of further sensors skip detection (counted)."},
    KeySpec{.path = "detect.incident_close_after_s",
            .type = kUint32,
            .default_text = "300",
            .min = 0,
            .max = kDay,
            .apply = kLive,
            .remote = true,
            .description = "A sensor's (or group's) incident closes after this long without a "
                           "finding; further findings while it is open update it. An `open` and "
                           "a `close` record per incident. 0: one defect per finding past the "
                           "hold-off."},
    KeySpec{.path = "detect.groups",
            .type = kList,
            .default_text = "[]",
            .min = 0,
            .max = 256,
            .apply = kLive,
            .remote = true,
            .description = "Multivariate groups: the sensors of one machine, sampled onto a time "
                           "grid, learnt, then watched by PCA T² and Q with control limits; a "
                           "group defect names the top contributing sensors. A sensor joins the "
                           "first group that matches it. A change here re-learns every group."},
    KeySpec{.path = "detect.groups[].name",
            .type = kString,
            .default_text = "",
            .min = 1,
            .max = 128,
            .apply = kLive,
            .remote = true,
            .description = "The group's name: the `sensor` of its defects; unique."},
    KeySpec{.path = "detect.groups[].sensors",
            .type = kString,
            .default_text = "",
            .min = 1,
            .max = 4096,
            .apply = kLive,
            .remote = true,
            .description = "Sensor ids or globs (`*`, `?`), separated by commas; at most 32 "
                           "sensors join, those seen in the group's first staleness period."},
    KeySpec{.path = "detect.groups[].interval_ms",
            .type = kUint32,
            .default_text = "1000",
            .min = 1,
            .max = 3'600'000,
            .apply = kLive,
            .remote = true,
            .description = "Step of the group's time grid."},
    KeySpec{.path = "detect.groups[].staleness_ms",
            .type = kUint32,
            .default_text = "5000",
            .min = 1,
            .max = 86'400'000,
            .apply = kLive,
            .remote = true,
            .description = "A sensor's last value stands for it on the grid this long; older, it "
                           "is missing (at least interval_ms)."},
    KeySpec{.path = "detect.groups[].learn_rows",
            .type = kUint32,
            .default_text = "1800",
            .min = 20,
            .max = 100'000'000,
            .apply = kLive,
            .remote = true,
            .description = "Complete grid rows of normal operation to learn from: the first half "
                           "fits the model, the second sets the control limits."},
    KeySpec{.path = "detect.groups[].learn_time_s",
            .type = kUint32,
            .default_text = "0",
            .min = 0,
            .max = kYear,
            .apply = kLive,
            .remote = true,
            .description = "When > 0, learn for this long (event time) instead of learn_rows."},
    KeySpec{.path = "detect.groups[].variance",
            .type = kDouble,
            .default_text = "0.9",
            .min_double = 0,
            .max_double = 1,
            .min_exclusive = true,
            .apply = kLive,
            .remote = true,
            .description = "Share of the variance the PCA model's components explain."},
    KeySpec{.path = "detect.groups[].alpha",
            .type = kDouble,
            .default_text = "1e-05",
            .min_double = 0,
            .max_double = 0.5,
            .min_exclusive = true,
            .apply = kLive,
            .remote = true,
            .description = "Per-row false alarm rate the control limits are set for."},
    KeySpec{.path = "detect.groups[].persistence",
            .type = kUint32,
            .default_text = "3",
            .min = 1,
            .max = 3600,
            .apply = kLive,
            .remote = true,
            .description = "Consecutive grid rows beyond a control limit before the group fires."},
    KeySpec{.path = "detect.groups[].top",
            .type = kUint32,
            .default_text = "3",
            .min = 1,
            .max = 32,
            .apply = kLive,
            .remote = true,
            .description = "Sensors a group defect names, by contribution."},
    KeySpec{.path = "detect.rules",
            .type = kList,
            .default_text = "[]",
            .min = 0,
            .max = 64,
            .apply = kLive,
            .remote = true,
            .description = "Detector settings per sensor-id pattern; the first matching rule wins. "
                           "Sensors no rule matches run `auto` with its defaults. A document that "
                           "sets the list replaces it whole."},
    KeySpec{
        .path = "detect.rules[].pattern",
        .type = kString,
        .default_text = "",
        .min = 0,
        .max = 256,
        .required = true,
        .apply = kLive,
        .remote = true,
        .description = "Glob on the sensor id: `*` any run, `?` one character, e.g. `boiler.*`."},
    KeySpec{.path = "detect.rules[].window.kind",
            .type = kString,
            .default_text = "tumbling",
            .min = 0,
            .max = 16,
            .choices = "tumbling|sliding|count",
            .apply = kLive,
            .remote = true,
            .description = "Window of the aggregates and the defect evidence: fixed `tumbling`, "
                           "overlapping `sliding`, or every `count` readings."},
    KeySpec{.path = "detect.rules[].window.size_s",
            .type = kUint32,
            .default_text = "60",
            .min = 1,
            .max = kDay,
            .apply = kLive,
            .remote = true,
            .description = "Window length (tumbling and sliding)."},
    KeySpec{.path = "detect.rules[].window.hop_s",
            .type = kUint32,
            .default_text = "0",
            .min = 0,
            .max = kDay,
            .apply = kLive,
            .remote = true,
            .description = "Sliding windows: a new one every hop_s, at most size_s and at least "
                           "size_s/16; 0 means size_s."},
    KeySpec{.path = "detect.rules[].window.count",
            .type = kUint32,
            .default_text = "100",
            .min = 1,
            .max = 100'000,
            .apply = kLive,
            .remote = true,
            .description = "Readings per count window."},
    KeySpec{.path = "detect.rules[].window.allowed_lateness_s",
            .type = kUint32,
            .default_text = "5",
            .min = 0,
            .max = 3600,
            .apply = kLive,
            .remote = true,
            .description = "Readings older than the newest event time minus this are late: "
                           "counted, not folded in."},
    KeySpec{.path = "detect.rules[].limits.enabled",
            .type = kBool,
            .default_text = "false",
            .apply = kLive,
            .remote = true,
            .description = "Static limits: a reading outside [min, max] is a defect."},
    KeySpec{.path = "detect.rules[].limits.min",
            .type = kDouble,
            .default_text = "-1e308",
            .min_double = kLowest,
            .max_double = kHighest,
            .apply = kLive,
            .remote = true,
            .description = "Lowest good value (at most max)."},
    KeySpec{.path = "detect.rules[].limits.max",
            .type = kDouble,
            .default_text = "1e308",
            .min_double = kLowest,
            .max_double = kHighest,
            .apply = kLive,
            .remote = true,
            .description = "Highest good value."},
    KeySpec{.path = "detect.rules[].rate.enabled",
            .type = kBool,
            .default_text = "false",
            .apply = kLive,
            .remote = true,
            .description = "Rate of change: a faster change than max_per_s is a defect."},
    KeySpec{.path = "detect.rules[].rate.max_per_s",
            .type = kDouble,
            .default_text = "1e308",
            .min_double = 0,
            .max_double = kHighest,
            .min_exclusive = true,
            .apply = kLive,
            .remote = true,
            .description = "Largest change per second, in value units."},
    KeySpec{.path = "detect.rules[].spike.enabled",
            .type = kBool,
            .default_text = "false",
            .apply = kLive,
            .remote = true,
            .description =
                "Spike: robust z-score against the median and MAD of the last `window` readings."},
    KeySpec{.path = "detect.rules[].spike.z",
            .type = kDouble,
            .default_text = "8",
            .min_double = 1,
            .max_double = 100,
            .apply = kLive,
            .remote = true,
            .description = "Robust z-score above which a reading is a spike."},
    KeySpec{.path = "detect.rules[].spike.window",
            .type = kUint32,
            .default_text = "64",
            .min = 8,
            .max = kSpikeMaxWindow,
            .apply = kLive,
            .remote = true,
            .description = "Readings the median and MAD are taken over."},
    KeySpec{.path = "detect.rules[].shift.enabled",
            .type = kBool,
            .default_text = "false",
            .apply = kLive,
            .remote = true,
            .description = "Level shift (CUSUM) and drift (EWMA) against a baseline set by the "
                           "first 200 readings."},
    KeySpec{.path = "detect.rules[].flatline.enabled",
            .type = kBool,
            .default_text = "false",
            .apply = kLive,
            .remote = true,
            .description = "Stuck value: the same value min_repeats times in a row."},
    KeySpec{.path = "detect.rules[].flatline.min_repeats",
            .type = kUint32,
            .default_text = "30",
            .min = 2,
            .max = 100'000,
            .apply = kLive,
            .remote = true,
            .description = "Equal readings in a row that make a flatline."},
    KeySpec{.path = "detect.rules[].dropout.enabled",
            .type = kBool,
            .default_text = "false",
            .apply = kLive,
            .remote = true,
            .description = "Dropout: no reading for longer than max_gap_s."},
    KeySpec{.path = "detect.rules[].dropout.max_gap_s",
            .type = kUint32,
            .default_text = "60",
            .min = 1,
            .max = kDay,
            .apply = kLive,
            .remote = true,
            .description = "Longest expected gap between readings (event time)."},
    KeySpec{.path = "detect.rules[].auto.enabled",
            .type = kBool,
            .default_text = "true",
            .apply = kLive,
            .remote = true,
            .description = "The combined anomaly score in [0, 1]; needs no tuning."},
    KeySpec{.path = "detect.rules[].auto.threshold",
            .type = kDouble,
            .default_text = "0.95",
            .min_double = 0,
            .max_double = 1,
            .min_exclusive = true,
            .apply = kLive,
            .remote = true,
            .description = "Score at or above which a reading raises an anomaly defect."},
    KeySpec{.path = "detect.rules[].holdoff_s",
            .type = kUint32,
            .default_text = "300",
            .min = 0,
            .max = kDay,
            .apply = kLive,
            .remote = true,
            .description = "After a defect the same detector on the same sensor stays quiet this "
                           "long: one incident, one alert."},
    KeySpec{.path = "detect.rules[].aggregate",
            .type = kString,
            .default_text = "off",
            .min = 0,
            .max = 16,
            .choices = "off|beside|instead",
            .apply = kLive,
            .remote = true,
            .description = "Window aggregates (count, min, max, mean, stddev) forwarded `beside` "
                           "or `instead` of the raw readings, or `off`."},
};

// "ingest.subscriptions[12].topic" -> "ingest.subscriptions[].topic".
std::string ElideIndices(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  bool in_index = false;
  for (char c : path) {
    if (c == '[') in_index = true;
    if (in_index && std::isdigit(static_cast<unsigned char>(c))) continue;
    if (c == ']') in_index = false;
    out.push_back(c);
  }
  return out;
}

std::string TypeName(const KeySpec& k) {
  switch (k.type) {
    case kString:
      return "string";
    case kUint32:
      return "uint32";
    case kUint64:
      return "uint64";
    case kInt32:
      return "int32";
    case kDouble:
      return "double";
    case kBool:
      return "bool";
    case kList:
      return "list";
  }
  return "?";
}

}  // namespace

std::string DoubleText(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : "?";
}

namespace {

std::string RangeText(const KeySpec& k) {
  std::string choices(k.choices);
  for (char& c : choices) {
    if (c == '|') c = '/';
  }
  if (!choices.empty()) return "one of " + choices;  // "json/number/line"
  switch (k.type) {
    case kString: {
      std::string rule;
      switch (k.rule) {
        case kAny:
          break;
        case kUrl:
          rule = "mqtt:// or mqtts:// URL, ";
          break;
        case kTopicSafeId:
          rule = "[A-Za-z0-9._-], ";
          break;
        case kTopicFilter:
          rule = "MQTT topic filter, ";
          break;
        case kTopicPrefix:
          rule = "MQTT topic, no wildcards, ";
          break;
        case kClientId:
          rule = "printable ASCII, no spaces, ";
          break;
        case kAbsolutePath:
          rule = "absolute path, ";
          break;
      }
      std::string len = k.min > 0 ? std::to_string(k.min) + ".." + std::to_string(k.max)
                                  : "at most " + std::to_string(k.max);
      return rule + len + " bytes";
    }
    case kList:
      return std::to_string(k.min) + ".." + std::to_string(k.max) + " items";
    case kBool:
      return "true/false";
    case kDouble:
      if (k.min_double == kLowest && k.max_double == kHighest) return "any finite number";
      if (k.min_exclusive) {
        return "> " + DoubleText(k.min_double) +
               (k.max_double == kHighest ? ", finite" : ", <= " + DoubleText(k.max_double));
      }
      return DoubleText(k.min_double) + ".." + DoubleText(k.max_double);
    default:
      return std::to_string(k.min) + ".." + std::to_string(k.max);
  }
}

}  // namespace

std::span<const KeySpec> Schema() { return kSchema; }

const KeySpec* FindKey(std::string_view path) {
  const std::string elided = ElideIndices(path);
  for (const KeySpec& k : kSchema) {
    if (k.path == elided) return &k;
  }
  return nullptr;
}

std::string EnvName(std::string_view path) {
  std::string out = "WEIR_";
  for (char c : path) {
    if (c == '.' || c == '[') {
      out += "__";
    } else if (c != ']') {
      out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

std::string ReferenceMarkdown() {
  std::string md =
      "| key | type | default | allowed | remote | applies | description |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const KeySpec& k : kSchema) {
    std::string def = k.default_text.empty() ? (k.required ? "(required)" : "\"\"")
                                             : "`" + std::string(k.default_text) + "`";
    md += "| `" + std::string(k.path) + "` | " + TypeName(k) + " | " + def + " | " + RangeText(k) +
          " | " + (k.remote ? "yes" : "no") + " | " + (k.apply == kLive ? "live" : "restart") +
          " | " + std::string(k.description) + " |\n";
  }
  return md;
}

}  // namespace weir::config
