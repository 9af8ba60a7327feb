#include "maskterial/classify/fcresnet_trainer.hpp"

#include <cmath>
#include <limits>

#include "fcresnet_chunk.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {
namespace chunk = fcresnet_chunk;

std::vector<float> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

void copy_into(const torch::Tensor& dst, const std::vector<float>& src) {
  dst.copy_(torch::from_blob(const_cast<float*>(src.data()), dst.sizes(), torch::kFloat32));
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

void normalise(std::vector<float>& x) {  // torch's F::normalize(x, dim 0, eps 1e-12)
  double norm = 0;
  for (float v : x) norm += static_cast<double>(v) * v;
  const float scale = 1.0f / std::max(static_cast<float>(std::sqrt(norm)), 1e-12f);
  for (float& v : x) v *= scale;
}

// Power iteration on the stored u, v, σ = uᵀWv and the soft normalisation factor max(1, σ/coeff), as
// SpectralLinearImpl::effective_weight does in training mode.
void spectral_factor(TrainerLayer& layer, const FCResNetOptions& options) {
  const int in = layer.in, out = layer.out;
  const auto w = [&](int o, int k) { return layer.weight[static_cast<size_t>(o) * in + k]; };
  std::vector<float> wv(out);
  const auto multiply_v = [&] {
    for (int o = 0; o < out; ++o) {
      float s = 0;
      for (int k = 0; k < in; ++k) s += w(o, k) * layer.v[k];
      wv[o] = s;
    }
  };
  for (int i = 0; i < options.n_power_iterations; ++i) {
    for (int k = 0; k < in; ++k) {
      float s = 0;
      for (int o = 0; o < out; ++o) s += w(o, k) * layer.u[o];
      layer.v[k] = s;
    }
    normalise(layer.v);
    multiply_v();
    layer.u = wv;
    normalise(layer.u);
  }
  multiply_v();
  float sigma = 0;
  for (int o = 0; o < out; ++o) sigma += layer.u[o] * wv[o];
  layer.sigma = sigma;
  layer.factor = std::max(1.0f, sigma / static_cast<float>(options.spec_coeff));
}

// Gradient w.r.t. weight_orig from the one w.r.t. the effective weight G: with W_eff = W / f and
// f = σ/coeff (when above 1), σ = uᵀWv: ∂L/∂W = G/f − ⟨G, W⟩/(f²·coeff) · u vᵀ.
void through_spectral_factor(TrainerLayer& layer, const FCResNetOptions& options) {
  if (!layer.spectral || !(layer.sigma / static_cast<float>(options.spec_coeff) >= 1.0f)) return;
  double dot = 0;
  for (size_t i = 0; i < layer.weight.size(); ++i) dot += static_cast<double>(layer.grad_weight[i]) * layer.weight[i];
  const float f = layer.factor;
  const float through_sigma = static_cast<float>(dot / (static_cast<double>(f) * f * options.spec_coeff));
  for (int o = 0; o < layer.out; ++o)
    for (int k = 0; k < layer.in; ++k) {
      float& g = layer.grad_weight[static_cast<size_t>(o) * layer.in + k];
      g = g / f - through_sigma * layer.u[o] * layer.v[k];
    }
}

void sum_lanes(const std::vector<float>& lanes, std::vector<float>& out) {
  for (size_t i = 0; i < out.size(); ++i) {
    float s = 0;
    for (int l = 0; l < chunk::kLanes; ++l) s += lanes[i * chunk::kLanes + l];
    out[i] = s;
  }
}

// torch::optim::Adam's update with its defaults (β 0.9 / 0.999, ε 1e-8, no weight decay).
void adam(std::vector<float>& param, const std::vector<float>& grad, std::vector<float>& m, std::vector<float>& v,
          double learning_rate, int64_t step) {
  constexpr double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  const double correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const float sqrt_correction2 = static_cast<float>(std::sqrt(1 - std::pow(beta2, static_cast<double>(step))));
  const float step_size = static_cast<float>(learning_rate / correction1);
  for (size_t i = 0; i < param.size(); ++i) {
    m[i] = m[i] * static_cast<float>(beta1) + grad[i] * static_cast<float>(1 - beta1);
    v[i] = v[i] * static_cast<float>(beta2) + grad[i] * grad[i] * static_cast<float>(1 - beta2);
    param[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_correction2 + static_cast<float>(eps));
  }
}

// State-dict names of layer i of n: first, residuals.0 ..., last.
std::string layer_prefix(size_t i, size_t n) {
  return i == 0 ? "first" : i + 1 == n ? "last" : "residuals." + std::to_string(i - 1);
}

}  // namespace

