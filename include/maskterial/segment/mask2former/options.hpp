#pragma once
// Configuration of the Mask2Former segmentation model: which parts and how big. Data, not code: it travels in
// a model directory's model.json ("options") and is built from a named preset plus overrides.
#include <array>
#include <string>

#include <nlohmann/json.hpp>

namespace maskterial::segment {

struct BackboneOptions {
  int depth = 50;          // 18, 34 (basic blocks) or 50 (bottlenecks)
  int stem_width = 64;     // channels after the stem; the stages scale from it (lite presets shrink it)
  // Batch norm with fixed statistics and affine parameters, as detectron2 does on ImageNet weights. Off by
  // default: there are no pretrained weights here, and a network trained from scratch needs its statistics.
  bool frozen_bn = false;
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
  // "fixed": (pixel - pixel_mean) / pixel_std. "substrate": per image, the substrate colour (each channel's
  // median) takes pixel_mean's place and the spread scales with it (pixel_std / pixel_mean x substrate), so
  // the network sees (pixel - substrate) / (k x substrate) = contrast / k: exposure and white balance, which
  // vary strongly between scans, drop out, as in the contrast the classifiers use.
  std::string normalisation = "fixed";
  double inference_scale = 1.0;  // images are resized by this before the network (lite: 0.5)
  // Tiled inference: square tiles of this side (pixels of the scaled image, a multiple of 32; 0 = the whole
  // image at once) overlapping by at least inference_tile_overlap. Tiles the size of the training crops show
  // the network as many flakes as it learnt to expect; each tile keeps the masks centred in the part it owns.
  int inference_tile = 0;
  int inference_tile_overlap = 128;
  // Masks overlapping a better-scoring mask by more than this IoU are dropped (0 = keep all, as Mask2Former):
  // several queries converging on one flake would otherwise report it several times.
  double inference_mask_nms = 0;

  // "paper": ResNet-50, msdeform encoder (6 layers, hidden 256), 9+1 decoder layers, 100 queries.
  // "lite": small enough to pretrain on a 2-core CPU and run a 1920x1200 image in under a second.
  static SegmenterOptions preset_named(const std::string& name);  // throws Error on an unknown name
  // Preset named by json["preset"] (default "paper"), then any keys given override it.
  static SegmenterOptions from_json(const nlohmann::json& json, const std::string& source_name);
  nlohmann::json to_json() const;
  // Throws Error "<source_name>: segmenter options: <problem>" on values no model can be built from.
  void validate(const std::string& source_name) const;
};

}  // namespace maskterial::segment
