// A real mosquitto for tests; see mosquitto_broker.h.
#include "tests/support/mosquitto_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace weir::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(10);
constexpr int kPortAttempts = 5;

std::optional<fs::path> FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// A port the kernel just called free on 127.0.0.1. Another process may take it before mosquitto
// binds it; Start() retries with a fresh port when that happens.
Result<int> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return IoError("binding a loopback port failed");
  return static_cast<int>(ntohs(addr.sin_port));
}

bool AcceptsConnections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// Runs argv[0] with the given arguments, output appended to `log`, and waits. The argument
// vector is built before fork(): the child only calls async-signal-safe functions.
Status Run(const std::vector<std::string>& args, const fs::path& log, const fs::path& cwd) {
  const std::optional<fs::path> exe = FindOnPath(args[0]);
  if (!exe) return NotFound(args[0] + " not found on PATH");
  const std::string exe_path = exe->string();
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return IoError("fork() failed");
  if (pid == 0) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(exe_path.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) < 0) return IoError("waitpid() failed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return IoError(args[0] + " " + args[1] + " failed (see " + log.string() + ")");
  }
  return Status::Ok();
}

Status WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return IoError("writing " + path.string());
  return Status::Ok();
}

std::string ReadTail(const fs::path& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

}  // namespace

std::optional<fs::path> FindMosquitto() {
  if (const char* env = std::getenv("WEIR_MOSQUITTO"); env != nullptr && *env != '\0') {
    return ::access(env, X_OK) == 0 ? std::optional<fs::path>(env) : std::nullopt;
  }
  if (::access("/usr/sbin/mosquitto", X_OK) == 0) return fs::path("/usr/sbin/mosquitto");
  return FindOnPath("mosquitto");
}

Result<std::unique_ptr<MosquittoBroker>> MosquittoBroker::Start(const MosquittoOptions& options) {
  const std::optional<fs::path> binary = FindMosquitto();
  if (!binary) {
    return NotFound(
        "mosquitto is not installed (apt-get install mosquitto, or set WEIR_MOSQUITTO)");
  }
  std::unique_ptr<MosquittoBroker> broker(new MosquittoBroker(options, *binary));
  if (options.tls) WEIR_RETURN_IF_ERROR(broker->MakeCertificates());
  Status status;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    WEIR_ASSIGN_OR_RETURN(broker->port_, FreeLoopbackPort());
    if (options.tls) {
      WEIR_ASSIGN_OR_RETURN(broker->tls_port_, FreeLoopbackPort());
      if (broker->tls_port_ == broker->port_) continue;
    }
    status = broker->Launch();
    if (status.ok()) return broker;
    // A port taken between our probe and mosquitto's bind: try fresh ones.
    if (broker->LogTail().find("in use") == std::string::npos) break;
  }
  return status;
}

MosquittoBroker::~MosquittoBroker() { Stop().IgnoreError(); }

std::string MosquittoBroker::url() const { return "mqtt://127.0.0.1:" + std::to_string(port_); }

std::string MosquittoBroker::tls_url() const {
  return "mqtts://localhost:" + std::to_string(tls_port_);
}

std::string MosquittoBroker::LogTail(size_t max_bytes) const {
  return ReadTail(dir_ / "mosquitto.log", max_bytes);
}

Status MosquittoBroker::MakeCertificates() {
  if (!FindOnPath("openssl")) return NotFound("openssl CLI not installed; TLS tests need it");
  const fs::path dir = dir_.path() / "certs";
  fs::create_directories(dir);
  const fs::path log = dir / "openssl.log";
  certs_ = {dir / "ca.crt", dir / "server.crt", dir / "server.key", dir / "client.crt",
            dir / "client.key"};
  // EC keys: a fraction of the time of RSA, and every TLS stack in use accepts P-256.
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  auto req = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), ec.begin(), ec.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  WEIR_RETURN_IF_ERROR(Run(req({"openssl", "req", "-x509"},
                               {"-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
                                "/CN=weir-test-ca", "-addext", "basicConstraints=critical,CA:TRUE",
                                "-addext", "keyUsage=critical,keyCertSign,cRLSign"}),
                           log, dir));
  WEIR_RETURN_IF_ERROR(WriteFile(dir / "server.ext",
                                 "basicConstraints=CA:FALSE\n"
                                 "keyUsage=critical,digitalSignature\n"
                                 "extendedKeyUsage=serverAuth\n"
                                 "subjectAltName=DNS:localhost,IP:127.0.0.1\n"));
  WEIR_RETURN_IF_ERROR(WriteFile(dir / "client.ext",
                                 "basicConstraints=CA:FALSE\n"
                                 "keyUsage=critical,digitalSignature\n"
                                 "extendedKeyUsage=clientAuth\n"));
  for (const std::string name : {"server", "client"}) {
    const std::string cn = name == "server" ? "/CN=localhost" : "/CN=weir-test-client";
    WEIR_RETURN_IF_ERROR(
        Run(req({"openssl", "req"}, {"-keyout", name + ".key", "-out", name + ".csr", "-subj", cn}),
            log, dir));
    WEIR_RETURN_IF_ERROR(
        Run({"openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext"},
            log, dir));
  }
  return Status::Ok();
}

