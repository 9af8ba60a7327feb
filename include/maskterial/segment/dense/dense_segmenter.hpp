#pragma once
// Inference with the dense contrast-domain model, and its model directory (model_directory.hpp, type "dense").
// The image is resized by the inference scale, turned into contrast against its own substrate colour
// (dense_input.hpp), padded to multiples of 16 with bare substrate (contrast 0) and passed through the network
// whole; instances come from the dense maps (dense_instances.hpp) and are drawn at the image's resolution:
// an instance's cells (nearest) where the bilinearly resampled flake probability exceeds the threshold.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/segment/dense/dense_net.hpp"
#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial::segment {

// The dense maps of one image: probabilities (CV_32F) on the output grid, the image's own part only.
struct DenseProbabilities {
  cv::Mat flake, boundary, distance;
};

class DenseSegmenter : public InstanceSegmenter {
 public:
  static constexpr const char* kType = "dense";

  // Puts the network in evaluation mode. training: free-form record of how the model was made.
  explicit DenseSegmenter(DenseNet network, nlohmann::json training = nlohmann::json::object(),
                          double score_threshold = kDefaultScoreThreshold);
  // Throws Error naming the file on anything wrong with the directory.
  static std::shared_ptr<DenseSegmenter> load(const std::string& dir, double score_threshold = kDefaultScoreThreshold);
  void save(const std::string& dir) const;  // atomically
  nlohmann::json describe() const;          // the model.json content

  std::vector<InstanceMask> predict(const cv::Mat& bgr8) const override;
  DenseProbabilities probabilities(const cv::Mat& bgr8) const;  // the network's maps of an 8-bit BGR image

  DenseNet network() const { return network_; }
  const nlohmann::json& training() const { return training_; }
  double score_threshold() const { return score_threshold_; }

 private:
  DenseProbabilities maps_of(const cv::Mat& scaled, const Bgr& substrate) const;  // scaled: at the inference scale

  DenseNet network_;
  nlohmann::json training_;
  double score_threshold_;
};

}  // namespace maskterial::segment
