// The Prometheus text format writer: one HELP/TYPE per family, labels escaped, numbers as
// Prometheus reads them.
#include "agent/control/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace weir::control {
namespace {

TEST(PrometheusTextTest, FamiliesHaveOneHeaderAndEscapedLabels) {
  PrometheusText m;
  m.Counter("weir_reloads_total", "Reloads, by result", 3, {{"result", "applied"}});
  m.Counter("weir_reloads_total", "Reloads, by result", 1, {{"result", "refused"}});
  m.Gauge("weir_backlog_readings", "Backlog", 12.5, {{"device", "a\"b\\c\nd"}});
  m.Gauge("weir_up", "Up", 1);
  m.Gauge("weir_nan", "NaN", std::nan(""));
  EXPECT_EQ(m.str(),
            "# HELP weir_reloads_total Reloads, by result\n"
            "# TYPE weir_reloads_total counter\n"
            "weir_reloads_total{result=\"applied\"} 3\n"
            "weir_reloads_total{result=\"refused\"} 1\n"
            "# HELP weir_backlog_readings Backlog\n"
            "# TYPE weir_backlog_readings gauge\n"
            "weir_backlog_readings{device=\"a\\\"b\\\\c\\nd\"} 12.5\n"
            "# HELP weir_up Up\n"
            "# TYPE weir_up gauge\n"
            "weir_up 1\n"
            "# HELP weir_nan NaN\n"
            "# TYPE weir_nan gauge\n"
            "weir_nan NaN\n");
}

}  // namespace
}  // namespace weir::control
