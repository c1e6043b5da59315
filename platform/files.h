// Files: the durable file operations weir relies on — atomic replace, directory fsync, bounded
// reads, filesystem space, directory creation — with errors as Status naming path and errno.
//
// All functions are thread-safe (they share no state) and block on disk I/O. Paths are used as
// given; relative paths resolve against the working directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "agent/core/status.h"

namespace weir::platform {

// Replaces `path` with `contents` so that after a crash or power cut the file holds either the old
// or the new contents, never a mix: writes a temporary file in the same directory, fsyncs it,
// renames it over `path`, then fsyncs the directory so the rename itself is durable. The new file
// gets `mode` (exactly, regardless of umask). On failure the temporary file is removed and
// `path` is untouched. Returns kIoError, kResourceExhausted when the disk is full, or kNotFound
// when the directory does not exist.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode = 0644);

// fsyncs a directory, making creations, renames and unlinks in it durable. Returns kIoError or
// kNotFound.
Status FsyncDirectory(const std::filesystem::path& dir);

// Reads a whole regular file. Returns kNotFound if it does not exist, kResourceExhausted if it is
// larger than `max_bytes` (checked before and while reading, so a growing file cannot exceed it),
// kIoError otherwise.
Result<std::string> ReadFile(const std::filesystem::path& path, size_t max_bytes);

// Space on the filesystem holding `path`.
struct FilesystemSpace {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;  // to an unprivileged process (statvfs f_bavail)
  uint64_t free_bytes = 0;       // including the root reserve (f_bfree)
};
// Returns kNotFound or kIoError.
Result<FilesystemSpace> GetFilesystemSpace(const std::filesystem::path& path);

// Size in bytes of the file at `path` (following symlinks). Returns kNotFound or kIoError.
Result<uint64_t> FileSize(const std::filesystem::path& path);

// Makes sure `dir` exists as a directory, creating it and any missing parents with `mode`
// (exactly, regardless of umask). An existing directory keeps its mode: an administrator may have
// chosen another. Returns kFailedPrecondition if `dir` (or a parent) exists but is not a
// directory, kIoError otherwise.
Status EnsureDirectory(const std::filesystem::path& dir, mode_t mode = 0750);

// "<what> <path>: <strerror(err)>", the message every platform error uses; kNotFound for ENOENT,
// kResourceExhausted for no space (ENOSPC, EDQUOT: a full disk can pass, e.g. the log retries it),
// kIoError otherwise.
Status ErrnoStatus(std::string_view what, const std::filesystem::path& path, int err);

}  // namespace weir::platform
