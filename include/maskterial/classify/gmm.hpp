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

#include "maskterial/image/contrast.hpp"

namespace maskterial {

struct GaussianClass {
  std::string name;                       // key in the parameter file, e.g. "1"
  std::array<double, 3> mean{};           // contrast B, G, R
  std::array<std::array<double, 3>, 3> covariance{};
  std::array<std::array<double, 3>, 3> inverse_cholesky{};  // L^-1 with covariance = L L^T
};

class GmmClassifier {
 public:
  GmmClassifier() = default;
  explicit GmmClassifier(std::vector<GaussianClass> classes);  // throws Error if a covariance is not SPD

  static GmmClassifier load(const std::string& path);  // errors name the file and the class
  static GmmClassifier from_json(const nlohmann::ordered_json& json, const std::string& source_name);
  nlohmann::ordered_json to_json() const;
  void save(const std::string& path) const;

  const std::vector<GaussianClass>& classes() const { return classes_; }

  // Per-pixel class map (CV_8U, 1-based class index, 0 = none) of an 8-bit BGR image. If min_distance is
  // given it receives the smallest Mahalanobis distance per pixel (CV_32F, in standard deviations).
  cv::Mat classify(const cv::Mat& bgr8, const Bgr& background, double std_threshold,
                   cv::Mat* min_distance = nullptr) const;

  // Mahalanobis distance of one contrast vector to class k (0-based).
  double distance(const std::array<double, 3>& contrast_bgr, size_t k) const;

 private:
  std::vector<GaussianClass> classes_;
};

}  // namespace maskterial
