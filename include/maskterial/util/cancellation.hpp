#pragma once
// Cooperative cancellation of long runs (the server's training jobs): the thread running the work installs
// its job's flag, and the work's loops call throw_if_cancelled() at safe points (every progress bar advance
// does), which throws Cancelled once the flag is set. Threads without a flag are never cancelled.
#include <atomic>

#include "maskterial/util/error.hpp"

namespace maskterial {

class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

// Installs `flag` for the calling thread until destroyed (the previous one is restored).
class ScopedCancellation {
 public:
  explicit ScopedCancellation(const std::atomic<bool>& flag);
  ~ScopedCancellation();
  ScopedCancellation(const ScopedCancellation&) = delete;
  ScopedCancellation& operator=(const ScopedCancellation&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

void throw_if_cancelled();

}  // namespace maskterial
