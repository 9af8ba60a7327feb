#pragma once
// Mask2Former (Cheng et al., CVPR 2022) as MaskTerial uses it: class-agnostic instance segmentation of flakes.
// detectron2-style parts chosen by config: a ResNet backbone (res2..res5), a multi-scale pixel decoder (FPN or
// the multi-scale deformable-attention encoder, written with grid_sample so it runs on CPU and GPU without
// custom kernels), and a transformer decoder with masked attention, learnable queries and round-robin over
// the three coarsest feature scales. Heads: class (num_classes + no-object) and mask (query embedding ·
// per-pixel embedding at 1/4 resolution).
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace maskterial::segment {

struct BackboneOptions {
  int depth = 50;          // 18, 34 (basic blocks) or 50 (bottlenecks)
  int stem_width = 64;     // channels after the stem; the stages scale from it (lite presets shrink it)
  bool frozen_bn = true;   // batch norm with fixed statistics and affine parameters, as detectron2
};

struct PixelDecoderOptions {
  std::string type = "msdeform";  // "msdeform" (Mask2Former's encoder) or "fpn"
  int hidden_dim = 256;
  int mask_dim = 256;             // per-pixel embedding size
  int encoder_layers = 6;         // msdeform only
  int heads = 8;
  int points = 4;                 // sampling points per head and level (msdeform)
  int ffn_dim = 1024;
};

struct TransformerDecoderOptions {
  int hidden_dim = 256;
  int layers = 9;          // decoder layers; MaskTerial's DEC_LAYERS 10 = 9 layers + the prediction before them
  int queries = 100;
  int heads = 8;
  int ffn_dim = 2048;
};

struct SegmenterOptions {
  std::string preset = "paper";
  BackboneOptions backbone;
  PixelDecoderOptions pixel_decoder;
  TransformerDecoderOptions decoder;
  int num_classes = 1;  // "flake"; the head has num_classes + 1 outputs (the last is no-object)
  // Input normalisation in BGR channel order (images come from OpenCV), 0..255 scale; MaskTerial's values
  // for SiO2/Si scans.
  std::array<float, 3> pixel_mean{107.0f, 148.0f, 85.0f};
  std::array<float, 3> pixel_std{33.0f, 34.0f, 40.0f};
  double inference_scale = 1.0;  // images are resized by this before the network (lite: 0.5)

  // "paper": ResNet-50, msdeform encoder (6 layers, hidden 256), 9+1 decoder layers, 100 queries.
  // "lite": small enough to pretrain on a 2-core CPU and run a 1920x1200 image in under a second.
  static SegmenterOptions preset_named(const std::string& name);  // throws Error on an unknown name
  // Preset named by json["preset"] (default "paper"), then any keys given override it.
  static SegmenterOptions from_json(const nlohmann::json& json, const std::string& source_name);
  nlohmann::json to_json() const;
};

// Predictions for a batch. masks are logits at 1/4 of the input resolution.
struct SegmenterOutput {
  torch::Tensor logits;             // [B, Q, num_classes + 1]
  torch::Tensor masks;              // [B, Q, H/4, W/4]
  std::vector<SegmenterOutput> aux;  // one per earlier decoder layer (deep supervision); empty in aux entries
};

class Mask2FormerImpl : public torch::nn::Module {
 public:
  explicit Mask2FormerImpl(const SegmenterOptions& options);

  // images: [B, 3, H, W] float, BGR, 0..255 (normalised inside). H and W should be multiples of 32.
  SegmenterOutput forward(const torch::Tensor& images);

  // The parts, for freezing during fine-tuning (registered as "backbone", "pixel_decoder", "predictor").
  torch::nn::Module& backbone();
  torch::nn::Module& pixel_decoder();
  torch::nn::Module& predictor();
  const SegmenterOptions& options() const { return options_; }

 private:
  SegmenterOptions options_;
  // ... parts (implementation detail)
};
TORCH_MODULE(Mask2Former);

}  // namespace maskterial::segment
