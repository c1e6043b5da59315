// WindowAggregator: one sensor's tumbling, sliding (hopping) or count windows over event time,
// with a watermark (newest event time minus the allowed lateness). Late readings are counted and
// not folded in. A window is emitted once, when the watermark passes its end.
//
// Fixed memory: room for OpenWindowsFor(config) windows (what in-order readings within the allowed
// lateness can keep open at once: 2 for the default tumbling window) is reserved at construction;
// a stream that needs more grows it up to kMaxOpen, then the oldest window is closed early. Not
// thread-safe; owned by the engine's per-sensor state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "agent/core/record.h"
#include "agent/detect/config.h"

namespace weir::detect {

struct WindowResult {
  TimeMicros start_us = 0;
  TimeMicros end_us = 0;  // exclusive; for count windows the last reading's time
  WindowStats stats;
  friend bool operator==(const WindowResult&, const WindowResult&) = default;
};

class WindowAggregator {
 public:
  // Sliding windows overlap size/hop at a time; Validate() keeps that at most kMaxOverlap.
  static constexpr int kMaxOverlap = 16;
  static constexpr int kMaxOpen = kMaxOverlap + 8;

  explicit WindowAggregator(const WindowConfig& config);

  // How many windows of this config can be open at once when readings arrive in time order:
  // the windows a reading falls in plus those the allowed lateness keeps from closing.
  static int OpenWindowsFor(const WindowConfig& config);
  static constexpr size_t kBytesPerOpenWindow = 72;  // sizeof(Slot); checked in window.cc

  // Folds one reading in and appends the windows it closes to *closed. Returns false (and counts
  // it) when the reading is late, i.e. older than the watermark.
  bool Add(TimeMicros t, double value, std::vector<WindowResult>* closed);

  // Moves the watermark to at least `watermark` (time advancing with no readings) and appends the
  // windows that closes.
  void AdvanceWatermark(TimeMicros watermark, std::vector<WindowResult>* closed);

  // The newest open window (for a defect's evidence); empty stats when none is open.
  WindowResult Current() const;

  TimeMicros watermark() const { return watermark_; }
  uint64_t late() const { return late_; }
  // Windows closed early because more than kMaxOpen were open (only with extreme lateness).
  uint64_t forced_closes() const { return forced_; }

 private:
  struct Slot {
    bool open = false;
    TimeMicros start = 0, end = 0, last_t = 0;
    uint64_t count = 0;
    double min = 0, max = 0, mean = 0, m2 = 0;  // Welford
  };
  void Fold(Slot& slot, TimeMicros t, double value);
  Slot* Find(TimeMicros start);
  Slot* Open(TimeMicros start, TimeMicros end, std::vector<WindowResult>* closed);
  void Close(Slot& slot, std::vector<WindowResult>* closed);

  WindowConfig config_;
  std::vector<Slot> slots_;  // open and free slots, never more than kMaxOpen
  TimeMicros watermark_ = std::numeric_limits<TimeMicros>::min();
  uint64_t late_ = 0;
  uint64_t forced_ = 0;
};

}  // namespace weir::detect
