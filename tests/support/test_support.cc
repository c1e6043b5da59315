// Test helpers; see test_support.h.
#include "tests/support/test_support.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <system_error>
#include <thread>

namespace weir::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "weir-test-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::optional<std::filesystem::path> NabDir() {
  const char* env = std::getenv("WEIR_NAB_DIR");
  std::filesystem::path dir(env != nullptr && *env != '\0' ? env : WEIR_NAB_DIR_DEFAULT);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir / "data", ec)) return std::nullopt;
  return dir;
}

std::string NabMissingMessage() {
  const char* env = std::getenv("WEIR_NAB_DIR");
  return std::string("NAB data not found in '") + (env ? env : WEIR_NAB_DIR_DEFAULT) +
         "' (set WEIR_NAB_DIR); skipped: this test needs ../shared/nab beside the checkout";
}

std::string ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteFileBytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::filesystem::path BinaryDir() {
  const char* env = std::getenv("WEIR_BINARY_DIR");
  return std::filesystem::path(env != nullptr && *env != '\0' ? env : WEIR_BINARY_DIR_DEFAULT);
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Polling with a short yield, bounded by the deadline: a condition wait, not a fixed sleep.
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::yield();
    std::this_thread::sleep_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace weir::testing
