// Helpers for tests: a fake clock, a temporary directory removed at scope exit, the NAB data
// location, and a condition wait with a deadline (tests never sleep a fixed time).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "agent/core/clock.h"

namespace weir::testing {

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t wall_us = 1'700'000'000'000'000) : wall_us_(wall_us) {}
  TimePoint Now() const override {
    std::lock_guard lock(mu_);
    return mono_;
  }
  int64_t WallMicros() const override {
    std::lock_guard lock(mu_);
    return wall_us_;
  }
  void Advance(Duration d) {
    std::lock_guard lock(mu_);
    mono_ += d;
    wall_us_ += std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  }

 private:
  mutable std::mutex mu_;
  TimePoint mono_{};
  int64_t wall_us_;
};

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// The NAB checkout (env WEIR_NAB_DIR), or nullopt when it is absent. Tests call
// GTEST_SKIP() << NabMissingMessage() when this is empty.
std::optional<std::filesystem::path> NabDir();
std::string NabMissingMessage();

// The whole content of a file ("" when it cannot be read), and writing one (replacing it).
std::string ReadFileBytes(const std::filesystem::path& path);
void WriteFileBytes(const std::filesystem::path& path, const std::string& bytes);

// The build directory (env WEIR_BINARY_DIR, set by ctest), to find the weir binary.
std::filesystem::path BinaryDir();

// Polls `condition` until it is true or `timeout` passes; returns its last value.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace weir::testing
