// The disk as a second quota and a full disk, with the real binary, real brokers and a real small
// filesystem: a tmpfs the test mounts on the agent's state directory (root only; skipped with a
// message where mount(2) is refused) and fills with another file while weir runs (issue 10,
// item 3). weir keeps running, loses none of what it committed, forwards its backlog while the
// disk is full, and resumes ingest when the space comes back.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/agent_harness.h"
#include "tests/support/test_support.h"

namespace weir {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;
using testing::AgentRig;
using testing::Diagnostics;
using testing::JsonCount;
using testing::SimulateArgs;
using testing::WaitFor;

constexpr uint64_t kMiB = 1 << 20;

// A tmpfs of `size_mib` mounted on `dir` for the test's lifetime (lazily unmounted at the end,
// so a child still holding files there does not keep it busy).
class TmpfsMount {
 public:
  static std::unique_ptr<TmpfsMount> Mount(const fs::path& dir, int size_mib, std::string* why) {
    fs::create_directories(dir);
    const std::string opts = "size=" + std::to_string(size_mib) + "m,mode=0755";
    if (::mount("weir-test", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      *why = std::string("mount -t tmpfs on ") + dir.string() + ": " + std::strerror(errno);
      return nullptr;
    }
    return std::unique_ptr<TmpfsMount>(new TmpfsMount(dir));
  }
  ~TmpfsMount() { ::umount2(dir_.c_str(), MNT_DETACH); }

 private:
  explicit TmpfsMount(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

uint64_t Available(const fs::path& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return 0;
  return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
}

// Another program filling the disk: appends to `file` until `leave` bytes are available on its
// filesystem, or, with leave 0, until write(2) says ENOSPC. Returns the bytes it holds.
uint64_t Fill(const fs::path& file, uint64_t leave) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return 0;
  const std::string block(64 << 10, 'f');
  for (;;) {
    const uint64_t avail = Available(file.parent_path());
    if (leave > 0 && avail <= leave) break;
    const size_t n = leave > 0 ? std::min<uint64_t>(block.size(), avail - leave) : block.size();
    const ssize_t w = ::write(fd, block.data(), n);
    if (w <= 0) break;  // ENOSPC: full
  }
  ::close(fd);
  std::error_code ec;
  return fs::file_size(file, ec);
}

void ExpectEverythingDeliveredInOrder(const json& report, uint64_t published) {
  ASSERT_FALSE(report.empty()) << "the sink did not write a final report";
  EXPECT_EQ(JsonCount(report, "/lanes/readings/delivered"), published) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/order_violations"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/silent_gaps"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/lanes/readings/evicted_records"), 0u) << report.dump(2);
  EXPECT_EQ(JsonCount(report, "/undecodable"), 0u) << report.dump(2);
}

#define WEIR_MOUNT_OR_SKIP(var, dir, size_mib)             \
  std::string var##_why;                                   \
  auto var = TmpfsMount::Mount(dir, size_mib, &var##_why); \
  if (var == nullptr) GTEST_SKIP() << "cannot mount a tmpfs: " << var##_why

// Small quota: a 512 KiB WAL allowance instead of 4 MiB, so the reserve arithmetic fits a small
// filesystem; pause_ingest, so nothing may be evicted: every reading must arrive.
std::vector<std::string> AgentArgs(uint64_t min_free_bytes) {
  return {"--set", "store.quota_bytes=4194304",
          "--set", "store.quota_policy=pause_ingest",
          "--set", "store.min_free_bytes=" + std::to_string(min_free_bytes)};
}

TEST(DiskFullFault, ReserveReachedPausesIngestAndResumesWhenAnotherProgramFreesSpace) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  WEIR_MOUNT_OR_SKIP(mount, rig->state_dir(), 32);
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent(AgentArgs(8 * kMiB))) << rig->AgentStderr();
  uint64_t published = 0;
  auto sim = rig->Simulate({.count = 2000, .rate = 2000, .sensors = 20, .seed = 1});
  published += sim.published;
  ASSERT_TRUE(rig->WaitForSinkDelivered(published, seconds(30))) << Diagnostics(*rig);

  const fs::path filler = rig->state_dir() / "filler";
  Fill(filler, 4 * kMiB);  // below the 8 MiB reserve, but status.json can still be written
  sim = rig->Simulate({.count = 2000, .rate = 2000, .sensors = 20, .seed = 2});
  published += sim.published;
  ASSERT_TRUE(WaitFor(
      [&] {
        const json s = rig->AgentStatus();
        return s["store"].value("limit", "") == "disk_reserve" && s["store"].value("paused", false);
      },
      seconds(20)))
      << Diagnostics(*rig);
  EXPECT_LT(rig->SinkDelivered(), published) << "ingest should be held back";
  EXPECT_EQ(JsonCount(rig->AgentStatus(), "/store/bytes/min_free_bytes"), 8 * kMiB);

  // Then the other program takes everything: weir must not crash or restart.
  Fill(filler, 0);
  sim = rig->Simulate({.count = 1000, .rate = 2000, .sensors = 20, .seed = 3});
  published += sim.published;
  ASSERT_TRUE(testing::HoldFor(seconds(3), [&] { return rig->agent_running(); }))
      << "weir exited on a full disk" << Diagnostics(*rig);

  fs::remove(filler);
  ASSERT_TRUE(rig->WaitForSinkDelivered(published, seconds(60))) << Diagnostics(*rig);
  ASSERT_TRUE(WaitFor([&] { return rig->AgentStatus()["store"].value("limit", "") == "none"; },
                      seconds(20)))
      << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  ExpectEverythingDeliveredInOrder(rig->StopSink(), published);
}

TEST(DiskFullFault, RealENOSPCWhileRunningIsRetriedNotFatal) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  WEIR_MOUNT_OR_SKIP(mount, rig->state_dir(), 32);
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent(AgentArgs(0))) << rig->AgentStderr();  // no reserve: hit the wall
  uint64_t published = 0;
  auto sim = rig->Simulate({.count = 1000, .rate = 2000, .sensors = 20, .seed = 1});
  published += sim.published;
  ASSERT_TRUE(rig->WaitForSinkDelivered(published, seconds(30))) << Diagnostics(*rig);

