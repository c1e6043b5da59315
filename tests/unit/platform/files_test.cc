// platform/files: atomic replace, bounded reads, sizes, space and directory creation on real files.
#include "platform/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "tests/support/test_support.h"

namespace weir::platform {
namespace {

namespace fs = std::filesystem;

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

size_t EntriesIn(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(Files, WriteFileAtomicallyCreatesThenReplacesLeavingNoTemporaryFiles) {
  weir::testing::TempDir dir;
  const fs::path path = dir / "config.json";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second, longer contents").ok());
  auto read = ReadFile(path, 1024);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, "second, longer contents");
  EXPECT_EQ(EntriesIn(dir.path()), 1u);
}

TEST(Files, WriteFileAtomicallyAppliesTheExactModeDespiteTheUmask) {
  weir::testing::TempDir dir;
  const mode_t old_umask = ::umask(077);
  const Status s = WriteFileAtomically(dir / "public", "x", 0644);
  ::umask(old_umask);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ModeOf(dir / "public"), 0644u);
  ASSERT_TRUE(WriteFileAtomically(dir / "secret", "x", 0600).ok());
  EXPECT_EQ(ModeOf(dir / "secret"), 0600u);
}

TEST(Files, WriteFileAtomicallyIntoAMissingDirectoryIsNotFoundAndNamesThePath) {
  weir::testing::TempDir dir;
  const Status s = WriteFileAtomically(dir / "missing" / "f", "x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find((dir / "missing").string()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
}

TEST(Files, FailedRenameLeavesTheTargetAndNoTemporaryFile) {
  weir::testing::TempDir dir;
  // A non-empty directory cannot be replaced by a file: rename fails after the temp is written.
  fs::create_directory(dir / "target");
  std::ofstream(dir / "target" / "keep") << "kept";
  const Status s = WriteFileAtomically(dir / "target", "new");
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_TRUE(fs::is_directory(dir / "target"));
  EXPECT_EQ(EntriesIn(dir.path()), 1u);
}

TEST(Files, FsyncDirectorySucceedsOnADirectoryAndReportsAMissingOne) {
  weir::testing::TempDir dir;
  EXPECT_TRUE(FsyncDirectory(dir.path()).ok());
  EXPECT_EQ(FsyncDirectory(dir / "nope").code(), StatusCode::kNotFound);
}

TEST(Files, ReadFileRefusesFilesOverTheLimit) {
  weir::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "f", std::string(100, 'a')).ok());
  EXPECT_TRUE(ReadFile(dir / "f", 100).ok());
  const auto r = ReadFile(dir / "f", 99);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("99"), std::string::npos) << r.status().message();
}

TEST(Files, ReadFileReportsMissingFilesAndDirectories) {
  weir::testing::TempDir dir;
  EXPECT_EQ(ReadFile(dir / "absent", 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadFile(dir.path(), 10).status().code(), StatusCode::kIoError);
}

TEST(Files, ReadFileReadsAnEmptyFile) {
  weir::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "empty", "").ok());
  auto r = ReadFile(dir / "empty", 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(Files, FileSizeReportsBytes) {
  weir::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "f", std::string(12345, 'z')).ok());
  auto size = FileSize(dir / "f");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 12345u);
  EXPECT_EQ(FileSize(dir / "absent").status().code(), StatusCode::kNotFound);
}

TEST(Files, FilesystemSpaceIsConsistent) {
  weir::testing::TempDir dir;
  auto space = GetFilesystemSpace(dir.path());
  ASSERT_TRUE(space.ok()) << space.status().ToString();
  EXPECT_GT(space->total_bytes, 0u);
  EXPECT_LE(space->available_bytes, space->free_bytes);
  EXPECT_LE(space->free_bytes, space->total_bytes);
  EXPECT_EQ(GetFilesystemSpace(dir / "absent").status().code(), StatusCode::kNotFound);
}

TEST(Files, EnsureDirectoryCreatesParentsWithTheModeAndLeavesExistingOnesAlone) {
  weir::testing::TempDir dir;
  const fs::path deep = dir / "a" / "b" / "c";
  ASSERT_TRUE(EnsureDirectory(deep, 0750).ok());
  EXPECT_TRUE(fs::is_directory(deep));
  EXPECT_EQ(ModeOf(deep), 0750u);
  EXPECT_EQ(ModeOf(dir / "a"), 0750u);
  ASSERT_EQ(::chmod(deep.c_str(), 0700), 0);
  ASSERT_TRUE(EnsureDirectory(deep, 0755).ok());
  EXPECT_EQ(ModeOf(deep), 0700u);
}

TEST(Files, ErrnoStatusTellsNoSpaceFromOtherErrors) {
  EXPECT_EQ(ErrnoStatus("writing", "/x", ENOENT).code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus("writing", "/x", ENOSPC).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus("writing", "/x", EDQUOT).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoStatus("writing", "/x", EIO).code(), StatusCode::kIoError);
  EXPECT_EQ(ErrnoStatus("writing", "/x", ENOSPC).message(),
            std::string("writing /x: ") + std::strerror(ENOSPC));
}

TEST(Files, EnsureDirectoryRefusesAPathThatIsAFile) {
  weir::testing::TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "file", "x").ok());
  EXPECT_EQ(EnsureDirectory(dir / "file").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(EnsureDirectory(dir / "file" / "sub").code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace weir::platform
