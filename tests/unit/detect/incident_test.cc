// Incidents through the Engine: one open and one close record per incident, the same id on
// both, flapping input folded into one incident, close after the hold-off of normal readings,
// closing by AdvanceTime without readings, an ongoing dropout keeping its incident open.
#include "agent/detect/incident.h"

#include <gtest/gtest.h>

#include <vector>

#include "agent/detect/engine.h"

namespace weir::detect {
namespace {

constexpr TimeMicros kS = kSecond;
constexpr TimeMicros kStart = 1'700'000'000 * kS;

// Limits only (max 10), incidents closing after 60 s of normal readings.
EngineConfig LimitsWithIncidents(TimeMicros close_after = 60 * kS) {
  EngineConfig e;
  e.fallback.name = "t";
  e.fallback.auto_score.enabled = false;
  e.fallback.limits = {true, -1e9, 10.0};
  e.incident_close_after_us = close_after;
  return e;
}

std::vector<Defect> Feed(Engine& engine, const std::vector<double>& values, TimeMicros t0,
                         TimeMicros step = kS, const char* sensor = "pump.p") {
  std::vector<Defect> out;
  for (size_t i = 0; i < values.size(); ++i) {
    engine.Observe({sensor, t0 + static_cast<TimeMicros>(i) * step, values[i], 0}, &out);
  }
  return out;
}

TEST(Incident, OneOpenAndOneCloseWithTheSameId) {
  Engine engine(LimitsWithIncidents());
  std::vector<double> v(300, 5.0);
  for (int i = 100; i < 130; ++i) v[i] = 12.0 + (i == 110 ? 8.0 : 0.0);  // 30 s bad, peak 20
  const auto d = Feed(engine, v, kStart);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].phase, IncidentPhase::kOpen);
  EXPECT_EQ(d[0].detected_at_us, kStart + 100 * kS);
  EXPECT_EQ(d[0].firings, 1u);
  EXPECT_NE(d[0].incident_id, 0u);
  EXPECT_EQ(d[1].phase, IncidentPhase::kClose);
  EXPECT_EQ(d[1].incident_id, d[0].incident_id);
  EXPECT_EQ(d[1].sensor, "pump.p");
  EXPECT_EQ(d[1].detector, d[0].detector);
  EXPECT_EQ(d[1].firings, 30u);
  EXPECT_EQ(d[1].window_start_us, kStart + 100 * kS);  // opened
  EXPECT_EQ(d[1].window_end_us, kStart + 129 * kS);    // last firing
  EXPECT_EQ(d[1].detected_at_us, kStart + 189 * kS);   // 60 s normal after the last firing
  EXPECT_GE(d[1].score, d[0].score);                   // peak
  EXPECT_EQ(engine.counters().incidents_opened, 1u);
  EXPECT_EQ(engine.counters().incidents_closed, 1u);
  EXPECT_EQ(engine.counters().incident_updates, 29u);
}

TEST(Incident, FlappingInputStaysOneIncident) {
  Engine engine(LimitsWithIncidents());
  std::vector<double> v(400, 5.0);
  for (int i = 50; i < 250; i += 40) v[i] = 15.0;  // fires every 40 s, close_after is 60 s
  const auto d = Feed(engine, v, kStart);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].phase, IncidentPhase::kOpen);
  EXPECT_EQ(d[1].phase, IncidentPhase::kClose);
  EXPECT_EQ(d[1].firings, 5u);
}

TEST(Incident, FiringsFurtherApartThanCloseAfterAreSeparateIncidents) {
  Engine engine(LimitsWithIncidents());
  std::vector<double> v(400, 5.0);
  v[50] = 15.0;
  v[200] = 15.0;  // 150 s later: the first incident closed at 110 s
  const auto d = Feed(engine, v, kStart);
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0].phase, IncidentPhase::kOpen);
  EXPECT_EQ(d[1].phase, IncidentPhase::kClose);
  EXPECT_EQ(d[2].phase, IncidentPhase::kOpen);
  EXPECT_EQ(d[3].phase, IncidentPhase::kClose);
  EXPECT_EQ(d[0].incident_id, d[1].incident_id);
  EXPECT_EQ(d[2].incident_id, d[3].incident_id);
  EXPECT_NE(d[0].incident_id, d[2].incident_id);
}

TEST(Incident, AdvanceTimeClosesWithoutReadingsAndStatusListsOpenOnes) {
  Engine engine(LimitsWithIncidents());
  auto d = Feed(engine, {5, 5, 15, 15}, kStart);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(engine.IncidentOpen("pump.p"));
  EXPECT_FALSE(engine.IncidentOpen("other"));
  auto open = engine.OpenIncidents(10);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].id, d[0].incident_id);
  EXPECT_EQ(open[0].sensor, "pump.p");
  EXPECT_EQ(open[0].firings, 2u);
  d.clear();
  engine.AdvanceTime(kStart + 30 * kS, &d);
  EXPECT_TRUE(d.empty());
  engine.AdvanceTime(kStart + 63 * kS, &d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].phase, IncidentPhase::kClose);
  EXPECT_FALSE(engine.IncidentOpen("pump.p"));
  EXPECT_TRUE(engine.OpenIncidents(10).empty());
}

TEST(Incident, OngoingDropoutKeepsItsIncidentOpenUntilReadingsResume) {
  EngineConfig e = LimitsWithIncidents();
  e.fallback.limits.enabled = false;
  e.fallback.dropout = {true, 10 * kS};
  Engine engine(e);
  auto d = Feed(engine, {5, 5, 5}, kStart);
  for (TimeMicros t = 3; t <= 300; ++t) engine.AdvanceTime(kStart + t * kS, &d);
  ASSERT_EQ(d.size(), 1u);  // opened by the dropout, still open: the sensor is still silent
  EXPECT_EQ(d[0].kind, DefectKind::kDropout);
  EXPECT_TRUE(engine.IncidentOpen("pump.p"));
  engine.Observe({"pump.p", kStart + 301 * kS, 5, 0}, &d);
  for (TimeMicros t = 302; t <= 400; ++t) engine.Observe({"pump.p", kStart + t * kS, 5, 0}, &d);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[1].phase, IncidentPhase::kClose);
}

TEST(Incident, OffByDefaultKeepsOneDefectPerFindingPastTheHoldoff) {
  EngineConfig e = LimitsWithIncidents(0);
  e.fallback.holdoff_us = 0;
  Engine engine(e);
  const auto d = Feed(engine, {15, 15, 15}, kStart);
  ASSERT_EQ(d.size(), 3u);
  for (const Defect& x : d) EXPECT_EQ(x.phase, IncidentPhase::kNone);
}

TEST(Incident, IdsDependOnNameDetectorAndTime) {
  EXPECT_EQ(IncidentId("a", "x", 1), IncidentId("a", "x", 1));
  EXPECT_NE(IncidentId("a", "x", 1), IncidentId("a", "x", 2));
  EXPECT_NE(IncidentId("ab", "x", 1), IncidentId("a", "bx", 1));
  EXPECT_NE(IncidentId("a", "x", 1), 0u);
}

TEST(Incident, NegativeCloseAfterIsInvalid) {
  EngineConfig e;
  e.incident_close_after_us = -1;
  EXPECT_NE(Validate(e).message().find("incident_close_after"), std::string::npos);
}

}  // namespace
}  // namespace weir::detect
