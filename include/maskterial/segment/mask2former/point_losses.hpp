#pragma once
// Mask2Former's mask losses on sampled points rather than whole masks: predictions (logits at 1/4
// resolution) and targets (full resolution) are both read at the same points in normalised [0, 1] image
// coordinates, so neither has to be resized and the cost stays fixed per mask.
#include <cstdint>

#include <torch/torch.h>

namespace maskterial::segment {

// input [N, C, H, W], coords [N, P, 2] as (x, y) in [0, 1] -> [N, C, P]; bilinear, pixel centres at
// (i + 0.5) / size, zeros outside (grid_sample with align_corners = false).
torch::Tensor point_sample(const torch::Tensor& input, const torch::Tensor& coords);

// Points for the loss of each mask in logits [R, 1, H, W]: of `points`, importance_ratio are the most
// uncertain (-|logit|) among points * oversample_ratio uniform candidates, the rest uniform. Returns [R, P, 2].
// Draws from torch's default generator.
torch::Tensor uncertain_point_coords(const torch::Tensor& logits, int64_t points, double oversample_ratio,
                                     double importance_ratio);

// Losses of matched pairs, logits and targets [N, P]; each is a mean over points (BCE) or a dice per mask,
// summed over masks and divided by num_masks.
torch::Tensor sigmoid_bce_loss(const torch::Tensor& logits, const torch::Tensor& targets, double num_masks);
// 1 - (2 |p t| + 1) / (|p| + |t| + 1) with p = sigmoid(logits).
torch::Tensor dice_loss(const torch::Tensor& logits, const torch::Tensor& targets, double num_masks);

// The same for every (prediction, target) pair: logits [Q, P], targets [N, P] -> costs [Q, N].
torch::Tensor pairwise_sigmoid_bce(const torch::Tensor& logits, const torch::Tensor& targets);
torch::Tensor pairwise_dice(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace maskterial::segment
