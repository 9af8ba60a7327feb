#include "maskterial/segment/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace maskterial::segment {

double LrSchedule::at(int64_t iteration) const {
  double warmup = 1.0;
  if (iteration < warmup_iterations) {
    const double alpha = static_cast<double>(iteration) / static_cast<double>(warmup_iterations);
    warmup = warmup_factor * (1.0 - alpha) + alpha;
  }
  const double progress = std::clamp(static_cast<double>(iteration) / static_cast<double>(std::max<int64_t>(iterations, 1)), 0.0, 1.0);
  return base_lr * warmup * std::pow(1.0 - progress, power);
}

}  // namespace maskterial::segment
