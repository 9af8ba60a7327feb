#pragma once
// The embedding network of MaskTerial's classification head: a fully connected residual network (ResFNN,
// arXiv:2006.10108) on a pixel's standardised contrast. first: Linear in→E; `depth` residual blocks
// z ← z + Dropout(ELU(Linear E→E (z))); last: Linear E→K, only used to train with cross-entropy. With spectral
// normalisation on first and residual layers the embedding is bi-Lipschitz enough that distances in it mean
// something, which is what lets Gaussian discriminant analysis flag inputs unlike the training data.
// Parameter names equal MaskTerial's state dict keys (first.weight_orig, residuals.0.weight_u, last.bias, ...).
#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace maskterial {

struct FCResNetOptions {
  int input_dim = 3;
  int embedding_dim = 16;
  int depth = 4;
  int num_classes = 2;
  bool spectral_normalization = true;
  double spec_coeff = 0.5;       // largest singular value allowed per normalised layer
  int n_power_iterations = 5;    // per training forward pass
  double dropout_rate = 0.1;

  // Upper bounds from_json enforces, far above any useful network for 3 contrast values (MaskTerial's own use
  // 3 / 16-64 / 4-8), so a meta data file cannot make a server or a training job allocate gigabytes.
  static constexpr int kMaxInputDim = 64;
  static constexpr int kMaxEmbeddingDim = 1024;
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxClasses = 255;
  static constexpr int kMaxPowerIterations = 100;

  // MaskTerial's "model_arch" keys; missing keys keep their defaults, wrong types and values outside the bounds
  // above throw Error.
  static FCResNetOptions from_json(const nlohmann::json& json, const std::string& source_name);
  nlohmann::json to_json() const;
};

// Linear layer with soft spectral normalisation: W = W_orig / max(1, σ/coeff), σ = uᵀ W_orig v with u, v
// from power iteration, updated in place on every forward pass in training mode (as torch's spectral_norm
// hook does); evaluation uses the stored u, v, so a loaded model reproduces its saved weights exactly.
class SpectralLinearImpl : public torch::nn::Module {
 public:
  SpectralLinearImpl(int in, int out, double coeff, int power_iterations);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor effective_weight();  // W_orig / max(1, σ/coeff)

  torch::Tensor weight_orig, bias, weight_u, weight_v, weight_sigma;

 private:
  double coeff_;
  int power_iterations_;
};
TORCH_MODULE(SpectralLinear);

class FCResNetImpl : public torch::nn::Module {
 public:
  explicit FCResNetImpl(const FCResNetOptions& options);
  torch::Tensor embed(const torch::Tensor& x);    // N×in → N×E; dropout only in training mode
  torch::Tensor forward(const torch::Tensor& x);  // N×in → N×K logits
  const FCResNetOptions& options() const { return options_; }

 private:
  torch::Tensor layer(size_t index, const torch::Tensor& x);  // 0 = first, 1.. = residuals

  FCResNetOptions options_;
  std::vector<torch::nn::AnyModule> layers_;  // SpectralLinear or Linear
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear last_{nullptr};
};
TORCH_MODULE(FCResNet);

}  // namespace maskterial
