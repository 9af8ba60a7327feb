#pragma once
// detectron2's WarmupPolyLR, which Mask2Former and MaskTerial train with: the poly decay
// (1 - iteration / iterations)^power from the first iteration on, multiplied during the warm-up by a factor
// rising linearly from warmup_factor to 1.
#include <cstdint>

namespace maskterial::segment {

struct LrSchedule {
  double base_lr = 1e-4;
  int64_t iterations = 1;
  int64_t warmup_iterations = 0;
  double warmup_factor = 1.0;
  double power = 0.9;

  double at(int64_t iteration) const;  // the learning rate of that (0-based) iteration
};

}  // namespace maskterial::segment
