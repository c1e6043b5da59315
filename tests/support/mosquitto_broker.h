// MosquittoBroker: the real mosquitto broker (Debian's /usr/sbin/mosquitto) on free loopback
// ports, for integration and fault tests; optional TLS with a CA and certificates made by the
// openssl CLI at start.
//
// The broker lives in its own temporary directory (config, log, persistence, certificates),
// removed on destruction. Stop() and Kill() keep the ports, so Restart() comes back where clients
// expect it. The child gets SIGKILL if the test process dies, so no broker outlives a crashed
// test. Not thread-safe: drive one broker from one thread (clients may talk to it from any).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/status.h"
#include "tests/support/test_support.h"

namespace weir::testing {

struct MosquittoOptions {
  // Keep sessions and queued messages across Stop()/Restart() (saved at SIGTERM, not at Kill()).
  bool persistence = false;
  // The broker drops a client that sends a larger packet (MQTT 5 clients are told at CONNACK).
  std::optional<uint32_t> max_packet_size;
  // Adds a TLS listener (tls_port()) with a certificate for "localhost" and 127.0.0.1.
  bool tls = false;
  // On the TLS listener, demand a client certificate signed by the test CA.
  bool require_client_certificate = false;
  // Extra mosquitto.conf lines written before the listeners (e.g. "max_queued_messages 0",
  // "message_size_limit 4096"), for tests that need a setting this struct does not name.
  std::vector<std::string> extra_config;
};

// PEM files made for a TLS broker; the client pair is signed by the same CA.
struct TestCertificates {
  std::filesystem::path ca_file;
  std::filesystem::path server_cert;
  std::filesystem::path server_key;
  std::filesystem::path client_cert;
  std::filesystem::path client_key;
};

class MosquittoBroker {
 public:
  // Starts mosquitto and blocks (up to 10 s) until every listener accepts connections. Returns
  // kNotFound when mosquitto (or, with TLS, openssl) is not installed: the caller skips the
  // test, see WEIR_START_BROKER_OR_SKIP. kUnavailable when it would not start, with its log.
  static Result<std::unique_ptr<MosquittoBroker>> Start(const MosquittoOptions& options = {});

  ~MosquittoBroker();  // Stop(), then removes the directory.
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // SIGTERM and wait for the exit (mosquitto saves its persistence file); SIGKILL after 10 s.
  // OK when not running.
  Status Stop();
  // SIGKILL and wait: a crash, nothing saved.
  Status Kill();
  // SIGSTOP / SIGCONT: a broker that hangs. Its sockets stay open, so clients keep their
  // connection and their publishes stay unacknowledged until Resume() (or keepalive expiry).
  Status Pause();
  Status Resume();
  // Stops it if running, starts it again on the same ports and waits until it accepts.
  Status Restart();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  int tls_port() const { return tls_port_; }  // 0 without TLS
  // "mqtt://127.0.0.1:<port>".
  std::string url() const;
  // "mqtts://localhost:<tls_port>", the name the server certificate carries.
  std::string tls_url() const;
  const TestCertificates& certificates() const { return certs_; }
  // The end of the broker's log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  explicit MosquittoBroker(MosquittoOptions options, std::filesystem::path binary)
      : options_(std::move(options)), binary_(std::move(binary)) {}

  Status MakeCertificates();
  Status WriteConfig() const;
  Status Launch();  // spawns and waits until ready
  Status WaitExit(std::chrono::milliseconds timeout);

  MosquittoOptions options_;
  std::filesystem::path binary_;
  TempDir dir_;
  TestCertificates certs_;
  int port_ = 0;
  int tls_port_ = 0;
  pid_t pid_ = -1;
};

// Where mosquitto is: $WEIR_MOSQUITTO, /usr/sbin/mosquitto, or on $PATH. nullopt when absent.
std::optional<std::filesystem::path> FindMosquitto();

}  // namespace weir::testing

// In a test body (or SetUp): declares `var` (a std::unique_ptr<MosquittoBroker>) from a started
// broker, skips the test when mosquitto is not installed, fails it on any other error.
#define WEIR_START_BROKER_OR_SKIP(var, options)                           \
  auto var##_started_ = ::weir::testing::MosquittoBroker::Start(options); \
  if (var##_started_.status().code() == ::weir::StatusCode::kNotFound) {  \
    GTEST_SKIP() << var##_started_.status().ToString();                   \
  }                                                                       \
  ASSERT_TRUE(var##_started_.ok()) << var##_started_.status().ToString(); \
  auto var = std::move(var##_started_).value()
