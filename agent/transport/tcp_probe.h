// ProbeTcp: can a TCP connection to host:port be opened right now? The forwarder's cheap
// reachability check while the upstream is away (pipeline/reconnect_pacer.h): one SYN, closed at
// once, no MQTT and no TLS.
//
// Thread-safe (no state). Blocks up to `timeout` for the connect; a host name is resolved first
// with getaddrinfo, which may block on the system resolver beyond `timeout` (an IP literal never
// does).
#pragma once

#include <chrono>
#include <string>

#include "agent/core/status.h"

namespace weir::transport {

// OK when a connection was established (and closed); kUnavailable (refused, unreachable, timed
// out, the name did not resolve) otherwise.
Status ProbeTcp(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace weir::transport
