// weir(1) documents every flag: each `--flag` that a subcommand's --help lists must appear in
// packaging/man/weir.1, so a new flag without documentation fails here.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_support.h"

namespace weir::app {
namespace {

const std::vector<std::vector<std::string>> kCommands = {
    {"run"},
    {"status"},
    {"config", "check"},
    {"log", "stats"},
    {"log", "export"},
    {"log", "import"},
    {"log", "dead-letters"},
    {"detect"},
    {"simulate"},
    {"sink"},
    {"config", "keygen"},
    {"config", "sign"},
    {"config", "push"},
    {"fleet", "status"},
};

TEST(ManPage, DocumentsEveryFlagOfEverySubcommand) {
  const std::string page = testing::ReadFileBytes(WEIR_MAN_PAGE);
  ASSERT_FALSE(page.empty()) << "cannot read " << WEIR_MAN_PAGE;
  const std::regex flag(R"(--[a-z][a-z0-9-]*)");
  for (const auto& command : kCommands) {
    std::vector<std::string> argv = {testing::WeirBinary().string()};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.push_back("--help");
    const testing::ProgramResult r = testing::RunProgram(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::set<std::string> flags;
    for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), flag);
         it != std::sregex_iterator(); ++it) {
      flags.insert(it->str());
    }
    EXPECT_FALSE(flags.empty());
    for (const std::string& f : flags) {
      if (f == "--help" || f == "--version") continue;
      // In roff a hyphen is written \-.
      std::string roff;
      for (const char c : f) roff += c == '-' ? std::string("\\-") : std::string(1, c);
      EXPECT_NE(page.find(roff), std::string::npos)
          << "weir " << command.front() << (command.size() > 1 ? " " + command[1] : "") << ": " << f
          << " is not in packaging/man/weir.1";
    }
  }
}

}  // namespace
}  // namespace weir::app
