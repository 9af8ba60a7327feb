#pragma once
// ResNet backbone (He et al., CVPR 2016) in detectron2's layout: a 7x7 stem with max pooling, then stages
// res2..res5 at strides 4, 8, 16, 32. Depth 18 and 34 use basic blocks, 50 bottlenecks with the stride on
// the 3x3 convolution (torchvision style, detectron2's STRIDE_IN_1X1 = False). Widths scale from stem_width
// (64 = the standard networks).
#include <array>
#include <cstdint>

#include <torch/torch.h>

#include "maskterial/segment/mask2former/options.hpp"

namespace maskterial::segment {

// Batch norm with fixed statistics and affine parameters, all buffers: y = (x - mean) / sqrt(var + eps) *
// weight + bias. Neither training mode nor optimisers change it.
class FrozenBatchNormImpl : public torch::nn::Module {
 public:
  explicit FrozenBatchNormImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight, bias, running_mean, running_var;
};
TORCH_MODULE(FrozenBatchNorm);

// Convolution without bias followed by (frozen) batch norm.
class ConvNormImpl : public torch::nn::Module {
 public:
  ConvNormImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool frozen_bn);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::BatchNorm2d norm_{nullptr};
  FrozenBatchNorm frozen_norm_{nullptr};
};
TORCH_MODULE(ConvNorm);

// One residual block: basic (two 3x3) or bottleneck (1x1, 3x3, 1x1), with a projection shortcut where the
// shape changes.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t bottleneck, int64_t out, int64_t stride, bool use_bottleneck, bool frozen_bn);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential branch_{nullptr};  // the last layer has no ReLU
  ConvNorm shortcut_{nullptr};
};
TORCH_MODULE(ResidualBlock);

struct BackboneFeatures {
  torch::Tensor res2, res3, res4, res5;  // strides 4, 8, 16, 32
};

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const BackboneOptions& options);
  BackboneFeatures forward(const torch::Tensor& x);
  const std::array<int64_t, 4>& channels() const { return channels_; }  // of res2..res5

 private:
  ConvNorm stem_{nullptr};
  std::array<torch::nn::Sequential, 4> stages_{nullptr, nullptr, nullptr, nullptr};
  std::array<int64_t, 4> channels_{};
};
TORCH_MODULE(ResNet);

}  // namespace maskterial::segment
