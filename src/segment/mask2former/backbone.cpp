#include "maskterial/segment/mask2former/backbone.hpp"

namespace maskterial::segment {

namespace nn = torch::nn;

FrozenBatchNormImpl::FrozenBatchNormImpl(int64_t channels) {
  weight = register_buffer("weight", torch::ones({channels}));
  bias = register_buffer("bias", torch::zeros({channels}));
  running_mean = register_buffer("running_mean", torch::zeros({channels}));
  running_var = register_buffer("running_var", torch::ones({channels}));
}

torch::Tensor FrozenBatchNormImpl::forward(const torch::Tensor& x) {
  constexpr double kEps = 1e-5;
  const torch::Tensor scale = weight * (running_var + kEps).rsqrt();
  const torch::Tensor shift = bias - running_mean * scale;
  return x * scale.view({1, -1, 1, 1}) + shift.view({1, -1, 1, 1});
}

ConvNormImpl::ConvNormImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool frozen_bn) {
  conv_ = register_module(
      "conv", nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false)));
  // detectron2's c2_msra_fill.
  nn::init::kaiming_normal_(conv_->weight, 0.0, torch::kFanOut, torch::kReLU);
  if (frozen_bn)
    frozen_norm_ = register_module("norm", FrozenBatchNorm(out));
  else
    norm_ = register_module("norm", nn::BatchNorm2d(out));
}

torch::Tensor ConvNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor y = conv_(x);
  return frozen_norm_ ? frozen_norm_(y) : norm_(y);
}

ResidualBlockImpl::ResidualBlockImpl(int64_t in, int64_t bottleneck, int64_t out, int64_t stride,
                                     bool use_bottleneck, bool frozen_bn) {
  branch_ = use_bottleneck ? nn::Sequential(ConvNorm(in, bottleneck, 1, 1, frozen_bn), nn::ReLU(),
                                            ConvNorm(bottleneck, bottleneck, 3, stride, frozen_bn), nn::ReLU(),
                                            ConvNorm(bottleneck, out, 1, 1, frozen_bn))
                           : nn::Sequential(ConvNorm(in, out, 3, stride, frozen_bn), nn::ReLU(),
                                            ConvNorm(out, out, 3, 1, frozen_bn));
  register_module("branch", branch_);
  if (in != out || stride != 1) shortcut_ = register_module("shortcut", ConvNorm(in, out, 1, stride, frozen_bn));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  return torch::relu(branch_->forward(x) + (shortcut_ ? shortcut_(x) : x));
}

ResNetImpl::ResNetImpl(const BackboneOptions& options) {
  const bool bottleneck = options.depth >= 50;
  const std::array<int, 4> blocks = options.depth == 18 ? std::array<int, 4>{2, 2, 2, 2} : std::array<int, 4>{3, 4, 6, 3};
  const int64_t width = options.stem_width;
  stem_ = register_module("stem", ConvNorm(3, width, 7, 2, options.frozen_bn));
  int64_t in = width;
  for (int s = 0; s < 4; ++s) {
    const int64_t inner = width << s;
    const int64_t out = bottleneck ? 4 * inner : inner;
    nn::Sequential stage;
    for (int b = 0; b < blocks[s]; ++b)
      stage->push_back(ResidualBlock(b == 0 ? in : out, inner, out, b == 0 && s > 0 ? 2 : 1, bottleneck,
                                     options.frozen_bn));
    stages_[s] = register_module("res" + std::to_string(s + 2), stage);
    channels_[s] = out;
    in = out;
  }
}

BackboneFeatures ResNetImpl::forward(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  const torch::Tensor stem = F::max_pool2d(torch::relu(stem_(x)), F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  BackboneFeatures f;
  f.res2 = stages_[0]->forward(stem);
  f.res3 = stages_[1]->forward(f.res2);
  f.res4 = stages_[2]->forward(f.res3);
  f.res5 = stages_[3]->forward(f.res4);
  return f;
}

}  // namespace maskterial::segment
