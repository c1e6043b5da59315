// ProgressBar: see progress.h.
#include "agent/app/progress.h"

#include <unistd.h>

#include <cstdio>

namespace weir::app {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr int kBarWidth = 30;
}  // namespace

ProgressBar::ProgressBar(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (drawn_ && !finished_) Finish();
}

void ProgressBar::Update(uint64_t done) {
  done_ = done;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  Draw(false);
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  Draw(true);
  std::fputc('\n', stderr);
}

void ProgressBar::Draw(bool final) {
  drawn_ = true;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  if (total_ > 0) {
    const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int filled = static_cast<int>(frac * kBarWidth);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kBarWidth - filled), '.');
    const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
    std::fprintf(stderr, "\r%s [%s] %5.1f%%  %.0f %s/s  eta %.0fs%s", label_.c_str(), bar.c_str(),
                 frac * 100.0, rate, unit_.c_str(), final ? 0.0 : eta, final ? " " : "");
  } else {
    std::fprintf(stderr, "\r%s %llu %s  %.0f %s/s", label_.c_str(),
                 static_cast<unsigned long long>(done_), unit_.c_str(), rate, unit_.c_str());
  }
  std::fflush(stderr);
}

}  // namespace weir::app
