// `weir status` and `weir config check`, run as the real binary on fixture files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir::app {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProgramResult;
using testing::RunProgram;
using testing::TempDir;
using testing::WeirBinary;

ProgramResult Weir(std::vector<std::string> args) {
  args.insert(args.begin(), WeirBinary().string());
  return RunProgram(args);
}

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A status.json as `weir run` writes it (status_file.cc), with the upstream down and a backlog.
std::string StatusFixture(int64_t time_us) {
  return R"({
  "device": "gw-0017", "pid": 4242, "state": "running", "uptime_s": 11530.4,
  "time_us": )" +
         std::to_string(time_us) +
         R"(,
  "ingest": {"local": "connected", "messages": 5000, "readings": 5000, "rejected": 3,
             "rejected_by_reason": {"bad_json": 2, "too_large": 1}, "queue_depth": 0,
             "dropped_at_shutdown": 0, "readings_per_s": 120.5},
  "store": {"readings_committed": 4997, "defects_committed": 4, "dead_letters_committed": 3,
            "commits": 90, "last_seq": 5004, "paused": false, "paused_ms": 0},
  "forward": {"upstream": "disconnected", "messages_sent": 40, "messages_acked": 38,
              "readings_acked": 3797, "defects_acked": 4, "gaps_sent": 0, "readings_per_s": 0,
              "resends": 2, "rejections": 1, "dead_letters": 1, "inflight": 0, "connects": 2,
              "connection_losses": 1, "acked_seq": {"defects": 4, "readings": 3800},
              "backlog_rows": 1200, "backlog_bytes": 3400000, "oldest_unsent_age_s": 35.2,
              "last_error": "connect refused"},
  "detect": {"enabled": true, "defects": 4, "incidents_opened": 3, "incidents_closed": 2,
             "incidents_open": 1, "open_incidents": [{"incident_id": "00000000000000ab",
             "sensor": "pump1", "detector": "pump1.mspc", "opened_at_us": 1700000000000000,
             "last_firing_us": 1700000060000000, "peak_score": 0.93, "firings": 12}]},
  "reload": {"applied": 2, "refused": 1, "last_error": "device_id: required"}
}
)";
}

TEST(StatusCommand, SummarizesTheStatusFileForPeople) {
  TempDir dir;
  testing::WriteFileBytes(dir / "status.json", StatusFixture(NowMicros()));
  const ProgramResult r = Weir({"status", "--state", dir.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("weir on gw-0017: running, up 3 h 12 min (pid 4242)\n"));
  EXPECT_THAT(r.out, HasSubstr("local broker: connected; 120.5 readings/s in"));
  EXPECT_THAT(r.out, HasSubstr("upstream:     disconnected (connect refused); 0.0 readings/s"));
  EXPECT_THAT(r.out, HasSubstr("backlog:      1200 records (3.4 MB), oldest unsent 35 s old\n"));
  EXPECT_THAT(r.out, HasSubstr("rejected:     3 at ingest (2 bad_json, 1 too_large); 1 "
                               "refused upstream, 1 dead letters\n"));
  EXPECT_THAT(r.out, HasSubstr("defects:      4 detected\n"));
  EXPECT_THAT(r.out, HasSubstr("incidents:    1 open, 2 closed\n"));
  EXPECT_THAT(r.out, HasSubstr("    pump1 (pump1.mspc, id 00000000000000ab): open since "
                               "2023-11-14T22:13:20Z, peak 0.930, 12 firing(s)\n"));
  EXPECT_THAT(r.out, HasSubstr("reloads:      2 applied, 1 refused (last: device_id: "));
  EXPECT_THAT(r.out, HasSubstr("last error:   connect refused\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("STALE")));
}

TEST(StatusCommand, FlagsAFileThatIsNoLongerRewritten) {
  TempDir dir;
  testing::WriteFileBytes(dir / "status.json", StatusFixture(NowMicros() - 600'000'000));
  const ProgramResult r = Weir({"status", "--state", dir.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("STALE: the status file was last written 10 min"));
}

TEST(StatusCommand, JsonPrintsTheFileAsItIs) {
  TempDir dir;
  const std::string fixture = StatusFixture(NowMicros());
  testing::WriteFileBytes(dir / "status.json", fixture);
  const ProgramResult r = Weir({"status", "--state", dir.path().string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, fixture);
}

TEST(StatusCommand, MissingOrBrokenFilesFailWithTheReason) {
  TempDir dir;
  ProgramResult r = Weir({"status", "--state", dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("is weir run using --state"));
  testing::WriteFileBytes(dir / "status.json", "{\"device\": ");
  r = Weir({"status", "--state", dir.path().string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not a JSON object"));
}

// The package's default /etc/weir/weir.json names what is left to fill in.
TEST(ConfigCheck, ThePackagedDefaultNamesTheMissingKeys) {
  const ProgramResult r = Weir({"config", "check", WEIR_PACKAGED_CONFIG});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("device_id"));
  EXPECT_THAT(r.err, HasSubstr("upstream.broker.url"));
}

TEST(ConfigCheck, AFilledInConfigIsValid) {
  TempDir dir;
  testing::WriteFileBytes(dir / "weir.json", R"({"device_id": "gw-1",
    "upstream": {"broker": {"url": "mqtt://fleet.example.com:1883"}}})");
  const ProgramResult r = Weir({"config", "check", (dir / "weir.json").string(), "--print"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("valid (device gw-1, upstream mqtt://fleet.example.com:1883)"));
  EXPECT_THAT(r.out, HasSubstr("\"state_dir\": \"/var/lib/weir\""));
}

TEST(ConfigCheck, UnknownKeysAndUnreadableFilesAreNamed) {
  TempDir dir;
  testing::WriteFileBytes(dir / "weir.json", R"({"upstream": {"brokr": {}}})");
  ProgramResult r = Weir({"config", "check", (dir / "weir.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("upstream.brokr: unknown key"));
  r = Weir({"config", "check", (dir / "absent.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("absent.json"));
}

}  // namespace
}  // namespace weir::app
