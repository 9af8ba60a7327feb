#pragma once
// Mask2Former (Cheng et al., CVPR 2022) as MaskTerial uses it: class-agnostic instance segmentation of flakes.
// detectron2-style parts chosen by config: a ResNet backbone (res2..res5), a multi-scale pixel decoder (FPN or
// the multi-scale deformable-attention encoder, written with grid_sample so it runs on CPU and GPU without
// custom kernels), and a transformer decoder with masked attention, learnable queries and round-robin over
// the three coarsest feature scales. Heads: class (num_classes + no-object) and mask (query embedding ·
// per-pixel embedding at 1/4 resolution).
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "maskterial/segment/mask2former/backbone.hpp"
#include "maskterial/segment/mask2former/options.hpp"
#include "maskterial/segment/mask2former/pixel_decoder.hpp"
#include "maskterial/segment/mask2former/transformer_decoder.hpp"

namespace maskterial::segment {

// Predictions for a batch. masks are logits at 1/4 of the input resolution.
struct SegmenterOutput {
  torch::Tensor logits;             // [B, Q, num_classes + 1]
  torch::Tensor masks;              // [B, Q, H/4, W/4]
  std::vector<SegmenterOutput> aux;  // one per earlier decoder layer (deep supervision); empty in aux entries
};

class Mask2FormerImpl : public torch::nn::Module {
 public:
  explicit Mask2FormerImpl(const SegmenterOptions& options);

  // images: [B, 3, H, W] float, BGR, 0..255 (normalised inside). H and W must be multiples of 32 (Error).
  SegmenterOutput forward(const torch::Tensor& images);

  // The parts, for freezing during fine-tuning (registered as "backbone", "pixel_decoder", "predictor").
  torch::nn::Module& backbone();
  torch::nn::Module& pixel_decoder();
  torch::nn::Module& predictor();
  const SegmenterOptions& options() const { return options_; }

 private:
  SegmenterOptions options_;
  ResNet backbone_{nullptr};
  std::shared_ptr<PixelDecoderImpl> pixel_decoder_;
  MaskedTransformerDecoder predictor_{nullptr};
};
TORCH_MODULE(Mask2Former);

}  // namespace maskterial::segment
