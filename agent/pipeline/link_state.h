// The state of one MQTT connection the agent keeps (local ingest, upstream forward), for status.
#pragma once

#include <string_view>

namespace weir::pipeline {

enum class LinkState { kDisconnected, kConnecting, kConnected };

// "disconnected", "connecting", "connected".
inline std::string_view LinkStateName(LinkState state) {
  switch (state) {
    case LinkState::kConnecting:
      return "connecting";
    case LinkState::kConnected:
      return "connected";
    case LinkState::kDisconnected:
      break;
  }
  return "disconnected";
}

}  // namespace weir::pipeline
