#include "maskterial/segment/mask2former/matcher.hpp"

#include <algorithm>

#include "maskterial/segment/mask2former/hungarian.hpp"
#include "maskterial/segment/mask2former/point_losses.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::segment {

torch::Tensor matching_cost(const torch::Tensor& logits, const torch::Tensor& mask_logits, const InstanceTargets& targets,
                            const MatcherOptions& options) {
  const int64_t queries = mask_logits.size(0), instances = targets.masks.size(0);
  const torch::Tensor probabilities = logits.softmax(-1);
  const torch::Tensor class_cost = -probabilities.index_select(1, targets.labels);  // [Q, N]
  const torch::Tensor coords = torch::rand({1, options.points, 2}, mask_logits.options());
  const torch::Tensor target_points =
      point_sample(targets.masks.unsqueeze(1).to(mask_logits.scalar_type()), coords.expand({instances, options.points, 2}))
          .squeeze(1);
  const torch::Tensor predicted_points =
      point_sample(mask_logits.unsqueeze(1), coords.expand({queries, options.points, 2})).squeeze(1);
  return options.class_weight * class_cost + options.mask_weight * pairwise_sigmoid_bce(predicted_points, target_points) +
         options.dice_weight * pairwise_dice(predicted_points, target_points);
}

std::vector<QueryMatch> hungarian_match(const torch::Tensor& logits, const torch::Tensor& mask_logits,
                                        const std::vector<InstanceTargets>& targets, const MatcherOptions& options) {
  torch::NoGradGuard no_grad;
  if (static_cast<int64_t>(targets.size()) != logits.size(0))
    throw Error("matcher: " + std::to_string(targets.size()) + " targets for a batch of " + std::to_string(logits.size(0)));
  std::vector<QueryMatch> matches(targets.size());
  for (size_t b = 0; b < targets.size(); ++b) {
    const int64_t instances = targets[b].labels.size(0);
    if (instances == 0) continue;
    const torch::Tensor cost = matching_cost(logits[b], mask_logits[b], targets[b], options).to(torch::kCPU, torch::kFloat64).contiguous();
    const int rows = static_cast<int>(cost.size(0)), cols = static_cast<int>(cost.size(1));
    const std::vector<double> values(cost.data_ptr<double>(), cost.data_ptr<double>() + cost.numel());
    const std::vector<int> column = solve_assignment(values, rows, cols);
    for (int q = 0; q < rows; ++q) {
      if (column[q] < 0) continue;
      matches[b].queries.push_back(q);
      matches[b].targets.push_back(column[q]);
    }
  }
  return matches;
}

}  // namespace maskterial::segment
