#include "maskterial/segment/mask2former/point_losses.hpp"

namespace maskterial::segment {

namespace F = torch::nn::functional;

torch::Tensor point_sample(const torch::Tensor& input, const torch::Tensor& coords) {
  const torch::Tensor grid = (coords * 2.0 - 1.0).unsqueeze(2);  // [N, P, 1, 2] in grid_sample's [-1, 1]
  return F::grid_sample(input, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false))
      .squeeze(3);
}

torch::Tensor uncertain_point_coords(const torch::Tensor& logits, int64_t points, double oversample_ratio,
                                     double importance_ratio) {
  torch::NoGradGuard no_grad;
  const int64_t masks = logits.size(0);
  const auto options = torch::TensorOptions().dtype(logits.scalar_type()).device(logits.device());
  const int64_t candidates = static_cast<int64_t>(static_cast<double>(points) * oversample_ratio);
  const int64_t uncertain = static_cast<int64_t>(importance_ratio * static_cast<double>(points));
  const torch::Tensor candidate_coords = torch::rand({masks, candidates, 2}, options);
  // Uncertainty -|logit| is largest where the prediction is closest to 0.5.
  const torch::Tensor uncertainty = -point_sample(logits, candidate_coords).select(1, 0).abs();
  const torch::Tensor top = std::get<1>(uncertainty.topk(uncertain, 1));
  const torch::Tensor chosen = candidate_coords.gather(1, top.unsqueeze(2).expand({masks, uncertain, 2}));
  return torch::cat({chosen, torch::rand({masks, points - uncertain, 2}, options)}, 1);
}

torch::Tensor sigmoid_bce_loss(const torch::Tensor& logits, const torch::Tensor& targets, double num_masks) {
  const torch::Tensor per_point =
      F::binary_cross_entropy_with_logits(logits, targets, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  return per_point.mean(1).sum() / num_masks;
}

torch::Tensor dice_loss(const torch::Tensor& logits, const torch::Tensor& targets, double num_masks) {
  const torch::Tensor p = logits.sigmoid();
  const torch::Tensor numerator = 2 * (p * targets).sum(1);
  const torch::Tensor denominator = p.sum(1) + targets.sum(1);
  return (1 - (numerator + 1) / (denominator + 1)).sum() / num_masks;
}

torch::Tensor pairwise_sigmoid_bce(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t points = logits.size(1);
  // BCE(x, t) = t * softplus(-x) + (1 - t) * softplus(x), so the pair sums are two matrix products.
  const torch::Tensor positive = F::softplus(-logits);
  const torch::Tensor negative = F::softplus(logits);
  return (positive.mm(targets.t()) + negative.mm((1 - targets).t())) / static_cast<double>(points);
}

torch::Tensor pairwise_dice(const torch::Tensor& logits, const torch::Tensor& targets) {
  const torch::Tensor p = logits.sigmoid();
  const torch::Tensor numerator = 2 * p.mm(targets.t());
  const torch::Tensor denominator = p.sum(1).unsqueeze(1) + targets.sum(1).unsqueeze(0);
  return 1 - (numerator + 1) / (denominator + 1);
}

}  // namespace maskterial::segment
