// Metrics registry and Prometheus rendering; see metrics.h.
#include "agent/core/metrics.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <set>

namespace weir {
namespace {

bool IsMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsLabelName(std::string_view s) {
  // Same alphabet as metric names without ':'; names starting "__" are reserved by Prometheus.
  return IsMetricName(s) && s.find(':') == std::string_view::npos && !s.starts_with("__");
}

bool LabelsValid(const MetricLabels& labels) {
  std::set<std::string_view> seen;
  for (const auto& [name, value] : labels) {
    if (!IsLabelName(name) || !seen.insert(name).second) return false;
  }
  return true;
}

// Help text escapes backslash and newline; label values also escape the double quote.
void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (quote && c == '"') {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// `{a="x",b="y"}`, or empty without labels: the series key and its exposition text.
std::string LabelText(const MetricLabels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    AppendEscaped(&out, labels[i].second, /*quote=*/true);
    out += '"';
  }
  out += '}';
  return out;
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, result.ptr);
}

}  // namespace

struct MetricsRegistry::Family {
  std::string help;
  bool is_counter = true;
  // Keyed by label text, which also gives the rendering order.
  std::map<std::string, std::unique_ptr<Counter>> counters;
  std::map<std::string, std::unique_ptr<Gauge>> gauges;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::FamilyFor(std::string_view name, std::string_view help,
                                                    bool is_counter) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto family = std::make_unique<Family>();
    family->help = std::string(help);
    family->is_counter = is_counter;
    it = families_.emplace(std::string(name), std::move(family)).first;
  }
  return *it->second;
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  const bool valid = IsMetricName(name) && LabelsValid(labels);
  assert(valid && "malformed metric or label name");
  if (valid) {
    Family& family = FamilyFor(name, help, /*is_counter=*/true);
    assert(family.is_counter && "metric registered as a gauge");
    if (family.is_counter) {
      auto& slot = family.counters[LabelText(labels)];
      if (!slot) slot = std::make_unique<Counter>();
      return *slot;
    }
  }
  return *orphan_counters_.emplace_back(std::make_unique<Counter>());
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 const MetricLabels& labels) {
  std::lock_guard lock(mu_);
  const bool valid = IsMetricName(name) && LabelsValid(labels);
  assert(valid && "malformed metric or label name");
  if (valid) {
    Family& family = FamilyFor(name, help, /*is_counter=*/false);
    assert(!family.is_counter && "metric registered as a counter");
    if (!family.is_counter) {
      auto& slot = family.gauges[LabelText(labels)];
      if (!slot) slot = std::make_unique<Gauge>();
      return *slot;
    }
  }
  return *orphan_gauges_.emplace_back(std::make_unique<Gauge>());
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (!family->help.empty()) {
      out += "# HELP ";
      out += name;
      out += ' ';
      AppendEscaped(&out, family->help, /*quote=*/false);
      out += '\n';
    }
    out += "# TYPE ";
    out += name;
    out += family->is_counter ? " counter\n" : " gauge\n";
    for (const auto& [labels, counter] : family->counters) {
      out += name + labels + ' ' + std::to_string(counter->value()) + '\n';
    }
    for (const auto& [labels, gauge] : family->gauges) {
      out += name + labels + ' ' + FormatDouble(gauge->value()) + '\n';
    }
  }
  return out;
}

std::map<std::string, double> MetricsRegistry::Snapshot() const {
  std::lock_guard lock(mu_);
  std::map<std::string, double> out;
  for (const auto& [name, family] : families_) {
    for (const auto& [labels, counter] : family->counters) {
      out[name + labels] = static_cast<double>(counter->value());
    }
    for (const auto& [labels, gauge] : family->gauges) out[name + labels] = gauge->value();
  }
  return out;
}

}  // namespace weir
