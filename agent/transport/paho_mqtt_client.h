// The Paho MQTT C++ implementation of MqttClient, and the option checks it applies.
//
// This header does not include Paho: only paho_mqtt_client.cc does, so the rest of weir never
// sees <mqtt/*.h> or its exceptions. Builds against Paho MQTT C++ 1.2.0 to 1.6.0 (only APIs
// present in 1.2.0; no version checks needed).
//
// Known Paho C (1.3.12) behaviour callers should plan for: a connect while another client in the
// process is already connected can take up to about a second (Paho's receive thread polls with a
// one-second timeout), and a publish larger than the broker accepts costs the connection unless
// max_packet_bytes (or an MQTT 5 broker's Maximum Packet Size) lets us refuse it first.
#pragma once

#include <memory>
#include <string>

#include "agent/core/status.h"
#include "agent/transport/mqtt_client.h"

namespace weir::transport {

// Checks `options` without touching the network: URL scheme and port, a non-empty client id
// (a persistent session needs one the broker can recognise), TLS settings only with mqtts://,
// readable CA/cert/key files, a client key only with its certificate, keepalive and max_inflight
// ranges, a will with a topic and QoS 0..2. Returns OK or kInvalidArgument naming the field.
Status ValidateMqttOptions(const MqttOptions& options);

// The Paho server URI for a weir URL: "mqtt://h:p" -> "tcp://h:p", "mqtts://h" -> "ssl://h:8883".
// Returns kInvalidArgument for another scheme, an empty host or a bad port.
Result<std::string> PahoServerUri(const std::string& url);

// Builds a disconnected client. Does not block or touch the network. Returns kInvalidArgument
// for options ValidateMqttOptions rejects, or kInternal when Paho refuses to create the client.
// The client owns no thread of its own; Paho's threads run the callbacks. Destroying the client
// disconnects it (up to one second) without calling any callback.
Result<std::unique_ptr<MqttClient>> NewPahoMqttClient(const MqttOptions& options);

}  // namespace weir::transport
