// Runs the fleet envelope fuzz target (tests/fuzz/fleet_envelope_fuzz.cc) over deterministic
// mutations of valid envelopes and payloads, so every build exercises it without libFuzzer.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "agent/control/document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace weir::control {
namespace {

void Feed(const std::string& bytes) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::string Mutate(std::string s, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits && !s.empty(); ++i) {
    const size_t at = rng() % s.size();
    switch (rng() % 4) {
      case 0:
        s[at] = static_cast<char>(rng());
        break;
      case 1:
        s.erase(at, 1 + rng() % 8);
        break;
      case 2:
        s.insert(at, 1, "{}[]\",:0\\"[rng() % 10]);
        break;
      default:
        s.resize(at);
        break;
    }
  }
  return s;
}

TEST(EnvelopeFuzzTest, MutatedEnvelopesAndUnsignedPayloadsNeverCrash) {
  const PrivateKey key = *PrivateKey::Generate();
  const std::string payload = *MakePayload(
      *ParseTarget("device:gw-17"), 7,
      R"({"detect":{"rules":[{"pattern":"t*","limits":{"enabled":true,"max":80}}]}})", 0, {});
  const std::string signed_env = *SignEnvelope(key, payload);
  std::mt19937 rng(12);
  for (int i = 0; i < 3000; ++i) {
    Feed(Mutate(signed_env, rng));
    // Unsigned envelopes carrying mutated payloads reach the payload parser.
    const std::string p = Mutate(payload, rng);
    Feed(nlohmann::json{{"weir_signed", 1}, {"payload", Base64Encode(p)}}.dump());
  }
  Feed(std::string(100000, '['));
  Feed(nlohmann::json{{"weir_signed", 1}, {"payload", Base64Encode(std::string(40000, '['))}}
           .dump());
}

}  // namespace
}  // namespace weir::control
