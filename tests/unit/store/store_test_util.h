// Helpers shared by the store's unit tests: reading generators and a log opener.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "agent/store/log.h"
#include "tests/support/test_support.h"

namespace weir::store::testing {

inline std::vector<Reading> MakeReadings(size_t n, TimeMicros start_us = 1'700'000'000'000'000,
                                         std::string sensor = "machine/temp") {
  std::vector<Reading> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(Reading{sensor, start_us + static_cast<TimeMicros>(i) * 1000,
                          20.0 + std::sin(static_cast<double>(i) / 10.0), 0});
  }
  return out;
}

inline Defect MakeDefect(TimeMicros at_us, std::string sensor = "machine/temp") {
  Defect d;
  d.sensor = std::move(sensor);
  d.kind = DefectKind::kSpike;
  d.severity = Severity::kCritical;
  d.detector = "auto";
  d.window_start_us = at_us - 60'000'000;
  d.window_end_us = at_us;
  d.detected_at_us = at_us;
  d.score = 0.97;
  d.message = "value 93.1 above limit 90";
  d.stats = {60, 19.5, 93.1, 21.0, 3.2};
  d.evidence = {Reading{d.sensor, at_us, 93.1, 0}};
  return d;
}

inline LogOptions Options(const weir::testing::TempDir& dir) {
  LogOptions o;
  o.path = dir / "log.db";
  o.commit_records = 100;
  o.commit_interval = std::chrono::milliseconds(50);
  return o;
}

inline std::unique_ptr<Log> MustOpen(const LogOptions& o, const Clock& clock) {
  auto log = Log::Open(o, clock);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

}  // namespace weir::store::testing
