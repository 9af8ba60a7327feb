#include "maskterial/segment/dense/dense_targets.hpp"

#include <algorithm>
#include <cstring>

#include <opencv2/imgproc.hpp>

#include "maskterial/segment/dense/dense_input.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

torch::Tensor to_tensor(const cv::Mat& m) {  // CV_32FC(n) [h, w, n] → [n, h, w]
  return torch::from_blob(const_cast<uchar*>(m.ptr()), {m.rows, m.cols, m.channels()}, torch::kFloat32)
      .permute({2, 0, 1})
      .clone();
}

}  // namespace

DenseTargets dense_targets(const std::vector<cv::Mat>& masks, cv::Size input) {
  const cv::Size grid(input.width / 2, input.height / 2);
  DenseTargets t{cv::Mat::zeros(grid, CV_32F), cv::Mat::zeros(grid, CV_32F), cv::Mat::zeros(grid, CV_32F)};
  cv::Mat any = cv::Mat::zeros(input, CV_8U);
  const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_CROSS, {3, 3});
  for (const cv::Mat& mask : masks) {
    if (mask.size() != input || mask.type() != CV_8U) throw Error("dense targets: masks must be CV_8U of the input's size");
    any |= mask;
    cv::Mat coverage;
    cv::resize(mask, coverage, grid, 0, 0, cv::INTER_AREA);  // 0/1 → rounded mean: 1 where most of the cell is inside
    cv::Mat cells = coverage > 0;
    if (cv::countNonZero(cells) == 0) continue;
    cv::Mat inner;
    cv::erode(cells, inner, kernel, {-1, -1}, 1, cv::BORDER_CONSTANT, 0);
    t.boundary.setTo(1.0f, cells & ~inner);
    cv::Mat distance;
    cv::distanceTransform(cells, distance, cv::DIST_L2, 3);
    double peak = 0;
    cv::minMaxLoc(distance, nullptr, &peak);
    if (peak > 0) distance /= peak;
    cv::max(t.distance, distance, t.distance);
  }
  cv::Mat coverage;
  any.convertTo(coverage, CV_32F);
  cv::resize(coverage, t.flake, grid, 0, 0, cv::INTER_AREA);
  return t;
}

std::pair<torch::Tensor, std::vector<std::pair<std::string, double>>> dense_loss(
    const DenseMaps& maps, const torch::Tensor& flake, const torch::Tensor& boundary, const torch::Tensor& distance,
    const DenseLossWeights& w) {
  namespace F = torch::nn::functional;
  const torch::Tensor bce = F::binary_cross_entropy_with_logits(maps.flake, flake);
  const torch::Tensor p = torch::sigmoid(maps.flake).flatten(1), y = flake.flatten(1);
  // Dice per image, then averaged; an image without flakes scores 0 for predicting none.
  const torch::Tensor dice = (1 - (2 * (p * y).sum(1) + 1) / (p.sum(1) + y.sum(1) + 1)).mean();
  const torch::Tensor boundary_weight = 1 + (w.boundary_positive_weight - 1) * boundary;
  const torch::Tensor edge = F::binary_cross_entropy_with_logits(
      maps.boundary, boundary, F::BinaryCrossEntropyWithLogitsFuncOptions().weight(boundary_weight));
  // The distance only means something inside flakes.
  const torch::Tensor inside = (flake > 0.5).to(torch::kFloat32);
  const torch::Tensor dist = (F::binary_cross_entropy_with_logits(
                                  maps.distance, distance, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone)) *
                              inside)
                                 .sum() /
                             inside.sum().clamp_min(1.0);
  const torch::Tensor total = w.flake_bce * bce + w.flake_dice * dice + w.boundary * edge + w.distance * dist;
  return {total,
          {{"flake BCE", w.flake_bce * bce.item<double>()},
           {"flake dice", w.flake_dice * dice.item<double>()},
           {"boundary", w.boundary * edge.item<double>()},
           {"distance", w.distance * dist.item<double>()}}};
}

DenseBatch dense_batch(const std::vector<TrainingSample>& samples, const DenseOptions& options) {
  if (samples.empty()) throw Error("empty training batch");
  std::vector<torch::Tensor> features, flake, boundary, distance;
  for (const TrainingSample& s : samples) {
    if (s.image.size() != samples.front().image.size()) throw Error("training batch: images differ in size");
    features.push_back(to_tensor(dense_features(s.image, substrate_colour(s.image), options)));
    const DenseTargets t = dense_targets(s.masks, s.image.size());
    flake.push_back(to_tensor(t.flake));
    boundary.push_back(to_tensor(t.boundary));
    distance.push_back(to_tensor(t.distance));
  }
  return {torch::stack(features), torch::stack(flake), torch::stack(boundary), torch::stack(distance)};
}

}  // namespace maskterial::segment
