// platform/instance_lock: one holder per state directory, across descriptors and processes.
#include "platform/instance_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "platform/files.h"
#include "tests/support/test_support.h"

namespace weir::platform {
namespace {

TEST(InstanceLock, SecondHolderGetsAlreadyExistsNamingTheHolderPid) {
  weir::testing::TempDir dir;
  auto first = InstanceLock::Acquire(dir.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // A second acquisition opens its own descriptor, which flock treats as a separate holder.
  auto second = InstanceLock::Acquire(dir.path());
  ASSERT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(second.status().message().find("pid " + std::to_string(::getpid())), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(dir.path().string()), std::string::npos);
}

TEST(InstanceLock, AcquireFileLocksThatFileAndSaysWhatIsBusy) {
  weir::testing::TempDir dir;
  const std::filesystem::path path = dir / "log.db.lock";
  auto first = InstanceLock::AcquireFile(path, "log log.db is open by another writer");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->path(), path);
  auto second = InstanceLock::AcquireFile(path, "log log.db is open by another writer");
  ASSERT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message().rfind("log log.db is open by another writer (pid ", 0), 0u)
      << second.status().message();
  EXPECT_NE(second.status().message().find(path.string()), std::string::npos);
  // Another file in the same directory is another lock.
  EXPECT_TRUE(InstanceLock::AcquireFile(dir / "other.lock", "busy").ok());
}

TEST(InstanceLock, ReleasedOnDestructionSoTheNextHolderSucceeds) {
  weir::testing::TempDir dir;
  {
    auto first = InstanceLock::Acquire(dir.path());
    ASSERT_TRUE(first.ok());
    InstanceLock moved = std::move(*first);  // the moved-from object must not release it
    EXPECT_EQ(InstanceLock::Acquire(dir.path()).status().code(), StatusCode::kAlreadyExists);
  }
  EXPECT_TRUE(InstanceLock::Acquire(dir.path()).ok());
}

TEST(InstanceLock, AnotherProcessCannotTakeAHeldLock) {
  weir::testing::TempDir dir;
  auto held = InstanceLock::Acquire(dir.path());
  ASSERT_TRUE(held.ok());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The inherited descriptor shares our lock, but the child's own open of the lock file is a
    // separate holder, as a second weir process would be.
    auto theirs = InstanceLock::Acquire(dir.path());
    ::_exit(theirs.status().code() == StatusCode::kAlreadyExists ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(InstanceLock, ALockHeldByAnExitedProcessIsFreeAndItsPidIsReplaced) {
  weir::testing::TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = InstanceLock::Acquire(dir.path());
    ::_exit(lock.ok() ? 0 : 1);  // exits holding the lock: the kernel must release it
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto content = ReadFile(dir / "lock", 64);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, std::to_string(child) + "\n");
  auto mine = InstanceLock::Acquire(dir.path());
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  EXPECT_EQ(*ReadFile(dir / "lock", 64), std::to_string(::getpid()) + "\n");
}

TEST(InstanceLock, AMissingStateDirectoryIsNotFound) {
  weir::testing::TempDir dir;
  EXPECT_EQ(InstanceLock::Acquire(dir / "absent").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace weir::platform
