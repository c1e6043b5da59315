// Backoff: capped exponential backoff with full jitter, for reconnects and retries.
//
// The n-th delay (n = 0, 1, ...) is uniform in [0, min(cap, base * 2^n)] ("full jitter"): after a
// broker outage a fleet of gateways spreads its reconnects instead of arriving in waves.
// Reset() after a success starts again from the base. The random source is a seeded engine, so
// tests fix the seed and get a reproducible sequence. Not thread-safe: one Backoff per retry
// loop. Never blocks; waiting out the delay is the caller's job (Worker::WaitFor, so that
// shutdown interrupts it).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace weir {

struct BackoffOptions {
  std::chrono::nanoseconds base = std::chrono::milliseconds(100);  // ceiling of the first delay
  std::chrono::nanoseconds cap = std::chrono::seconds(60);         // no delay exceeds this
};

class Backoff {
 public:
  // `base` must be positive and not above `cap` (asserted). The engine is seeded from
  // std::random_device.
  explicit Backoff(BackoffOptions options);
  // A reproducible sequence, for tests.
  Backoff(BackoffOptions options, uint64_t seed);

  // Returns the next delay and counts an attempt.
  std::chrono::nanoseconds Next();
  // The upper bound the next call to Next() draws under: min(cap, base * 2^attempts()).
  std::chrono::nanoseconds NextCeiling() const;
  // Back to the first attempt; call after a success.
  void Reset() { attempts_ = 0; }
  // Delays handed out since construction or the last Reset().
  uint32_t attempts() const { return attempts_; }
  const BackoffOptions& options() const { return options_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 engine_;
  uint32_t attempts_ = 0;
};

}  // namespace weir
