#pragma once
// Training targets and loss of the dense model, from a sample's instance masks, on the network's output grid
// (1/2 of its input): flake coverage (the share of each cell inside any instance), instance boundaries (cells
// of an instance with a 4-neighbour outside it, so touching instances are separated too) and the distance to
// the instance's edge divided by the instance's largest one (1 at its centre).
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "maskterial/segment/augment.hpp"
#include "maskterial/segment/dense/dense_net.hpp"

namespace maskterial::segment {

struct DenseTargets {
  cv::Mat flake, boundary, distance;  // CV_32F on the output grid, values in [0, 1]
};

// masks: CV_8U 0/1 at the input's resolution (even sides). 
DenseTargets dense_targets(const std::vector<cv::Mat>& masks, cv::Size input);

struct DenseLossWeights {
  double flake_bce = 1.0, flake_dice = 1.0, boundary = 1.0, distance = 1.0;
  double boundary_positive_weight = 4.0;  // boundary cells are rare
};

// Loss of a batch: targets stacked as [B, 1, h, w] tensors. Returns the total and its weighted parts by name.
std::pair<torch::Tensor, std::vector<std::pair<std::string, double>>> dense_loss(
    const DenseMaps& maps, const torch::Tensor& flake, const torch::Tensor& boundary, const torch::Tensor& distance,
    const DenseLossWeights& weights = {});

// Network input and targets of training samples, as tensors [B, C, H, W] and [B, 1, H/2, W/2].
struct DenseBatch {
  torch::Tensor features, flake, boundary, distance;
};
DenseBatch dense_batch(const std::vector<TrainingSample>& samples, const DenseOptions& options);

}  // namespace maskterial::segment
