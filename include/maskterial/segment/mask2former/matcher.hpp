#pragma once
// Mask2Former's Hungarian matcher: each ground-truth instance of an image is paired with the query whose
// prediction costs least, cost = class_weight * (-p(class)) + mask_weight * sigmoid BCE + dice_weight * dice,
// the mask terms on the same uniformly drawn points for all predictions and targets.
#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace maskterial::segment {

// The ground truth of one training image.
struct InstanceTargets {
  torch::Tensor labels;  // int64 [N], classes 0..num_classes-1
  torch::Tensor masks;   // float [N, H, W] of 0/1 at the input image's resolution
};

struct MatcherOptions {
  double class_weight = 2.0;
  double mask_weight = 5.0;
  double dice_weight = 5.0;
  int64_t points = 12544;  // 112 x 112, as Mask2Former
};

// Matched pairs of one image, ascending in query.
struct QueryMatch {
  std::vector<int64_t> queries;
  std::vector<int64_t> targets;
};

// Cost matrix [Q, N] of one image: logits [Q, K + 1], mask logits [Q, h, w]. Draws the points from torch's
// default generator.
torch::Tensor matching_cost(const torch::Tensor& logits, const torch::Tensor& mask_logits, const InstanceTargets& targets,
                            const MatcherOptions& options);

// One match per image of the batch: logits [B, Q, K + 1], mask_logits [B, Q, h, w]. No gradients.
std::vector<QueryMatch> hungarian_match(const torch::Tensor& logits, const torch::Tensor& mask_logits,
                                        const std::vector<InstanceTargets>& targets, const MatcherOptions& options);

}  // namespace maskterial::segment
