#pragma once
// A terminal progress bar with rate and ETA, written to stderr so stdout stays machine-readable. When stderr
// is not a terminal (CI logs, pipes) it prints a plain line every ~10% instead of redrawing.
#include <chrono>
#include <mutex>
#include <string>

namespace maskterial {

class ProgressBar {
 public:
  ProgressBar(size_t total, std::string label, bool enabled = true);
  ~ProgressBar();
  void advance(size_t n = 1, const std::string& status = "");  // thread-safe
  void finish();

 private:
  void draw(bool final);
  size_t total_, done_ = 0, printed_done_ = 0;
  std::string label_, status_;
  bool enabled_, tty_, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

}  // namespace maskterial
