#pragma once
// The flake score: the probability that a candidate is a flake of an annotated class, from a logistic model over
// the candidate's evidence (score/evidence.hpp). The weights are fitted by OpenCV's ml module (logistic
// regression) on standardised evidence; the model is a small JSON file (`flake_score.json`) kept beside the
// models it was fitted for, so a lab's own annotated images re-fit it in seconds.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace maskterial::score {

// File name of a fitted model inside a classifier's (or segmenter's) model directory.
constexpr const char* kFlakeScoreFile = "flake_score.json";

// One labelled candidate: its evidence (in evidence_names() order) and whether it matched a true flake.
struct Example {
  std::vector<float> evidence;
  bool positive = false;
};

struct FlakeScoreFitOptions {
  // Fewer examples of either kind than this: the prior (or, without one, no model) is kept; a logistic fit on
  // one or two positives ranks by noise.
  int min_examples_per_kind = 3;
  // Gradient descent run to convergence on the standardised inputs: 2,000 steps of 0.05 left the weights at a
  // fifth of their optimum and the ranking to the bias (held-out AP50 GrapheneH 0.36 -> 0.53 converged).
  int iterations = 20000;
  double learning_rate = 0.5;
};

class FlakeScoreModel {
 public:
  // Probability in [0, 1] that the candidate is a flake of an annotated class.
  double probability(const std::vector<float>& evidence) const;
  double logit(const std::vector<float>& evidence) const;
  bool empty() const { return weights_.empty(); }

  // Fits the weights to `examples`. With a prior, its logit enters as one more input, so a few examples
  // adjust what the prior learnt instead of starting over. Fewer than min_examples_per_kind of either kind:
  // returns the prior (an empty model without one). Throws Error on evidence of the wrong length.
  static FlakeScoreModel fit(const std::vector<Example>& examples, const FlakeScoreModel* prior = nullptr,
                             const FlakeScoreFitOptions& options = {});

  // How the model came about (examples used, where from), kept in its file.
  nlohmann::json& info() { return info_; }
  const nlohmann::json& info() const { return info_; }

  nlohmann::json to_json() const;
  static FlakeScoreModel from_json(const nlohmann::json& json, const std::string& origin = "flake score");
  void save(const std::filesystem::path& file) const;  // atomic
  static FlakeScoreModel load(const std::filesystem::path& file);

 private:
  std::vector<std::string> names_;  // evidence the weights belong to (checked against evidence_names())
  std::vector<double> mean_, scale_;  // standardisation of each input
  std::vector<double> weights_;       // one per input (the prior's logit last, when there is a prior)
  double bias_ = 0;
  std::shared_ptr<const FlakeScoreModel> prior_;
  nlohmann::json info_ = nlohmann::json::object();
};

using FlakeScorePtr = std::shared_ptr<const FlakeScoreModel>;

// The flake score a pipeline uses: the lab's re-fit kept in the classifier's model directory, else the one
// shipped with the segmentation model; "" when neither directory holds one (either may be "" or a file).
std::string find_flake_score(const std::string& classifier_dir, const std::string& segmenter_dir);

}  // namespace maskterial::score
