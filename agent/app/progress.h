// A one-line progress bar for long imports and exports, drawn on stderr only when stderr is a
// terminal (scripts and logs see nothing). Not thread-safe: one owner updates it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace weir::app {

class ProgressBar {
 public:
  // `total` is the amount of work in `unit`s (e.g. bytes of input); 0 means unknown (a counter
  // with a rate is shown instead of a bar). Enabled only when stderr is a TTY.
  ProgressBar(std::string label, uint64_t total, std::string unit);
  ~ProgressBar();  // finishes the line if anything was drawn
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Sets the amount done; redraws at most ~10 times a second, so it is cheap to call often.
  void Update(uint64_t done);
  // Draws the final state and ends the line.
  void Finish();

  // Forces drawing on or off (tests, `--no-progress`).
  void set_enabled(bool enabled) { enabled_ = enabled; }
  bool enabled() const { return enabled_; }
  // Sets the total once it is known (0: unknown).
  void set_total(uint64_t total) { total_ = total; }

 private:
  void Draw(bool final);

  std::string label_;
  uint64_t total_;
  std::string unit_;
  uint64_t done_ = 0;
  bool enabled_;
  bool drawn_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace weir::app
