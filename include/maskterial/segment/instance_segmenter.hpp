#pragma once
// What the detector needs from an instance segmentation model: scored masks of the flakes in an image. The
// Mask2Former segmenter implements it; tests feed known masks through a stand-in.
#include <memory>
#include <vector>

#include <opencv2/core.hpp>

namespace maskterial::segment {

// Masks scoring at most this are not instances (MaskTerial's score_threshold).
constexpr double kDefaultScoreThreshold = 0.3;

struct InstanceMask {
  cv::Mat mask;      // CV_8U, the full image's size, 255 inside
  float score = 0;   // class probability × mean mask probability inside the mask, in [0, 1]
  int category = 0;  // the model's class index (0 = "flake" for class-agnostic models)
};

class InstanceSegmenter {
 public:
  virtual ~InstanceSegmenter() = default;
  // Instances in an 8-bit BGR image, best score first. Thread-safe.
  virtual std::vector<InstanceMask> predict(const cv::Mat& bgr8) const = 0;
};

using SegmenterPtr = std::shared_ptr<const InstanceSegmenter>;

}  // namespace maskterial::segment
