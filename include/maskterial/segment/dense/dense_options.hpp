#pragma once
// Configuration of the dense contrast-domain segmentation model: input features, network sizes and the rules
// that turn its dense maps into instances. Data, not code: it travels in model.json ("options").
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace maskterial::segment {

struct DenseOptions {
  // --- input: what the network sees (dense_input.hpp) ---
  double inference_scale = 0.5;  // images are resized by this first (area averaging)
  // "contrast": clamp(C x gain, -input_clip, input_clip), C = I / I_bg - 1; "colour": the colour normalised by a
  // fixed scan colour (MaskTerial's pixel mean and spread); "both": the two, 6 channels (ablations).
  std::string input = "contrast";
  double contrast_gain = 5.0;
  double input_clip = 4.0;
  // --- network (dense_net.hpp) ---
  // Budget: the whole pipeline within a few times the classifier alone on one core. Convolutions with few
  // channels on large maps run far below peak on a CPU, so the 1/2 level (the output grid) is thin: a
  // stride-2 convolution and a 1x1 refinement of the heads predicted at 1/4.
  std::vector<int> encoder_widths{8, 24, 32, 48};  // channels at 1/2, 1/4, 1/8, 1/16 of the network input
  std::vector<int> encoder_blocks{0, 0, 1, 1};     // residual blocks after each stage's stride-2 convolution
  std::vector<int> decoder_widths{16, 24};         // channels of the merged 1/4 and 1/8 levels
  // --- instances (dense_instances.hpp), at the output grid (1/2 of the network input) ---
  double flake_threshold = 0.5;     // flake probability above this is flake
  double boundary_threshold = 0.5;  // boundary probability above this separates seeds
  double seed_distance = 0.4;       // seeds: flake pixels whose normalised distance to the edge exceeds this
  int min_instance_cells = 3;       // smaller instances (output cells) are dropped
  // Full-resolution edges: the output grid is coarse (4 px at scale 0.5), so within this many image pixels of
  // a mask's edge the flake's own contrast decides (edge_refinement.hpp); 0 keeps the grid's edges.
  int edge_band_px = 4;
  // Score calibration: score = sigmoid(calibration_slope x logit(mean flake probability) + calibration_offset),
  // fitted on held-out predictions so that a score of 0.5 means half such instances are real flakes.
  double calibration_slope = 1.0;
  double calibration_offset = 0.0;

  int input_channels() const { return input == "both" ? 6 : 3; }
  nlohmann::json to_json() const;
  // Missing keys keep their defaults; unknown keys, wrong types and bad values throw Error naming `source`.
  static DenseOptions from_json(const nlohmann::json& json, const std::string& source);
  void validate(const std::string& source) const;
};

}  // namespace maskterial::segment
