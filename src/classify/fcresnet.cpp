#include "maskterial/classify/fcresnet.hpp"

#include <cmath>

#include "maskterial/util/error.hpp"
#include "maskterial/util/json_fields.hpp"

namespace maskterial {
FCResNetOptions FCResNetOptions::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw file_error(source, "model_arch is not an object");
  FCResNetOptions o;
  read_json_field(json, "input_dim", o.input_dim, source, "model_arch");
  read_json_field(json, "embedding_dim", o.embedding_dim, source, "model_arch");
  read_json_field(json, "depth", o.depth, source, "model_arch");
  read_json_field(json, "num_classes", o.num_classes, source, "model_arch");
  read_json_field(json, "spectral_normalization", o.spectral_normalization, source, "model_arch");
  read_json_field(json, "spec_coeff", o.spec_coeff, source, "model_arch");
  read_json_field(json, "n_power_iterations", o.n_power_iterations, source, "model_arch");
  read_json_field(json, "dropout_rate", o.dropout_rate, source, "model_arch");
  const auto bound = [&](const char* key, int value, int min, int max) {
    if (value < min || value > max)
      throw file_error(source, std::string("model_arch: ") + key + " " + std::to_string(value) + " is outside [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  };
  bound("input_dim", o.input_dim, 1, FCResNetOptions::kMaxInputDim);
  bound("embedding_dim", o.embedding_dim, 1, FCResNetOptions::kMaxEmbeddingDim);
  bound("depth", o.depth, 0, FCResNetOptions::kMaxDepth);
  bound("num_classes", o.num_classes, 1, FCResNetOptions::kMaxClasses);
  bound("n_power_iterations", o.n_power_iterations, 1, FCResNetOptions::kMaxPowerIterations);
  if (!(o.spec_coeff > 0) || !(o.dropout_rate >= 0 && o.dropout_rate < 1))
    throw file_error(source, "model_arch: spec_coeff must be above 0 and dropout_rate in [0, 1)");
  return o;
}

nlohmann::json FCResNetOptions::to_json() const {
  return {{"num_classes", num_classes}, {"input_dim", input_dim}, {"embedding_dim", embedding_dim},
          {"depth", depth}, {"spec_coeff", spec_coeff}, {"n_power_iterations", n_power_iterations},
          {"spectral_normalization", spectral_normalization}, {"dropout_rate", dropout_rate}};
}

SpectralLinearImpl::SpectralLinearImpl(int in, int out, double coeff, int power_iterations)
    : coeff_(coeff), power_iterations_(power_iterations) {
  // nn.Linear's initialisation: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight_orig = register_parameter("weight_orig", torch::empty({out, in}).uniform_(-bound, bound));
  bias = register_parameter("bias", torch::empty({out}).uniform_(-bound, bound));
  weight_u = register_buffer("weight_u", torch::nn::functional::normalize(
                                             torch::randn({out}), torch::nn::functional::NormalizeFuncOptions().dim(0).eps(1e-12)));
  weight_v = register_buffer("weight_v", torch::nn::functional::normalize(
                                             torch::randn({in}), torch::nn::functional::NormalizeFuncOptions().dim(0).eps(1e-12)));
  weight_sigma = register_buffer("weight_sigma", torch::ones({1}));
}

torch::Tensor SpectralLinearImpl::effective_weight() {
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(0).eps(1e-12);
  if (is_training()) {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < power_iterations_; ++i) {
      weight_v.copy_(F::normalize(torch::mv(weight_orig.t(), weight_u), unit));
      weight_u.copy_(F::normalize(torch::mv(weight_orig, weight_v), unit));
    }
  }
  const torch::Tensor sigma = torch::dot(weight_u, torch::mv(weight_orig, weight_v));
  if (is_training()) {
    torch::NoGradGuard no_grad;
    weight_sigma.copy_(sigma.detach().reshape({1}));
  }
  return weight_orig / torch::clamp_min(sigma / coeff_, 1.0);
}

torch::Tensor SpectralLinearImpl::forward(const torch::Tensor& x) {
  return torch::nn::functional::linear(x, effective_weight(), bias);
}

FCResNetImpl::FCResNetImpl(const FCResNetOptions& options) : options_(options) {
  const auto add_layer = [&](const std::string& name, int in, int out) -> torch::nn::AnyModule {
    if (options_.spectral_normalization)
      return torch::nn::AnyModule(register_module(name, SpectralLinear(in, out, options_.spec_coeff, options_.n_power_iterations)));
    return torch::nn::AnyModule(register_module(name, torch::nn::Linear(in, out)));
  };
  layers_.push_back(add_layer("first", options_.input_dim, options_.embedding_dim));
  auto residuals = register_module("residuals", torch::nn::ModuleList());
  for (int i = 0; i < options_.depth; ++i) {
    torch::nn::AnyModule layer =
        options_.spectral_normalization
            ? torch::nn::AnyModule(SpectralLinear(options_.embedding_dim, options_.embedding_dim,
                                                  options_.spec_coeff, options_.n_power_iterations))
            : torch::nn::AnyModule(torch::nn::Linear(options_.embedding_dim, options_.embedding_dim));
    residuals->push_back(layer.ptr());
    layers_.push_back(std::move(layer));
  }
  dropout_ = register_module("dropout", torch::nn::Dropout(options_.dropout_rate));
  last_ = register_module("last", torch::nn::Linear(options_.embedding_dim, options_.num_classes));
}

torch::Tensor FCResNetImpl::layer(size_t index, const torch::Tensor& x) { return layers_[index].forward(x); }

torch::Tensor FCResNetImpl::embed(const torch::Tensor& x) {
  torch::Tensor z = layer(0, x);
  for (size_t i = 1; i < layers_.size(); ++i) z = z + dropout_(torch::elu(layer(i, z)));
  return z;
}

torch::Tensor FCResNetImpl::forward(const torch::Tensor& x) { return last_(embed(x)); }

}  // namespace maskterial