Status MosquittoBroker::WriteConfig() const {
  std::ostringstream c;
  // Run as whoever runs the test: as root, mosquitto would otherwise drop to the "mosquitto"
  // user, which cannot read our private temporary directory.
  const passwd* user = ::getpwuid(::geteuid());
  if (user != nullptr) c << "user " << user->pw_name << "\n";
  c << "per_listener_settings false\n"
    << "allow_anonymous true\n"
    << "log_dest stderr\n"
    << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
    << "connection_messages true\n"
    << "set_tcp_nodelay true\n"
    << "persistence " << (options_.persistence ? "true" : "false") << "\n"
    << "persistence_location " << (dir_.path() / "data").string() << "/\n";
  if (options_.max_packet_size) c << "max_packet_size " << *options_.max_packet_size << "\n";
  for (const std::string& line : options_.extra_config) c << line << "\n";
  c << "listener " << port_ << " 127.0.0.1\n";
  if (options_.tls) {
    c << "listener " << tls_port_ << " 127.0.0.1\n"
      << "cafile " << certs_.ca_file.string() << "\n"
      << "certfile " << certs_.server_cert.string() << "\n"
      << "keyfile " << certs_.server_key.string() << "\n"
      << "require_certificate " << (options_.require_client_certificate ? "true" : "false") << "\n";
  }
  fs::create_directories(dir_.path() / "data");
  return WriteFile(dir_ / "mosquitto.conf", c.str());
}

Status MosquittoBroker::Launch() {
  WEIR_RETURN_IF_ERROR(WriteConfig());
  const fs::path log = dir_ / "mosquitto.log";
  const std::string binary = binary_.string();
  const std::string config = (dir_ / "mosquitto.conf").string();
  char* argv[] = {const_cast<char*>(binary.c_str()), const_cast<char*>("-c"),
                  const_cast<char*>(config.c_str()), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return IoError("fork() failed");
  if (pid == 0) {
    // Die with the test process (the forking thread is the test's main thread).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    ::execv(argv[0], argv);
    ::_exit(127);
  }
  pid_ = pid;
  bool exited = false;
  const bool ready = WaitFor(
      [&] {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          exited = true;
          return true;
        }
        return AcceptsConnections(port_) && (tls_port_ == 0 || AcceptsConnections(tls_port_));
      },
      std::chrono::duration_cast<milliseconds>(kStartTimeout));
  if (exited) {
    pid_ = -1;
    return Unavailable("mosquitto exited at start; log:\n" + LogTail());
  }
  if (!ready) {
    Kill().IgnoreError();
    return Unavailable("mosquitto did not accept connections within 10 s; log:\n" + LogTail());
  }
  return Status::Ok();
}

Status MosquittoBroker::WaitExit(milliseconds timeout) {
  const bool gone = WaitFor([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, timeout);
  if (!gone) return DeadlineExceeded("mosquitto did not exit");
  pid_ = -1;
  return Status::Ok();
}

Status MosquittoBroker::Stop() {
  if (!running()) return Status::Ok();
  ::kill(pid_, SIGTERM);
  ::kill(pid_, SIGCONT);  // a paused broker must run to act on SIGTERM
  if (WaitExit(std::chrono::duration_cast<milliseconds>(kStopTimeout)).ok()) {
    return Status::Ok();
  }
  WEIR_RETURN_IF_ERROR(Kill());
  return DeadlineExceeded("mosquitto ignored SIGTERM for 10 s; killed");
}

Status MosquittoBroker::Kill() {
  if (!running()) return Status::Ok();
  ::kill(pid_, SIGKILL);
  if (::waitpid(pid_, nullptr, 0) != pid_) return IoError("waitpid() after SIGKILL failed");
  pid_ = -1;
  return Status::Ok();
}

Status MosquittoBroker::Pause() {
  if (!running()) return FailedPrecondition("mosquitto is not running");
  if (::kill(pid_, SIGSTOP) != 0) return IoError("kill(SIGSTOP) failed");
  return Status::Ok();
}

Status MosquittoBroker::Resume() {
  if (!running()) return FailedPrecondition("mosquitto is not running");
  if (::kill(pid_, SIGCONT) != 0) return IoError("kill(SIGCONT) failed");
  return Status::Ok();
}

Status MosquittoBroker::Restart() {
  WEIR_RETURN_IF_ERROR(Stop());
  return Launch();
}

}  // namespace weir::testing
