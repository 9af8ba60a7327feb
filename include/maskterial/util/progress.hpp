#pragma once
// A terminal progress bar with rate and ETA, written to stderr so stdout stays machine-readable. When stderr
// is not a terminal (CI logs, pipes) it prints a plain line every ~10% instead of redrawing.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace maskterial {

// Sees every advance of the progress bars on the thread that installed it, drawn or not: the server follows
// training runs (stage, loss) that report progress only through their bars.
using ProgressObserver = std::function<void(const std::string& label, size_t done, size_t total,
                                            const std::string& status)>;
class ScopedProgressObserver {
 public:
  explicit ScopedProgressObserver(ProgressObserver observer);
  ~ScopedProgressObserver();
  ScopedProgressObserver(const ScopedProgressObserver&) = delete;
  ScopedProgressObserver& operator=(const ScopedProgressObserver&) = delete;

 private:
  ProgressObserver observer_;
  const ProgressObserver* previous_;
};

class ProgressBar {
 public:
  ProgressBar(size_t total, std::string label, bool enabled = true);
  ~ProgressBar();
  // Thread-safe. Also a cancellation point (util/cancellation.hpp) and reported to the thread's observer.
  void advance(size_t n = 1, const std::string& status = "");
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
