// `weir log dead-letters`: the payloads weir refused (agent/store/FORMAT.md "Dead letters"), one
// line each with the escaped payload head and a count per reason, or one JSON document (--json).
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/app/exit_codes.h"
#include "agent/app/log_cli.h"
#include "agent/app/log_open.h"
#include "agent/codec/timestamp.h"

namespace weir::app {

namespace {

// Rows read per query while paging through the table (it holds max_dead_letters at most).
constexpr size_t kPageRows = 1000;

// Printable ASCII kept, everything else (and so newlines) as \xNN: one letter stays one line,
// and a terminal never sees control bytes from a refused payload.
std::string Escape(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

Result<std::vector<store::StoredDeadLetter>> ReadPage(OpenedLog& log, uint64_t after_id) {
  return log.writer ? log.writer->ReadDeadLetters(after_id, kPageRows)
                    : log.reader->ReadDeadLetters(after_id, kPageRows);
}

// The matching letters, oldest first; only the newest `limit` (0: all) are kept in memory.
Result<std::deque<store::StoredDeadLetter>> Collect(OpenedLog& log,
                                                    const LogDeadLettersOptions& options,
                                                    uint64_t& matched) {
  std::deque<store::StoredDeadLetter> kept;
  matched = 0;
  uint64_t after = 0;
  for (;;) {
    WEIR_ASSIGN_OR_RETURN(auto page, ReadPage(log, after));
    if (page.empty()) break;
    after = page.back().id;
    for (auto& d : page) {
      if (!options.reason.empty() && d.letter.reason_code != options.reason) continue;
      ++matched;
      kept.push_back(std::move(d));
      if (options.limit != 0 && kept.size() > options.limit) kept.pop_front();
    }
  }
  return kept;
}

nlohmann::json LetterJson(const store::StoredDeadLetter& d) {
  const store::DeadLetter& l = d.letter;
  return {{"id", d.id},
          {"time_us", l.time_us},
          {"time", codec::FormatRfc3339(l.time_us)},
          {"source", l.source},
          {"topic", l.topic},
          {"reason_code", l.reason_code},
          {"reason", l.reason},
          {"payload_head", Escape(l.payload_head)},
          {"payload_head_hex", Hex(l.payload_head)},
          {"payload_bytes", l.payload_bytes},
          // Upstream refusals keep the whole message (store/FORMAT.md "Dead letters").
          {"whole_payload", l.payload_head.size() == l.payload_bytes}};
}

void PrintSummary(const store::DeadLetterStats& s, size_t shown, uint64_t matched) {
  std::printf("dead letters: %llu kept, %llu ever", static_cast<unsigned long long>(s.rows),
              static_cast<unsigned long long>(s.total));
  const char* sep = "; by reason: ";
  for (const auto& [code, n] : s.by_reason) {
    std::printf("%s%s %llu", sep, Escape(code).c_str(), static_cast<unsigned long long>(n));
    sep = ", ";
  }
  std::printf("\n");
  if (shown < matched) {
    std::printf("showing the newest %zu of %llu matching (--limit 0 shows all)\n", shown,
                static_cast<unsigned long long>(matched));
  }
}

nlohmann::json DeadLetterStatsJson(const store::DeadLetterStats& s) {
  return {{"rows", s.rows}, {"total", s.total}, {"by_reason", s.by_reason}};
}

}  // namespace

int RunLogDeadLetters(const LogDeadLettersOptions& options) {
  auto opened = OpenLogForInspection(options.log);
  if (!opened.ok()) {
    std::fprintf(stderr, "weir log dead-letters: %s\n", opened.status().ToString().c_str());
    return opened.status().code() == StatusCode::kNotFound ? kExitUsage : kExitFailure;
  }
  uint64_t matched = 0;
  auto letters = Collect(*opened, options, matched);
  if (!letters.ok()) {
    std::fprintf(stderr, "weir log dead-letters: %s\n", letters.status().ToString().c_str());
    return kExitFailure;
  }
  auto stats = opened->Stats();
  if (!stats.ok()) {
    std::fprintf(stderr, "weir log dead-letters: %s\n", stats.status().ToString().c_str());
    return kExitFailure;
  }
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : *letters) list.push_back(LetterJson(d));
    nlohmann::json j = {{"path", options.log.string()},
                        {"letters", list},
                        {"matched", matched},
                        {"stats", DeadLetterStatsJson(stats->dead_letters)}};
    // Topics, reasons and reason codes come from the outside: never throw on bad UTF-8.
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  for (const auto& d : *letters) {
    const store::DeadLetter& l = d.letter;
    std::printf("%llu %s %s %s %s: %s | %s (%llu bytes)\n", static_cast<unsigned long long>(d.id),
                codec::FormatRfc3339(l.time_us).c_str(), Escape(l.source).c_str(),
                Escape(l.reason_code).c_str(), Escape(l.topic).c_str(), Escape(l.reason).c_str(),
                Escape(l.payload_head.substr(0, store::kDeadLetterHeadBytes)).c_str(),
                static_cast<unsigned long long>(l.payload_bytes));
  }
  PrintSummary(stats->dead_letters, letters->size(), matched);
  return kExitOk;
}

}  // namespace weir::app
