#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "common/log.h"

namespace hiscmcl {

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  tty_ = ::isatty(STDERR_FILENO);
  enabled_ = verbosity() != Verbosity::quiet && progress_bars();
}

ProgressBar::~ProgressBar() { finish(); }

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (tty_ && (now - last_draw_ > std::chrono::milliseconds(100) || done_ >= total_)) {
    last_draw_ = now;
    draw(false);
  } else if (!tty_ && total_ > 0 && done_ < total_) {
    // Logs and pipes: one line per quarter, so long work still shows it is alive.
    int64_t quarter = std::max<int64_t>(1, total_ / 4);
    if (done_ / quarter != (done_ - n) / quarter) draw(false);
  }
}

void ProgressBar::set_suffix(const std::string& s) {
  std::lock_guard<std::mutex> lock(mu_);
  suffix_ = s;
}

void ProgressBar::finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void ProgressBar::draw(bool final) {
  if (!enabled_) return;
  double secs = elapsed_seconds();
  double rate = secs > 0 ? done_ / secs : 0.0;
  constexpr int width = 28;
  double frac = total_ > 0 ? std::min(1.0, double(done_) / total_) : 1.0;
  int filled = int(frac * width);
  std::string bar(filled, '#');
  bar += std::string(width - filled, '.');
  double eta = rate > 0 ? (total_ - done_) / rate : 0.0;
  std::fprintf(stderr, "%s%-16s [%s] %lld/%lld %.1f %s/s %s%.0fs %s%s", tty_ ? "\r\033[K" : "",
               label_.c_str(), bar.c_str(), (long long)done_, (long long)total_, rate,
               unit_.c_str(), final ? "in " : "eta ", final ? secs : eta, suffix_.c_str(),
               final || !tty_ ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace hiscmcl
