#pragma once
// Training steps of an FCResNet (fcresnet.hpp) without libtorch's per-operation overhead. A step of the
// autograd version is ~300 operations on 10,000×16 tensors (power iterations, linear layers, ELU, dropout,
// loss, Adam), dominated by dispatch and memory traffic; here the batch goes through forward and backward of
// the whole network in chunks of 128 samples that stay in cache, with one loop nest per layer.
// The math is the module's: soft spectral normalisation W / max(1, σ/coeff) with power iteration on the
// stored u, v (gradient through σ included), residual blocks z + Dropout(ELU(W z + b)), mean cross-entropy,
// torch::optim::Adam's update. Only the dropout masks come from a different generator (dropout_keeps).
// Tests compare loss and gradients with libtorch autograd on the same masks.
#include <cstdint>
#include <string>
#include <vector>

#include "maskterial/classify/fcresnet.hpp"

namespace maskterial {

// One dense layer in the trainer's storage, row-major out×in.
struct TrainerLayer {
  int in = 0, out = 0;
  bool spectral = false;
  std::vector<float> weight, bias;  // weight_orig for spectral layers
  std::vector<float> u, v;          // power-iteration vectors (spectral only)
  float sigma = 1;
  float factor = 1;                           // max(1, σ/coeff) of this step
  std::vector<float> effective, effective_t;  // weight / factor, and its transpose (backward)
  std::vector<float> grad_weight, grad_bias;  // w.r.t. weight_orig and bias after compute_gradients
  std::vector<float> lane_grad_weight, lane_grad_bias;  // per-lane partial sums while a step runs
  std::vector<float> adam_m_weight, adam_v_weight, adam_m_bias, adam_v_bias;
};

class FCResNetTrainer {
 public:
  // Takes the network's current weights and spectral-norm buffers; Adam with torch's defaults
  // (β 0.9 / 0.999, ε 1e-8). `dropout_seed` keys the dropout masks. `instruction_set` picks the kernel
  // ("avx512", "avx2", "generic"; empty: the best this CPU has); Error if the CPU lacks it.
  FCResNetTrainer(const FCResNet& net, double learning_rate, uint64_t dropout_seed,
                  const std::string& instruction_set = "");

  // Samples are rows data[index[i]] (input_dim floats, standardised) with network output labels[index[i]].
  // One training step: power iteration, forward, backward, Adam. Returns the batch's mean cross-entropy
  // before the update when want_loss (else NaN: the logarithms are skipped).
  double step(const float* data, const int64_t* labels, const int64_t* index, size_t n, bool want_loss);
  // The same without the Adam update; gradients are left in layers()[i].grad_weight / grad_bias.
  double compute_gradients(const float* data, const int64_t* labels, const int64_t* index, size_t n,
                           bool want_loss);
  // Writes weights, biases and the spectral-norm buffers (u, v, σ) into the network.
  void copy_to(FCResNet& net) const;

  const std::vector<TrainerLayer>& layers() const { return layers_; }  // first, residuals..., last
  int64_t steps_done() const { return steps_; }
  // Whether dropout keeps unit `unit` of batch sample `sample` in residual block `block` (0-based) at step
  // `step` (0-based, counting compute_gradients calls).
  bool dropout_keeps(int64_t step, int block, int64_t sample, int unit) const;
  // The best instruction set of this CPU, the trainer's default: "avx512", "avx2" or "generic".
  static const char* best_instruction_set();

 private:
  uint64_t dropout_key(int64_t step, int block) const;
  uint32_t dropout_threshold() const;

  FCResNetOptions options_;
  double learning_rate_;
  uint64_t dropout_seed_;
  std::string instruction_set_;
  int64_t steps_ = 0;
  std::vector<TrainerLayer> layers_;
  std::vector<uint64_t> keys_;  // dropout key per residual block of the current step
  std::vector<float> scratch_;  // chunk buffers, reused every step
};

}  // namespace maskterial
