// A terminal progress bar on stderr: label, bar, count, rate and ETA, plus a free-text suffix
// (loss, crops/s). Silent under --quiet or when stderr is not a terminal (then one line at the end).
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace hiscmcl {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "it");
  ~ProgressBar();
  void advance(int64_t n = 1);
  void set_suffix(const std::string& s);
  void finish();
  double elapsed_seconds() const;

 private:
  void draw(bool final);
  std::string label_, unit_, suffix_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool tty_, enabled_, finished_ = false;
  std::mutex mu_;
};

}  // namespace hiscmcl
