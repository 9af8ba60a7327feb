#include "maskterial/segment/dense/dense_net.hpp"

#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

namespace nn = torch::nn;

nn::Sequential conv_bn_relu(int in, int out, int stride, int kernel = 3) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false)),
                        nn::BatchNorm2d(out), nn::ReLU(nn::ReLUOptions(true)));
}

// x + conv(relu(conv(x))), then ReLU: depth without losing the input's fine detail.
class ResidualBlockImpl : public nn::Module {
 public:
  explicit ResidualBlockImpl(int width)
      : first_(register_module("first", conv_bn_relu(width, width, 1))),
        second_(register_module("second", nn::Conv2d(nn::Conv2dOptions(width, width, 3).padding(1).bias(false)))),
        norm_(register_module("norm", nn::BatchNorm2d(width))) {}
  torch::Tensor forward(const torch::Tensor& x) { return torch::relu(x + norm_->forward(second_->forward(first_->forward(x)))); }

 private:
  nn::Sequential first_;
  nn::Conv2d second_;
  nn::BatchNorm2d norm_;
};
TORCH_MODULE(ResidualBlock);

}  // namespace

DenseEncoderImpl::DenseEncoderImpl(const DenseOptions& options) {
  int in = options.input_channels();
  for (size_t i = 0; i < options.encoder_widths.size(); ++i) {
    const int width = options.encoder_widths[i];
    nn::Sequential stage = conv_bn_relu(in, width, 2);
    for (int b = 0; b < options.encoder_blocks[i]; ++b) stage->push_back(ResidualBlock(width));
    stages_.push_back(register_module("stage" + std::to_string(i + 1), stage));
    in = width;
  }
}

std::vector<torch::Tensor> DenseEncoderImpl::forward(const torch::Tensor& features) {
  std::vector<torch::Tensor> levels;
  torch::Tensor x = features;
  for (auto& stage : stages_) levels.push_back(x = stage->forward(x));
  return levels;
}

DenseDecoderImpl::DenseDecoderImpl(const DenseOptions& options) {
  const auto& enc = options.encoder_widths;
  const auto& dec = options.decoder_widths;
  int coarser = enc[3];
  for (int level = 2; level >= 1; --level) {  // 1/8, 1/4
    merges_.push_back(register_module("merge" + std::to_string(level + 1), conv_bn_relu(coarser + enc[level], dec[level - 1], 1)));
    coarser = dec[level - 1];
  }
  heads_ = register_module("heads", nn::Conv2d(nn::Conv2dOptions(dec[0], 3, 3).padding(1)));
  refine_ = register_module("refine", nn::Conv2d(nn::Conv2dOptions(enc[0], 3, 1)));
}

namespace {

torch::Tensor upsample_to(const torch::Tensor& x, const torch::Tensor& like) {
  return torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                   .size(std::vector<int64_t>{like.size(2), like.size(3)})
                                                   .mode(torch::kBilinear)
                                                   .align_corners(false));
}

}  // namespace

torch::Tensor DenseDecoderImpl::forward(const std::vector<torch::Tensor>& levels) {
  torch::Tensor x = levels[3];
  for (size_t m = 0; m < merges_.size(); ++m) {
    const torch::Tensor& skip = levels[2 - m];
    x = merges_[m]->forward(torch::cat({upsample_to(x, skip), skip}, 1));
  }
  return upsample_to(heads_->forward(x), levels[0]) + refine_->forward(levels[0]);
}

DenseNetImpl::DenseNetImpl(const DenseOptions& options) : options_(options) {
  options_.validate("dense model");
  encoder_ = register_module("encoder", DenseEncoder(options_));
  decoder_ = register_module("decoder", DenseDecoder(options_));
}

void DenseNetImpl::set_calibration(double slope, double offset) {
  DenseOptions changed = options_;
  changed.calibration_slope = slope;
  changed.calibration_offset = offset;
  changed.validate("dense model calibration");
  options_ = changed;
}

DenseMaps DenseNetImpl::forward(const torch::Tensor& features) {
  if (features.dim() != 4 || features.size(1) != options_.input_channels() || features.size(2) % 16 != 0 ||
      features.size(3) % 16 != 0)
    throw Error("dense model: input must be [B, " + std::to_string(options_.input_channels()) +
                ", H, W] with H and W multiples of 16");
  const torch::Tensor maps = decoder_->forward(encoder_->forward(features));
  return {maps.slice(1, 0, 1), maps.slice(1, 1, 2), maps.slice(1, 2, 3)};
}

}  // namespace maskterial::segment
