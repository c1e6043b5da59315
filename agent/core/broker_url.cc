#include "agent/core/broker_url.h"

#include <charconv>
#include <cstdint>

namespace weir {
namespace {

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Splits "host[:port]" or "[v6][:port]" into the host (no brackets) and the port text.
Status SplitHostPort(std::string_view rest, const std::string& shown, BrokerUrl* out,
                     std::string_view* port_text) {
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return InvalidArgument(shown + ": unclosed '['");
    out->host = std::string(rest.substr(1, close - 1));
    const std::string_view after = rest.substr(close + 1);
    if (after.empty()) return Status::Ok();
    if (after.front() != ':') return InvalidArgument(shown + ": expected ':' after ']'");
    *port_text = after.substr(1);
  } else {
    const size_t colon = rest.find(':');
    out->host = std::string(rest.substr(0, colon));
    for (char c : out->host) {
      if (!IsHostChar(c))
        return InvalidArgument(shown + ": host contains '" + std::string(1, c) + "'");
    }
    if (colon == std::string_view::npos) return Status::Ok();
    *port_text = rest.substr(colon + 1);
  }
  if (port_text->empty()) return InvalidArgument(shown + ": empty port");
  return Status::Ok();
}

}  // namespace

Result<BrokerUrl> ParseBrokerUrl(std::string_view url) {
  const std::string shown = "'" + std::string(url) + "'";
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return InvalidArgument(shown +
                           " is not a URL (expected mqtt://host:port or mqtts://host:port)");
  }
  BrokerUrl out;
  const std::string_view scheme = url.substr(0, sep);
  if (scheme == "mqtts" || scheme == "ssl") {
    out.tls = true;
  } else if (scheme != "mqtt" && scheme != "tcp") {
    return InvalidArgument(shown + ": scheme '" + std::string(scheme) + "' is not mqtt or mqtts");
  }
  const std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return InvalidArgument(shown + ": only host and port are allowed after the scheme");
  }
  std::string_view port_text;
  WEIR_RETURN_IF_ERROR(SplitHostPort(rest, shown, &out, &port_text));
  if (out.host.empty()) return InvalidArgument(shown + ": no host");
  out.port = out.tls ? 8883 : 1883;
  if (port_text.empty()) return out;
  uint32_t port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size()) {
    return InvalidArgument(shown + ": port '" + std::string(port_text) + "' is not a number");
  }
  if (port < 1 || port > 65535) {
    return InvalidArgument(shown + ": port " + std::to_string(port) + " is outside 1-65535");
  }
  out.port = static_cast<int>(port);
  return out;
}

std::string HostPort(const BrokerUrl& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  return (v6 ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
}

}  // namespace weir
