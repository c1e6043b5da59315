// The module map of DESIGN.md, checked on the source tree: every #include of every file under
// agent/ and platform/ must be an edge the map allows. The build enforces the same map for
// project headers (each module's include root holds only what it links, see
// weir_module_headers in CMakeLists.txt); this test also covers what the build cannot see:
// third-party headers, which reach the system include path of every module, and the "no I/O"
// rule of detect and config.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace weir {
namespace {

namespace fs = std::filesystem;

// What a module may include: project modules by name ("core", "platform", "proto", ...) and
// third-party libraries by name ("sqlite", "paho", ...). A module may always include itself.
struct ModuleRule {
  std::set<std::string> modules;
  std::set<std::string> libraries;
  bool no_io = false;  // detect and config: pure code, no files, sockets or threads
};

// DESIGN.md "Modules" and "Dependency rules". A new module needs a line here (the test fails on
// a module it does not know), which is the moment to decide what it may use.
const std::map<std::string, ModuleRule>& ModuleMap() {
  static const auto* map = new std::map<std::string, ModuleRule>{
      {"core", {{}, {}}},
      {"platform", {{"core"}, {}}},
      {"config", {{"core", "proto"}, {"protobuf", "json"}, true}},
      {"codec", {{"core", "proto"}, {"protobuf", "zstd", "json"}}},
      {"store", {{"core", "codec", "platform", "proto"}, {"sqlite"}}},
      {"detect", {{"core"}, {}, true}},
      {"transport", {{"core"}, {"paho"}}},
      {"pipeline", {{"core", "codec", "store", "detect", "transport-api", "proto"}, {}}},
      {"control",
       {{"core", "config", "codec", "transport-api", "platform", "proto"},
        {"openssl", "protobuf", "json"}}},
      {"sim", {{"core", "codec", "detect", "transport-api", "proto"}, {"json"}}},
      {"sink", {{"core", "codec", "store", "transport-api", "proto"}, {"json"}}},
      {"offline", {{"core", "codec", "detect", "config", "platform", "proto"}, {"json"}}},
      {"app",
       {{"core", "platform", "config", "codec", "store", "detect", "transport", "transport-api",
         "pipeline", "control", "sim", "sink", "offline", "proto"},
        {"json", "cli11"}}},
  };
  return *map;
}

// What an include names: a project module, a third-party library, an I/O header, or nothing we
// police (the standard library).
struct Target {
  enum Kind { kNone, kModule, kLibrary, kIo } kind = kNone;
  std::string name;
};

Target Classify(const std::string& header) {
  static const std::vector<std::pair<std::regex, std::string>> libraries = {
      {std::regex("^sqlite3\\.h$"), "sqlite"}, {std::regex("^(mqtt/.*|MQTT.*\\.h)$"), "paho"},
      {std::regex("^zstd\\.h$"), "zstd"},      {std::regex("^google/protobuf/.*"), "protobuf"},
      {std::regex("^openssl/.*"), "openssl"},  {std::regex("^nlohmann/.*"), "json"},
      {std::regex("^CLI/.*"), "cli11"},
  };
  static const std::regex io(
      "^(fstream|iostream|filesystem|thread|mutex|condition_variable|unistd\\.h|fcntl\\.h|"
      "dirent\\.h|poll\\.h|netdb\\.h|sys/.*|arpa/.*|netinet/.*)$");
  std::smatch m;
  if (header == "agent/transport/mqtt_client.h") return {Target::kModule, "transport-api"};
  if (std::regex_match(header, m, std::regex("^agent/([a-z_]+)/.*"))) {
    return {Target::kModule, m[1]};
  }
  if (header.starts_with("platform/")) return {Target::kModule, "platform"};
  if (header.starts_with("weir/v1/")) return {Target::kModule, "proto"};
  for (const auto& [pattern, name] : libraries) {
    if (std::regex_match(header, pattern)) return {Target::kLibrary, name};
  }
  if (std::regex_match(header, io)) return {Target::kIo, header};
  return {};
}

// Every forbidden include under <root>/agent and <root>/platform, one line each:
// "<file>: <module> includes <header> (<why>)".
std::vector<std::string> Violations(const fs::path& root) {
  std::vector<std::string> found;
  const std::regex include_line(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  auto check_file = [&](const std::string& module, const fs::path& file) {
    const auto rule = ModuleMap().find(module);
    const std::string where = fs::relative(file, root).string();
    if (rule == ModuleMap().end()) {
      found.push_back(where + ": module '" + module + "' is not in the module map");
      return;
    }
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, include_line)) continue;
      const std::string header = m[1];
      const Target target = Classify(header);
      std::string why;
      if (target.kind == Target::kModule && target.name != module &&
          !(module == "transport" && target.name == "transport-api") &&
          !rule->second.modules.contains(target.name)) {
        why = "module " + target.name + " is not below " + module;
      } else if (target.kind == Target::kLibrary && !rule->second.libraries.contains(target.name)) {
        why = target.name + " belongs to another module";
      } else if (target.kind == Target::kIo && rule->second.no_io) {
        why = module + " does no I/O";
      }
      if (!why.empty())
        found.push_back(where + ": " + module + " includes " + header + " (" + why + ")");
    }
  };
  auto check_dir = [&](const std::string& module, const fs::path& dir) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() && (ext == ".h" || ext == ".cc"))
        check_file(module, entry.path());
    }
  };
  if (fs::is_directory(root / "platform")) check_dir("platform", root / "platform");
  for (const auto& entry : fs::directory_iterator(root / "agent")) {
    if (entry.is_directory()) check_dir(entry.path().filename().string(), entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

TEST(Layering, TheSourceTreeFollowsTheModuleMap) {
  const fs::path root = WEIR_SOURCE_DIR;
  // On a target image (Yocto ptest) the programs run without the source tree.
  if (!fs::is_directory(root / "agent")) GTEST_SKIP() << "no source tree at " << root;
  const auto violations = Violations(root);
  EXPECT_TRUE(violations.empty()) << Joined(violations);
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// The check can fail: a tree with deliberately bad includes yields exactly those violations.
TEST(Layering, DeliberatelyBadIncludesAreCaught) {
  testing::TempDir dir;
  const fs::path root = dir.path();
  WriteFile(root / "agent/pipeline/bad.cc",
            "#include \"agent/pipeline/fine.h\"\n#include <sqlite3.h>\n"
            "#include \"agent/app/run_command.h\"\n#include \"agent/transport/mqtt_client.h\"\n"
            "#include \"agent/transport/paho_mqtt_client.h\"\n");
  WriteFile(root / "agent/detect/bad.h", "#include <vector>\n#include <fstream>\n");
  WriteFile(root / "agent/core/bad.cc", "  #  include \"platform/files.h\"\n");
  WriteFile(root / "agent/gizmo/new.cc", "#include <vector>\n");
  WriteFile(root / "platform/ok.cc", "#include <sys/stat.h>\n#include \"agent/core/status.h\"\n");
  const std::vector<std::string> expected = {
      "agent/core/bad.cc: core includes platform/files.h (module platform is not below core)",
      "agent/detect/bad.h: detect includes fstream (detect does no I/O)",
      "agent/gizmo/new.cc: module 'gizmo' is not in the module map",
      "agent/pipeline/bad.cc: pipeline includes agent/app/run_command.h (module app is not below "
      "pipeline)",
      "agent/pipeline/bad.cc: pipeline includes agent/transport/paho_mqtt_client.h (module "
      "transport is not below pipeline)",
      "agent/pipeline/bad.cc: pipeline includes sqlite3.h (sqlite belongs to another module)",
  };
  EXPECT_EQ(Joined(Violations(root)), Joined(expected));
}

}  // namespace
}  // namespace weir
