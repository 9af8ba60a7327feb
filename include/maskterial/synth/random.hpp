#pragma once
// The generator's random numbers: splitmix64 seeding and xoshiro256** drawing, with the distributions written
// out here so a seed gives the same images on every compiler and standard library.
#include <cstdint>

namespace maskterial::synth {

// Seed of image `index` of a run with seed `seed`: images are independent, so any thread may make any image.
uint64_t image_seed(uint64_t seed, uint64_t index);

class Random {
 public:
  explicit Random(uint64_t seed);
  uint64_t next();
  double uniform();                         // [0, 1)
  double uniform(double lo, double hi);     // [lo, hi)
  int integer(int lo, int hi);              // [lo, hi], both ends included
  double log_uniform(double lo, double hi);  // log of the value uniform in [log lo, log hi)
  double normal();                          // standard normal (Box-Muller)
  bool chance(double probability);

 private:
  uint64_t s_[4];
};

}  // namespace maskterial::synth
