#pragma once
// Inference with a Mask2Former model, and its model directory:
//   model.json  {"format": "maskterial", "kind": "segmentation", "type": "mask2former",
//                "options": SegmenterOptions, "files": {"weights": "model.pt"}, "training": {...}}
//   model.pt    the module's parameters and buffers (torch::save, libtorch's serialize archive)
// An image is resized by the model's inference_scale, cut into tiles (or taken whole), padded to multiples
// of 32 with the pixel mean and passed through the network; per query, score = class probability × mean mask probability inside the
// binarised mask (as MaskTerial's Mask2Former instance inference, computed at the mask logits' 1/4
// resolution); queries scoring above the threshold become full-resolution masks (logits upsampled
// bilinearly, > 0).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/segment/inference.hpp"
#include "maskterial/segment/instance_segmenter.hpp"
#include "maskterial/segment/mask2former/mask2former.hpp"

namespace maskterial::segment {

class Segmenter : public InstanceSegmenter {
 public:
  // Puts the model in evaluation mode. training: free-form record of how the model was made (model.json).
  explicit Segmenter(Mask2Former model, nlohmann::json training = nlohmann::json::object(),
                     double score_threshold = kDefaultScoreThreshold);

  // Throws Error naming the file: missing or malformed model.json, wrong kind or type, bad options,
  // missing weights, weights that do not fit the architecture.
  static std::shared_ptr<Segmenter> load(const std::string& dir, double score_threshold = kDefaultScoreThreshold);
  // Writes the model directory atomically (whole or not at all).
  void save(const std::string& dir) const;
  nlohmann::json describe() const;  // the model.json content

  std::vector<InstanceMask> predict(const cv::Mat& bgr8) const override;

  Mask2Former model() const { return model_; }
  double score_threshold() const { return score_threshold_; }

 private:
  Mask2Former model_;
  nlohmann::json training_;
  double score_threshold_;
};

// One query's mask at the image's resolution: its logits (CV_32F, at 1/4 of the network input) resampled
// bilinearly with pixel centres aligned (image pixel x reads logit column (x + 0.5) * scale_x - 0.5), > 0.
// CV_8U of `size`, 255 inside; empty when no pixel is positive. Bilinear values are positive only next to
// positive logits, so only their box is resampled.
// `offset`: where the logits' origin lies in the whole scaled image's 1/4 grid (a tile's origin / 4).
cv::Mat resample_mask(const cv::Mat& logits, double scale_x, double scale_y, const cv::Size& size,
                      cv::Point2d offset = {0, 0});

}  // namespace maskterial::segment