FCResNetTrainer::FCResNetTrainer(const FCResNet& net, double learning_rate, uint64_t dropout_seed,
                                 const std::string& instruction_set)
    : options_(net->options()),
      learning_rate_(learning_rate),
      dropout_seed_(dropout_seed),
      instruction_set_(instruction_set.empty() ? chunk::best_instruction_set() : instruction_set) {
  if (!chunk::chunk_kernel(instruction_set_))
    throw Error("the FCResNet trainer has no '" + instruction_set_ + "' kernel for this CPU");
  const auto params = net->named_parameters();
  const auto buffers = net->named_buffers();
  const size_t count = static_cast<size_t>(options_.depth) + 2;
  for (size_t i = 0; i < count; ++i) {
    const std::string prefix = layer_prefix(i, count);
    const bool spectral = options_.spectral_normalization && i + 1 < count;
    TrainerLayer layer;
    layer.spectral = spectral;
    const torch::Tensor weight = params[prefix + (spectral ? ".weight_orig" : ".weight")];
    layer.out = static_cast<int>(weight.size(0));
    layer.in = static_cast<int>(weight.size(1));
    layer.weight = to_vector(weight);
    layer.bias = to_vector(params[prefix + ".bias"]);
    if (spectral) {
      layer.u = to_vector(buffers[prefix + ".weight_u"]);
      layer.v = to_vector(buffers[prefix + ".weight_v"]);
      layer.sigma = buffers[prefix + ".weight_sigma"].item<float>();
    }
    const size_t nw = layer.weight.size(), nb = layer.bias.size();
    layer.effective.resize(nw);
    layer.effective_t.resize(nw);
    layer.grad_weight.resize(nw);
    layer.grad_bias.resize(nb);
    layer.lane_grad_weight.resize(nw * chunk::kLanes);
    layer.lane_grad_bias.resize(nb * chunk::kLanes);
    layer.adam_m_weight.assign(nw, 0.0f);
    layer.adam_v_weight.assign(nw, 0.0f);
    layer.adam_m_bias.assign(nb, 0.0f);
    layer.adam_v_bias.assign(nb, 0.0f);
    layers_.push_back(std::move(layer));
  }
}

uint64_t FCResNetTrainer::dropout_key(int64_t step, int block) const {
  return splitmix64(dropout_seed_ ^ splitmix64(static_cast<uint64_t>(step) * (options_.depth + 1) + block));
}

uint32_t FCResNetTrainer::dropout_threshold() const {
  return static_cast<uint32_t>(std::min(std::ldexp(options_.dropout_rate, 32), 4294967295.0));
}

bool FCResNetTrainer::dropout_keeps(int64_t step, int block, int64_t sample, int unit) const {
  const uint32_t element = static_cast<uint32_t>(sample * options_.embedding_dim + unit);
  return chunk::dropout_bits(dropout_key(step, block), element) >= dropout_threshold();
}

double FCResNetTrainer::compute_gradients(const float* data, const int64_t* labels, const int64_t* index, size_t n,
                                          bool want_loss) {
  if (n == 0) throw Error("a training batch needs at least one sample");
  std::vector<chunk::Layer> views;
  for (TrainerLayer& layer : layers_) {
    if (layer.spectral) spectral_factor(layer, options_);
    for (int o = 0; o < layer.out; ++o)
      for (int k = 0; k < layer.in; ++k) {
        const float w = layer.weight[static_cast<size_t>(o) * layer.in + k] / layer.factor;
        layer.effective[static_cast<size_t>(o) * layer.in + k] = w;
        layer.effective_t[static_cast<size_t>(k) * layer.out + o] = w;
      }
    std::fill(layer.lane_grad_weight.begin(), layer.lane_grad_weight.end(), 0.0f);
    std::fill(layer.lane_grad_bias.begin(), layer.lane_grad_bias.end(), 0.0f);
    views.push_back({layer.effective.data(), layer.effective_t.data(), layer.bias.data(),
                     layer.lane_grad_weight.data(), layer.lane_grad_bias.data(), layer.in, layer.out});
  }
  keys_.resize(static_cast<size_t>(options_.depth));
  for (int b = 0; b < options_.depth; ++b) keys_[b] = dropout_key(steps_, b);
  chunk::Problem problem{views.data(), options_.depth, options_.embedding_dim, layers_.back().out,
                         static_cast<float>(1.0 / (1.0 - options_.dropout_rate)), dropout_threshold(), keys_.data(),
                         1.0 / static_cast<double>(n)};
  scratch_.resize(chunk::scratch_floats(problem));
  const chunk::RunFunction run = chunk::chunk_kernel(instruction_set_);
  double loss = 0;
  for (size_t first = 0; first < n; first += chunk::kChunk) {
    const chunk::Chunk c{data, labels, index + first, static_cast<int>(std::min<size_t>(chunk::kChunk, n - first)),
                         static_cast<int64_t>(first)};
    loss += run(problem, c, scratch_.data(), want_loss);
  }
  for (TrainerLayer& layer : layers_) {
    sum_lanes(layer.lane_grad_weight, layer.grad_weight);
    sum_lanes(layer.lane_grad_bias, layer.grad_bias);
    through_spectral_factor(layer, options_);
  }
  ++steps_;
  return want_loss ? loss / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

double FCResNetTrainer::step(const float* data, const int64_t* labels, const int64_t* index, size_t n,
                             bool want_loss) {
  const double loss = compute_gradients(data, labels, index, n, want_loss);
  for (TrainerLayer& layer : layers_) {
    adam(layer.weight, layer.grad_weight, layer.adam_m_weight, layer.adam_v_weight, learning_rate_, steps_);
    adam(layer.bias, layer.grad_bias, layer.adam_m_bias, layer.adam_v_bias, learning_rate_, steps_);
  }
  return loss;
}

const char* FCResNetTrainer::best_instruction_set() { return chunk::best_instruction_set(); }

void FCResNetTrainer::copy_to(FCResNet& net) const {
  torch::NoGradGuard no_grad;
  auto params = net->named_parameters();
  auto buffers = net->named_buffers();
  for (size_t i = 0; i < layers_.size(); ++i) {
    const TrainerLayer& layer = layers_[i];
    const std::string prefix = layer_prefix(i, layers_.size());
    copy_into(params[prefix + (layer.spectral ? ".weight_orig" : ".weight")], layer.weight);
    copy_into(params[prefix + ".bias"], layer.bias);
    if (!layer.spectral) continue;
    copy_into(buffers[prefix + ".weight_u"], layer.u);
    copy_into(buffers[prefix + ".weight_v"], layer.v);
    buffers[prefix + ".weight_sigma"].fill_(layer.sigma);
  }
}

}  // namespace maskterial
