#include "maskterial/synth/random.hpp"

#include <cmath>

namespace maskterial::synth {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t image_seed(uint64_t seed, uint64_t index) {
  uint64_t state = seed ^ (0x632be59bd9b4e019ULL * (index + 1));
  splitmix64(state);
  return splitmix64(state);
}

Random::Random(uint64_t seed) {
  uint64_t state = seed;
  for (auto& s : s_) s = splitmix64(state);
}

uint64_t Random::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Random::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Random::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int Random::integer(int lo, int hi) {
  return lo + static_cast<int>(uniform() * (static_cast<double>(hi) - lo + 1));
}

double Random::log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }

double Random::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

bool Random::chance(double probability) { return uniform() < probability; }

}  // namespace maskterial::synth
