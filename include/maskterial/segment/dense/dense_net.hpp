#pragma once
// The dense segmentation network: a small fully convolutional encoder (four stride-2 stages, residual blocks
// where they pay, 1/2 .. 1/16 of its input) and a U-Net decoder that merges them back to 1/4, predicts three
// per-pixel heads there — flake, flake boundary and normalised distance to the flake's edge (logits) — and
// refines them at 1/2 with the finest encoder features. Encoder and decoder are separate modules so that
// fine-tuning can train the decoder alone.
#include <vector>

#include <torch/torch.h>

#include "maskterial/segment/dense/dense_options.hpp"

namespace maskterial::segment {

// Logits [B, 1, H/2, W/2] each.
struct DenseMaps {
  torch::Tensor flake, boundary, distance;
};

class DenseEncoderImpl : public torch::nn::Module {
 public:
  explicit DenseEncoderImpl(const DenseOptions& options);
  std::vector<torch::Tensor> forward(const torch::Tensor& features);  // 1/2, 1/4, 1/8, 1/16
 private:
  std::vector<torch::nn::Sequential> stages_;
};
TORCH_MODULE(DenseEncoder);

class DenseDecoderImpl : public torch::nn::Module {
 public:
  explicit DenseDecoderImpl(const DenseOptions& options);
  torch::Tensor forward(const std::vector<torch::Tensor>& levels);  // [B, 3, H/2, W/2]
 private:
  std::vector<torch::nn::Sequential> merges_;  // 1/8, 1/4
  torch::nn::Conv2d heads_{nullptr};           // at 1/4
  torch::nn::Conv2d refine_{nullptr};          // 1x1 on the 1/2 features, added to the upsampled heads
};
TORCH_MODULE(DenseDecoder);

class DenseNetImpl : public torch::nn::Module {
 public:
  explicit DenseNetImpl(const DenseOptions& options);
  // features: [B, input_channels, H, W] from dense_features, H and W multiples of 16 (Error otherwise).
  DenseMaps forward(const torch::Tensor& features);
  DenseEncoder encoder() const { return encoder_; }
  DenseDecoder decoder() const { return decoder_; }
  const DenseOptions& options() const { return options_; }
  // Score calibration travels with the network's options (model.json).
  void set_calibration(double slope, double offset);

 private:
  DenseOptions options_;
  DenseEncoder encoder_{nullptr};
  DenseDecoder decoder_{nullptr};
};
TORCH_MODULE(DenseNet);

}  // namespace maskterial::segment
