#pragma once
// The Gaussian classifier of 2DMatGMM: one 3-D Gaussian per layer class in contrast space (BGR). A pixel
// belongs to the class with the smallest Mahalanobis distance if that distance is below a threshold in
// standard deviations, else to none (0). Parameter files use 2DMatGMM's JSON format:
// {"<class>": {"contrast": {"b","g","r"}, "covariance_matrix": [[3x3]]}, ...}, class order = key order.
#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/image/contrast.hpp"

namespace maskterial {

struct GaussianClass {
  std::string name;                       // key in the parameter file, e.g. "1"
  std::array<double, 3> mean{};           // contrast B, G, R
  std::array<std::array<double, 3>, 3> covariance{};
  std::array<std::array<double, 3>, 3> inverse_cholesky{};  // L^-1 with covariance = L L^T
  // The channels its training data measured (measured_channels); the Gaussian is marginalised over the
  // others. Stored as "measured_channels" beside 2DMatGMM's keys only when some channel is left out.
  ChannelMask measured = kAllChannels;
};

class GmmClassifier : public PixelClassifier {
 public:
  GmmClassifier() = default;
  explicit GmmClassifier(std::vector<GaussianClass> classes);  // throws Error if a covariance is not SPD

  static GmmClassifier load(const std::string& path);  // errors name the file and the class
  static GmmClassifier from_json(const nlohmann::ordered_json& json, const std::string& source_name);
  nlohmann::ordered_json to_json() const;
  void save_parameters(const std::string& path) const;  // the 2DMatGMM JSON file alone

  const std::vector<GaussianClass>& gaussians() const { return classes_; }

  // PixelClassifier: class ids are 1-based indices in file order; distances in standard deviations.
  std::string type() const override { return "gmm"; }
  const std::vector<ClassLabel>& classes() const override { return labels_; }
  double default_threshold() const override { return 5.0; }
  bool models_background() const override { return false; }
  ContrastPrecision precision() const override { return ContrastPrecision::Float32; }
  PixelClassification classify(const cv::Mat& bgr8, const ContrastLut& lut, double std_threshold,
                               const cv::Mat& roi = cv::Mat(),
                               const ChannelMask& channels = kAllChannels) const override;
  std::vector<uint8_t> classify_contrasts(const std::vector<std::array<float, 3>>& contrasts, double threshold,
                                          std::vector<float>* distances = nullptr,
                                          const ChannelMask& channels = kAllChannels) const override;
  double flake_uncertainty(const std::array<double, 3>& mean_contrast, uint8_t id,
                           const ChannelMask& channels = kAllChannels) const override;
  void save(const std::string& dir) const override;  // model.json + gmm.json (2DMatGMM format)
  nlohmann::json describe() const override;

  // Mahalanobis distance of one contrast vector to class k (0-based), over the given channels (the class
  // Gaussian marginalised over the others).
  double distance(const std::array<double, 3>& contrast_bgr, size_t k, const ChannelMask& channels = kAllChannels) const;

 private:
  using Mat3 = std::array<std::array<double, 3>, 3>;
  // Per class L^-1 of the covariance marginalised over the ignored channels and those the class did not
  // measure, embedded in 3x3 with zero rows and columns for them (the class's own inverse_cholesky when every
  // channel is used).
  std::vector<Mat3> inverse_choleskies(const ChannelMask& channels) const;

  std::vector<GaussianClass> classes_;
  std::vector<ClassLabel> labels_;
};

}  // namespace maskterial
