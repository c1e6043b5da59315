// Turns off Nagle's algorithm on this process's TCP connections to a broker port.
//
// Why: Paho C (1.3.x) never sets TCP_NODELAY and offers no hook for socket options. With Nagle
// on, a small publish written right after a small PUBACK (a defect published as its reading
// arrives) waits for the broker to acknowledge the PUBACK segment, and Linux delays that ACK by
// 40 ms: every local defect took 43 ms instead of well under one. MQTT packets are whole
// messages written at once, so Nagle's coalescing buys nothing here.
//
// How: after a connect succeeds, the TCP sockets among /proc/self/fd whose peer port is the
// broker's get TCP_NODELAY. Another connection to the same port (a second client to the same
// broker) gets it too, which is harmless. Linux only; best effort: errors are ignored (the only
// cost of failing is the latency above). Thread-safe; does not block beyond a directory scan.
#pragma once

namespace weir::transport {

// Returns how many sockets were changed.
int DisableNagleOnConnectionsToPort(int port);

}  // namespace weir::transport
