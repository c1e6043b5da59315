#include "agent/control/prometheus_text.h"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace weir::control {
namespace {

[[maybe_unused]] bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string Escaped(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

void PrometheusText::Counter(std::string_view name, std::string_view help, double value,
                             const Labels& labels) {
  Sample("counter", name, help, value, labels);
}

void PrometheusText::Gauge(std::string_view name, std::string_view help, double value,
                           const Labels& labels) {
  Sample("gauge", name, help, value, labels);
}

void PrometheusText::Sample(std::string_view type, std::string_view name, std::string_view help,
                            double value, const Labels& labels) {
  assert(ValidName(name));
  if (families_.find(name) == families_.end()) {
    families_.emplace(name);
    out_ += "# HELP " + std::string(name) + " " + std::string(help) + "\n";
    out_ += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
  }
  out_ += name;
  if (!labels.empty()) {
    out_ += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ",";
      out_ += labels[i].first + "=\"" + Escaped(labels[i].second) + "\"";
    }
    out_ += "}";
  }
  out_ += " " + Number(value) + "\n";
}

}  // namespace weir::control
