// Fuzz target for the fleet envelope parser (agent/control/document.h): any bytes off the broker
// must give a document or a refusal, never a crash, a hang or a sanitizer report. Two rings: the
// input is checked against a trusted key (exercising the signature path) and, with signatures
// not required, unsigned (exercising the payload parser on whatever the fuzzer makes).
//
// Built as a libFuzzer binary with clang and -DWEIR_BUILD_FUZZERS=ON; the unit test
// control_envelope_fuzz_test also runs it over mutations of valid envelopes on every build.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/control/document.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const weir::control::KeyRing ring = [] {
    auto key = weir::control::PrivateKey::Generate();
    return weir::control::KeyRing::Of({key->public_key()});
  }();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)weir::control::OpenEnvelope(bytes, ring, true);
  (void)weir::control::OpenEnvelope(bytes, ring, false);
  return 0;
}
