// Clock: the one way weir code reads time, so tests can inject a fake one.
//
// Implementations are thread-safe. Now() is monotonic (for timeouts, intervals, rates);
// WallMicros() is the wall clock (for stamping readings that carry no time of their own).
#pragma once

#include <chrono>
#include <cstdint>

namespace weir {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time.
  virtual TimePoint Now() const = 0;
  // Microseconds since the Unix epoch.
  virtual int64_t WallMicros() const = 0;
};

// The real clocks: steady_clock and system_clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  int64_t WallMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // A process-wide instance; SystemClock has no state.
  static const SystemClock& Instance() {
    static const SystemClock clock;
    return clock;
  }
};

}  // namespace weir
