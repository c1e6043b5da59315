// The one parser of broker URLs: config validates upstream.broker.url and local.broker.url with
// it, transport turns the result into Paho's server URI and probes its host and port.
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "agent/core/status.h"

namespace weir {

struct BrokerUrl {
  bool tls = false;  // mqtts:// (or ssl://)
  std::string host;  // without brackets for IPv6
  int port = 0;      // the scheme's default (1883, 8883) when the URL has none
};

// Accepts "mqtt://host[:port]" and "mqtts://host[:port]", with Paho's spellings "tcp://" and
// "ssl://" as synonyms; an IPv6 host in brackets ("mqtt://[::1]:1884"). Nothing may follow the
// port (no path, query, fragment or user info). A host name is letters, digits, '.', '_' and
// '-'. Errors are InvalidArgument quoting the URL and naming what is wrong ("no host",
// "port 0 is outside 1-65535", "scheme 'http' is not mqtt or mqtts").
Result<BrokerUrl> ParseBrokerUrl(std::string_view url);

// "host:port", with the host in brackets when it is an IPv6 literal.
std::string HostPort(const BrokerUrl& url);

}  // namespace weir
