// PrometheusText: writes metrics in the Prometheus text exposition format (version 0.0.4), for a
// node_exporter textfile collector (`control.metrics_textfile`). Why a file and not a listener:
// node_exporter is already on most gateways that are scraped at all, its textfile collector reads
// a file that is replaced atomically, and weir then needs no HTTP server, port or parser of its
// own (agent/control/README.md, "Metrics").
//
// Families are written in the order first used; HELP and TYPE once per family. Names must match
// [a-zA-Z_:][a-zA-Z0-9_:]* (asserted); label values are escaped. Not thread-safe; no I/O.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::control {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  void Counter(std::string_view name, std::string_view help, double value,
               const Labels& labels = {});
  void Gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  const std::string& str() const { return out_; }

 private:
  void Sample(std::string_view type, std::string_view name, std::string_view help, double value,
              const Labels& labels);
  std::string out_;
  std::set<std::string, std::less<>> families_;
};

}  // namespace weir::control
