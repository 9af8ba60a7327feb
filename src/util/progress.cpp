#include "maskterial/util/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "maskterial/util/cancellation.hpp"

namespace maskterial {
namespace {
thread_local const ProgressObserver* current_observer = nullptr;
}  // namespace

ScopedProgressObserver::ScopedProgressObserver(ProgressObserver observer)
    : observer_(std::move(observer)), previous_(current_observer) {
  current_observer = &observer_;
}

ScopedProgressObserver::~ScopedProgressObserver() { current_observer = previous_; }

ProgressBar::ProgressBar(size_t total, std::string label, bool enabled)
    : total_(total), label_(std::move(label)), enabled_(enabled && total > 0), tty_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(size_t n, const std::string& status) {
  throw_if_cancelled();
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  if (!status.empty()) status_ = status;
  if (current_observer) (*current_observer)(label_, done_, total_, status_);
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_ && now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  draw(false);
}

void ProgressBar::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_ || !enabled_) return;
  finished_ = true;
  draw(true);
}

void ProgressBar::draw(bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0.0;
  if (!tty_) {
    const int decile = static_cast<int>(fraction * 10);
    if (decile == last_decile_ && (!final || printed_done_ == done_)) return;
    last_decile_ = decile;
    printed_done_ = done_;
    std::fprintf(stderr, "%s: %zu/%zu (%.0f%%) %.1f/s, ETA %.0fs %s\n", label_.c_str(), done_, total_,
                 fraction * 100, rate, eta, status_.c_str());
    return;
  }
  constexpr int width = 30;
  const int filled = static_cast<int>(fraction * width);
  std::string bar(filled, '#');
  bar.resize(width, '-');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu %.1f/s ETA %.0fs %s\033[K", label_.c_str(), bar.c_str(), done_, total_,
               rate, final ? 0.0 : eta, status_.c_str());
  if (final) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace maskterial
