#pragma once
// What every classification head offers the detector: a per-pixel class map from an 8-bit image's contrast,
// the distance of each pixel to its nearest class, and an uncertainty for a whole flake. Implemented by the
// GMM (2DMatGMM), the AMM (MaskTerial's head: spectrally normalised embedding + Gaussian discriminant
// analysis) and the MLP (the same network with a softmax, the ablation baseline).
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"

namespace maskterial {

struct ClassLabel {
  uint8_t id = 0;    // value in the class map; 0 is reserved for background / unknown
  std::string name;  // e.g. "1" for monolayer
};

struct PixelClassification {
  cv::Mat labels;    // CV_8U class id, 0 = background or unknown (too far from every class)
  cv::Mat distance;  // CV_32F distance to the nearest class in the classifier's units; 0 outside the roi
};

class PixelClassifier {
 public:
  virtual ~PixelClassifier() = default;

  virtual std::string type() const = 0;                     // "gmm", "amm" or "mlp"
  virtual const std::vector<ClassLabel>& classes() const = 0;  // layer classes, background excluded
  // Distance beyond which a pixel is unknown (GMM: 5 std, AMM: 10 std in the embedding; MLP: none).
  virtual double default_threshold() const = 0;
  // Whether the substrate is a class of its own (AMM, MLP), so that "far from every class" means unknown
  // material rather than bare substrate (GMM: substrate is simply no class).
  virtual bool models_background() const = 0;
  // Contrast rounding the model was built for (MaskTerial's torch heads: half; 2DMatGMM: float32).
  virtual ContrastPrecision precision() const = 0;

  // Thread-safe. roi: optional CV_8U mask of the pixels to classify; the others stay 0.
  // channels: the channels whose contrast carries information (BackgroundEstimate::usable); the others are
  // ignored, whatever the lut says there. GMM: each class Gaussian marginalised over the ignored channels
  // (their rows and columns dropped from the covariance). AMM, MLP: the ignored channels take each class's
  // mean training contrast when the pixel is compared with that class (0 for models that do not record it).
  virtual PixelClassification classify(const cv::Mat& bgr8, const ContrastLut& lut, double threshold,
                                       const cv::Mat& roi = cv::Mat(),
                                       const ChannelMask& channels = kAllChannels) const = 0;

  // Class id (0 = background / unknown) of each contrast vector (B, G, R), with its distance if asked.
  virtual std::vector<uint8_t> classify_contrasts(const std::vector<std::array<float, 3>>& contrasts,
                                                  double threshold, std::vector<float>* distances = nullptr,
                                                  const ChannelMask& channels = kAllChannels) const = 0;

  // How doubtful it is that a flake with this mean contrast (B, G, R) is of class `id`. GMM and AMM: the
  // Mahalanobis distance to the class Gaussian in standard deviations (contrast space / embedding space);
  // MLP: 1 - softmax probability of the class. Larger = more doubtful.
  virtual double flake_uncertainty(const std::array<double, 3>& mean_contrast, uint8_t id,
                                   const ChannelMask& channels = kAllChannels) const = 0;

  // Writes a self-describing model directory: model.json plus the type's tensor/parameter files.
  virtual void save(const std::string& dir) const = 0;
  virtual nlohmann::json describe() const = 0;  // the "model.json" content

  const ClassLabel* find_class(uint8_t id) const;
};

// The label a class predicts in terms of dataset category ids: its name if that is an integer (the layer
// count, as MaskTerial and 2DMatGMM name classes), else its id.
int64_t category_label(const ClassLabel& label);

using ClassifierPtr = std::shared_ptr<const PixelClassifier>;

// Loads a classifier from
//  - a model directory written by maskterial (model.json names its type),
//  - a MaskTerial AMM or MLP directory (meta_data.json, model.pth, and for the AMM loc.npy, cov.npy),
//  - a 2DMatGMM parameter file (JSON) or a directory holding just one.
// Throws Error naming the file and the problem.
ClassifierPtr load_classifier(const std::string& path);

// The built-in graphene GMM of the 2DMatGMM paper.
ClassifierPtr default_classifier();

}  // namespace maskterial