  const fs::path filler = rig->state_dir() / "filler";
  Fill(filler, 0);
  // Enough that the WAL must grow past what it already holds: commits find the disk full.
  auto background = rig->SimulateInBackground(
      {.count = 30000, .rate = 5000, .sensors = 50, .seed = 2, .client_id = "it-sim-2"});
  ASSERT_TRUE(testing::HoldFor(seconds(8), [&] { return rig->agent_running(); }))
      << "weir exited on a full disk" << Diagnostics(*rig);
  const int sim_exit = background->Wait(seconds(60));
  ASSERT_EQ(sim_exit, 0);
  published += rig->SimulateSummary(sim_exit).published;
  ASSERT_TRUE(rig->agent_running()) << Diagnostics(*rig);

  fs::remove(filler);
  ASSERT_TRUE(rig->WaitForSinkDelivered(published, seconds(90))) << Diagnostics(*rig);
  ASSERT_TRUE(rig->WaitForFreshStatus());
  EXPECT_GT(rig->StatusCount("/store/disk_full_commits"), 0u)
      << "the test never filled the disk for weir" << Diagnostics(*rig);
  EXPECT_EQ(rig->AgentStatus()["store"].value("limit", ""), "none");
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  ExpectEverythingDeliveredInOrder(rig->StopSink(), published);
}

TEST(DiskFullFault, StartsOnAFullDiskForwardsTheBacklogAndResumesWhenSpaceReturns) {
  WEIR_START_RIG_OR_SKIP(rig, AgentRig::DefaultOptions());
  WEIR_MOUNT_OR_SKIP(mount, rig->state_dir(), 32);
  ASSERT_TRUE(rig->StartSink());
  ASSERT_TRUE(rig->StartAgent(AgentArgs(0))) << rig->AgentStderr();
  // A backlog: committed during an upstream outage, then a clean stop.
  ASSERT_TRUE(rig->upstream().Stop().ok());
  uint64_t published = 0;
  auto sim = rig->Simulate({.count = 3000, .rate = 3000, .sensors = 20, .seed = 1});
  published += sim.published;
  ASSERT_TRUE(WaitFor([&] { return rig->StatusCount("/store/readings_committed") >= published; },
                      seconds(30)))
      << Diagnostics(*rig);
  ASSERT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();

  const fs::path filler = rig->state_dir() / "filler";
  Fill(filler, 0);
  ASSERT_LT(Available(rig->state_dir()), 64u << 10);
  ASSERT_TRUE(rig->upstream().Restart().ok());
  rig->StartAgent(AgentArgs(0));  // status.json cannot be written: do not wait on it
  ASSERT_TRUE(testing::HoldFor(seconds(2), [&] { return rig->agent_running(); }))
      << "weir did not start on a full disk" << Diagnostics(*rig);
  ASSERT_TRUE(rig->WaitForSinkDelivered(published, seconds(60)))
      << "the backlog was not forwarded on a full disk" << Diagnostics(*rig);
  sim = rig->Simulate({.count = 1000, .rate = 2000, .sensors = 20, .seed = 2});
  published += sim.published;
  ASSERT_TRUE(testing::HoldFor(seconds(2), [&] { return rig->agent_running(); }))
      << Diagnostics(*rig);

  fs::remove(filler);
  ASSERT_TRUE(rig->WaitForSinkDelivered(published, seconds(60))) << Diagnostics(*rig);
  ASSERT_TRUE(WaitFor([&] { return rig->AgentStatus()["store"].value("limit", "") == "none"; },
                      seconds(20)))
      << Diagnostics(*rig);
  EXPECT_EQ(rig->StopAgent(), 0) << rig->AgentStderr();
  ExpectEverythingDeliveredInOrder(rig->StopSink(), published);
}

}  // namespace
}  // namespace weir
