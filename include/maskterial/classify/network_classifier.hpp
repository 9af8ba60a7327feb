#pragma once
// Classification heads built on the FCResNet embedding of a pixel's standardised contrast:
//  - AMM (MaskTerial's head): Gaussian discriminant analysis in the embedding. Each class, background
//    included, is a Gaussian (mean, full covariance + 1e-5 I); a pixel takes the class at the smallest
//    Mahalanobis distance, or is unknown (0) when even that exceeds the threshold (default 10 std). A
//    flake's uncertainty is the Mahalanobis distance of its mean contrast's embedding to its class.
//  - MLP (ablation baseline): the network's own softmax, no notion of unknown; uncertainty = 1 - p(class).
// Network outputs are class ids: output 0 is the background class, the others are layer classes whose
// category ids are kept in `output_ids` (MaskTerial's directories use output k = category id k).
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "maskterial/classify/fcresnet.hpp"
#include "maskterial/classify/pixel_classifier.hpp"

namespace maskterial {

struct Standardisation {
  std::array<float, 3> mean{0, 0, 0};
  std::array<float, 3> std{1, 1, 1};
};

class NetworkClassifier : public PixelClassifier {
 public:
  enum class Head { Gda, Softmax };
  static constexpr double kCovarianceRegularisation = 1e-5;  // added to every class covariance, as MaskTerial

  // output_ids[k] = class id of network output k (0 = background). For Gda, loc (K×E) and cov (K×E×E) are the
  // class Gaussians in output order. Throws Error if shapes disagree or a covariance is not positive definite.
  NetworkClassifier(Head head, FCResNet net, Standardisation standardisation, std::vector<uint8_t> output_ids,
                    torch::Tensor loc = {}, torch::Tensor cov = {}, nlohmann::json training = {});

  // A maskterial model directory (model.json) or a MaskTerial AMM / MLP directory (meta_data.json, ...).
  static std::shared_ptr<NetworkClassifier> load(const std::string& dir);

  std::string type() const override { return head_ == Head::Gda ? "amm" : "mlp"; }
  const std::vector<ClassLabel>& classes() const override { return classes_; }
  double default_threshold() const override;
  bool models_background() const override { return true; }
  ContrastPrecision precision() const override { return ContrastPrecision::Half; }
  PixelClassification classify(const cv::Mat& bgr8, const ContrastLut& lut, double threshold,
                               const cv::Mat& roi = cv::Mat(),
                               const ChannelMask& channels = kAllChannels) const override;
  std::vector<uint8_t> classify_contrasts(const std::vector<std::array<float, 3>>& contrasts, double threshold,
                                          std::vector<float>* distances = nullptr,
                                          const ChannelMask& channels = kAllChannels) const override;
  double flake_uncertainty(const std::array<double, 3>& mean_contrast, uint8_t id,
                           const ChannelMask& channels = kAllChannels) const override;
  // model.json plus MaskTerial's files (meta_data.json, model.pth, and for the AMM loc.npy, cov.npy), so the
  // directory also loads in MaskTerial's Python code.
  void save(const std::string& dir) const override;
  nlohmann::json describe() const override;

  // Distance of every contrast (N×3, float32) to every network output (N×K): Mahalanobis distances in the
  // embedding (Gda) or 1 - softmax probabilities (Softmax). Ignored channels: column k is computed with them set
  // to output k's mean training contrast, one network pass per output; so are the channels output k's training
  // data barely measured (class_channels_).
  torch::Tensor output_distances(const torch::Tensor& contrasts, const ChannelMask& channels = kAllChannels) const;
  torch::Tensor embed(const torch::Tensor& contrasts) const;  // standardise + embed, N×E

  FCResNet network() const { return net_; }
  const Standardisation& standardisation() const { return standardisation_; }
  const torch::Tensor& loc() const { return loc_; }
  const torch::Tensor& cov() const { return cov_; }

 private:
  Head head_;
  FCResNet net_;
  Standardisation standardisation_;
  std::vector<uint8_t> output_ids_;
  std::vector<ClassLabel> classes_;
  torch::Tensor loc_, cov_;
  // Mahalanobis distances for all classes in one product: ‖L_k⁻¹(e − μ_k)‖ = ‖e·W_k − b_k‖ with W = L⁻ᵀ.
  torch::Tensor whiten_weight_, whiten_bias_;
  torch::Tensor distances_on_all_channels(const torch::Tensor& contrasts) const;  // output_distances' core
  nlohmann::json training_;
  // Mean training contrast (B, G, R) of each network output, from training_["class_contrast_means"] (zeros for
  // models that do not record it): what an ignored channel is taken to be for that class.
  std::vector<std::array<float, 3>> class_contrast_means_;
  // The channels each output is judged on: those that at least kMinChannelCoverage of its training samples
  // measured (training_["class_channel_coverage"]; all for models that do not record it).
  std::vector<ChannelMask> class_channels_;
};

}  // namespace maskterial
