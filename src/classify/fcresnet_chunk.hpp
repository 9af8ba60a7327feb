#pragma once
// Forward and backward of one chunk of samples through an FCResNet, for FCResNetTrainer. Activations are
// feature-major (row j holds unit j of every sample of the chunk), so every loop runs over kLanes samples
// at once and vectorises. The loops are compiled once per instruction set (fcresnet_chunk_*.cpp) and the
// best one the CPU has is picked at run time (chunk_kernel()).
#include <cstddef>
#include <cstdint>
#include <string>

namespace maskterial::fcresnet_chunk {

constexpr int kLanes = 16;   // samples per vector block
constexpr int kChunk = 128;  // samples per chunk: its activations (~80 KB at width 16) stay in L2

// Row-major out×in weights (already divided by the spectral factor), their transpose, the bias, and the
// per-lane gradient accumulators: lane_gw[((o·in)+k)·kLanes + l], lane_gb[o·kLanes + l].
struct Layer {
  const float* w;
  const float* wt;
  const float* b;
  float* lane_gw;
  float* lane_gb;
  int in, out;
};

struct Problem {
  const Layer* layers;  // [0] first, [1..depth] residual blocks, [depth+1] last
  int depth;
  int width;    // embedding size
  int classes;  // network outputs
  float dropout_scale;          // 1 / (1 - p)
  uint32_t dropout_threshold;   // a unit is kept when dropout_bits(...) >= threshold (p · 2³²)
  const uint64_t* dropout_keys;  // one per residual block for this step
  double loss_weight;            // 1 / batch size
};

struct Chunk {
  const float* data;      // rows of `in` floats
  const int64_t* labels;  // per row
  const int64_t* index;   // the chunk's rows
  int count;              // samples in this chunk (≤ kChunk)
  int64_t first_sample;   // batch position of the chunk's first sample (keys the dropout masks)
};

size_t scratch_floats(const Problem& problem);

// Adds the chunk's gradients to the layers' lane accumulators; returns the summed cross-entropy of the
// chunk's samples when want_loss, else 0.
using RunFunction = double (*)(const Problem&, const Chunk&, float* scratch, bool want_loss);
const char* best_instruction_set();  // of this CPU: "avx512", "avx2" or "generic"
// The kernel for an instruction set; null when unknown or this CPU lacks it.
RunFunction chunk_kernel(const std::string& instruction_set);

// Dropout randomness: a 32-bit hash of the unit's position in the batch, keyed per step and block. A template
// so the kernels run it on vectors of elements and FCResNetTrainer::dropout_keeps on one.
template <class U>
inline __attribute__((always_inline)) U dropout_bits(uint64_t key, U element) {
  U x = element * 0x9E3779B9u + static_cast<uint32_t>(key);
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  x ^= static_cast<uint32_t>(key >> 32);
  x *= 0x7feb352du;
  return x ^ (x >> 15);
}

}  // namespace maskterial::fcresnet_chunk
