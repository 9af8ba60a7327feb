#include "maskterial/util/cancellation.hpp"

namespace maskterial {
namespace {
thread_local const std::atomic<bool>* current_flag = nullptr;
}  // namespace

ScopedCancellation::ScopedCancellation(const std::atomic<bool>& flag) : previous_(current_flag) {
  current_flag = &flag;
}

ScopedCancellation::~ScopedCancellation() { current_flag = previous_; }

void throw_if_cancelled() {
  if (current_flag && current_flag->load(std::memory_order_relaxed)) throw Cancelled();
}

}  // namespace maskterial
