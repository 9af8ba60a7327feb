#pragma once
// The classical detector: per-pixel GMM classification in contrast space, then per class a morphological
// opening, 4-connected components, a size threshold and hole filling. Two rule sets:
//  - MaskTerial (default): MaskTerial's classification-only path (no blur, 3x3 opening twice, size counted
//    after filling the outer contour, centre from contour moments).
//  - TwoDMatGmm: the 2DMatGMM detector exactly (5x5 median blur, radius-2 disk opening, size counted before
//    hole filling, centre of the rotated bounding rectangle), for reproducing published results.
#include <string>

#include <opencv2/core.hpp>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/core/flake.hpp"

namespace maskterial {

enum class GmmRules { MaskTerial, TwoDMatGmm };

struct GmmDetectorOptions {
  GmmRules rules = GmmRules::MaskTerial;
  double std_threshold = 5.0;  // Mahalanobis distance limit, standard deviations
  int size_threshold = 200;    // px
  double min_score = 0.0;      // flakes with score (1 - fp probability) below are dropped
};

// Wall time of each stage, for the benchmark and `detect --timings`.
struct DetectTimings {
  double preprocess_ms = 0;  // flat field, median blur
  double background_ms = 0;
  double classify_ms = 0;    // per-pixel GMM
  double components_ms = 0;  // opening, components, contours and flake measurement
  double total() const { return preprocess_ms + background_ms + classify_ms + components_ms; }
};

class GmmDetector {
 public:
  GmmDetector(GmmClassifier classifier, GmmDetectorOptions options, cv::Mat flat_field = {});

  // bgr8: 8-bit BGR image. Thread-safe (no mutable state).
  Detection detect(const cv::Mat& bgr8, const std::string& name, DetectTimings* timings = nullptr) const;

  const GmmClassifier& classifier() const { return classifier_; }
  const GmmDetectorOptions& options() const { return options_; }

 private:
  void extract_2dmatgmm(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                        Detection& out) const;
  void extract_maskterial(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                          Detection& out) const;

  GmmClassifier classifier_;
  GmmDetectorOptions options_;
  cv::Mat flat_field_;
};

}  // namespace maskterial
