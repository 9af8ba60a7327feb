#include "maskterial/segment/mask2former/mask2former.hpp"

#include "maskterial/util/error.hpp"

namespace maskterial::segment {

Mask2FormerImpl::Mask2FormerImpl(const SegmenterOptions& options) : options_(options) {
  options_.validate("mask2former");
  backbone_ = register_module("backbone", ResNet(options_.backbone));
  pixel_decoder_ = register_module("pixel_decoder", make_pixel_decoder(options_.pixel_decoder, backbone_->channels()));
  predictor_ = register_module("predictor",
                               MaskedTransformerDecoder(options_.decoder, options_.pixel_decoder.hidden_dim,
                                                        options_.pixel_decoder.mask_dim, options_.num_classes));
}

SegmenterOutput Mask2FormerImpl::forward(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) % 32 != 0 || images.size(3) % 32 != 0)
    throw Error("mask2former: images must be [B, 3, H, W] with H and W multiples of 32");
  const auto to_tensor = [&](const std::array<float, 3>& v) {
    return torch::tensor({v[0], v[1], v[2]}, images.options()).view({1, 3, 1, 1});
  };
  torch::Tensor normalised;
  if (options_.normalisation == "substrate") {
    const torch::Tensor substrate = std::get<0>(images.flatten(2).median(-1)).clamp_min(1.0).view({-1, 3, 1, 1});
    normalised = (images - substrate) / (substrate * (to_tensor(options_.pixel_std) / to_tensor(options_.pixel_mean)));
  } else {
    normalised = (images - to_tensor(options_.pixel_mean)) / to_tensor(options_.pixel_std);
  }
  const PixelDecoderOutput pixels = pixel_decoder_->forward(backbone_->forward(normalised));
  std::vector<DecoderPrediction> predictions = predictor_->forward(pixels.multi_scale, pixels.mask_features);

  SegmenterOutput out{predictions.back().logits, predictions.back().masks, {}};
  predictions.pop_back();
  for (auto& p : predictions) out.aux.push_back({std::move(p.logits), std::move(p.masks), {}});
  return out;
}

torch::nn::Module& Mask2FormerImpl::backbone() { return *backbone_; }
torch::nn::Module& Mask2FormerImpl::pixel_decoder() { return *pixel_decoder_; }
torch::nn::Module& Mask2FormerImpl::predictor() { return *predictor_; }

}  // namespace maskterial::segment
