#pragma once
// Instances from the dense maps (probabilities on the output grid): flake cells (flake > threshold); seeds
// = connected flake cells far from the edge (distance > seed_distance) and off boundaries; each seed grows
// over the flake cells in order of decreasing distance (marker-controlled watershed), so touching flakes
// separate along their boundary; flake regions without a seed become one instance each. An instance's score
// is the calibrated mean flake probability of its cells.
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/segment/dense/dense_options.hpp"

namespace maskterial::segment {

struct DenseInstances {
  cv::Mat labels;             // CV_32S on the grid, 0 = none, k = instance k (1-based)
  std::vector<float> scores;  // scores[k - 1]
};

// flake, boundary, distance: CV_32F probabilities of one size.
DenseInstances extract_instances(const cv::Mat& flake, const cv::Mat& boundary, const cv::Mat& distance,
                                 const DenseOptions& options);

// sigmoid(slope x logit(p) + offset), p clamped away from 0 and 1.
float calibrated_score(double mean_probability, const DenseOptions& options);

// Platt scaling: the slope and offset of a logistic regression of `real` (the instance matched a true flake)
// on logit(mean flake probability), by Newton's method with a weak prior towards the identity. Returns the
// identity (1, 0) when there are too few instances of either kind.
std::pair<double, double> fit_calibration(const std::vector<double>& mean_probabilities, const std::vector<bool>& real);

}  // namespace maskterial::segment
