#pragma once
// Small Mask2Former models for tests: a tiny architecture, and one whose output is known because its heads
// are set by hand.
#include <stdexcept>
#include <string>

#include "maskterial/segment/mask2former/mask2former.hpp"

namespace maskterial::test_models {

// Runs in milliseconds on 64x64 images.
inline segment::SegmenterOptions tiny_segmenter_options(const std::string& pixel_decoder = "msdeform") {
  segment::SegmenterOptions o = segment::SegmenterOptions::preset_named("lite");
  o.backbone.stem_width = 8;
  o.pixel_decoder.type = pixel_decoder;
  o.pixel_decoder.hidden_dim = 32;
  o.pixel_decoder.mask_dim = 16;
  o.pixel_decoder.encoder_layers = 1;
  o.pixel_decoder.ffn_dim = 32;
  o.decoder.hidden_dim = 16;
  o.decoder.layers = 3;
  o.decoder.queries = 5;
  o.decoder.heads = 2;
  o.decoder.ffn_dim = 32;
  return o;
}

inline torch::Tensor& named_parameter(segment::Mask2Former& model, const std::string& name) {
  for (auto& p : model->named_parameters(true))
    if (p.key() == name) return p.value();
  throw std::runtime_error("no parameter " + name);
}

// Every query says "flake" (p ≈ 1) and predicts the mask logit `logit` at every pixel: its class head has
// zero weights, its mask embedding is the constant 1 and the pixel decoder's mask features the constant
// logit / mask_dim.
inline segment::Mask2Former constant_mask_model(const segment::SegmenterOptions& options, double logit) {
  torch::manual_seed(7);
  segment::Mask2Former model(options);
  torch::NoGradGuard no_grad;
  named_parameter(model, "predictor.class_embed.weight").zero_();
  named_parameter(model, "predictor.class_embed.bias").copy_(torch::tensor({20.0f, -20.0f}));
  named_parameter(model, "predictor.mask_embed.4.weight").zero_();
  named_parameter(model, "predictor.mask_embed.4.bias").fill_(1.0);
  named_parameter(model, "pixel_decoder.mask_features.weight").zero_();
  named_parameter(model, "pixel_decoder.mask_features.bias").fill_(logit / options.pixel_decoder.mask_dim);
  return model;
}

}  // namespace maskterial::test_models
