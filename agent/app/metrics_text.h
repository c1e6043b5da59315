// The agent's figures in the Prometheus text format, for the node_exporter textfile collector
// (`control.metrics_textfile`; agent/control/prometheus_text.h says why a file). The same
// snapshot status.json is made from; names follow Prometheus conventions (`weir_` prefix, base
// units, `_total` for counters). Pure.
#pragma once

#include <string>

#include "agent/app/status_file.h"
#include "agent/pipeline/pipeline.h"

namespace weir::app {

std::string RenderMetricsText(const pipeline::PipelineSnapshot& snapshot,
                              const StatusContext& context);

}  // namespace weir::app
