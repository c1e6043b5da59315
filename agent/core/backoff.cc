// Backoff: see backoff.h.
#include "agent/core/backoff.h"

#include <cassert>

namespace weir {

Backoff::Backoff(BackoffOptions options) : Backoff(options, std::random_device{}()) {}

Backoff::Backoff(BackoffOptions options, uint64_t seed) : options_(options), engine_(seed) {
  assert(options_.base.count() > 0 && options_.base <= options_.cap);
}

std::chrono::nanoseconds Backoff::NextCeiling() const {
  // Double step by step and stop at the cap: base * 2^n overflows 64 bits after ~34 doublings
  // of a 1 s base, and attempts keep counting through a long outage.
  std::chrono::nanoseconds ceiling = options_.base;
  for (uint32_t i = 0; i < attempts_ && ceiling < options_.cap; ++i) {
    ceiling = ceiling > options_.cap / 2 ? options_.cap : ceiling * 2;
  }
  return ceiling < options_.cap ? ceiling : options_.cap;
}

std::chrono::nanoseconds Backoff::Next() {
  const std::chrono::nanoseconds ceiling = NextCeiling();
  if (attempts_ < UINT32_MAX) ++attempts_;
  std::uniform_int_distribution<int64_t> uniform(0, ceiling.count());
  return std::chrono::nanoseconds(uniform(engine_));
}

}  // namespace weir
