// Runs a real program from a test: to completion with its output captured (RunProgram), or in
// the background to be killed at a chosen moment (Subprocess). Used by tests of the `weir`
// binary and by fault tests. Not thread-safe; one owner per object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace weir::testing {

struct ProgramResult {
  int exit_code = -1;  // the exit status, or 128 + signal when killed by a signal
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
  bool timed_out = false;
};

// Runs `argv` (argv[0] is a path) with stdin from /dev/null, waits up to `timeout`, and returns
// its exit code and output. A program still running at the deadline is killed (timed_out).
ProgramResult RunProgram(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The `weir` binary of this build.
std::filesystem::path WeirBinary();

// A background child process with stdout and stderr sent to files (or /dev/null).
class Subprocess {
 public:
  // Starts `argv`. On failure to fork/exec the child exits 127 (seen by Wait).
  explicit Subprocess(const std::vector<std::string>& argv,
                      const std::filesystem::path& stdout_file = "/dev/null",
                      const std::filesystem::path& stderr_file = "/dev/null");
  ~Subprocess();  // kills (SIGKILL) and reaps a child still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `signal`; no effect once the child was reaped.
  void Signal(int signal);
  // Waits for exit up to `timeout`; returns the exit code (128 + signal when killed), or -1 if
  // still running at the deadline.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  bool running();

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

}  // namespace weir::testing
