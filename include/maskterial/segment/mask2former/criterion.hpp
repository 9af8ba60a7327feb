#pragma once
// Mask2Former's training loss (SetCriterion): after Hungarian matching, a class cross-entropy over all
// queries (unmatched ones should say "no object", weighted down) plus sigmoid BCE and dice on the matched
// masks, read at points chosen by importance sampling. With deep supervision every auxiliary output of the
// decoder is matched and scored the same way and the terms add up.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "maskterial/segment/mask2former/mask2former.hpp"
#include "maskterial/segment/mask2former/matcher.hpp"

namespace maskterial::segment {

struct CriterionOptions {
  int num_classes = 1;
  double class_weight = 2.0;
  double mask_weight = 5.0;
  double dice_weight = 5.0;
  double no_object_weight = 0.1;
  int64_t points = 12544;
  double oversample_ratio = 3.0;
  double importance_sample_ratio = 0.75;
  bool deep_supervision = true;

  MatcherOptions matcher() const;
  nlohmann::json to_json() const;
  // Missing keys keep their defaults; wrong types or values throw Error naming `source`.
  static CriterionOptions from_json(const nlohmann::json& json, const std::string& source);
};

// Weighted terms; total carries the gradient, the parts are for logging.
struct LossTerms {
  torch::Tensor total;
  double class_loss = 0;
  double mask_loss = 0;
  double dice_loss = 0;
};

// The terms of one output (final or auxiliary) for given matches. num_masks normalises the mask terms: the
// number of target instances in the batch (averaged over data-parallel processes), at least 1.
LossTerms output_loss(const torch::Tensor& logits, const torch::Tensor& mask_logits,
                      const std::vector<InstanceTargets>& targets, const std::vector<QueryMatch>& matches,
                      const CriterionOptions& options, double num_masks);

// Matches and scores the final output and, with deep supervision, every auxiliary one; terms are summed.
LossTerms segmentation_loss(const SegmenterOutput& output, const std::vector<InstanceTargets>& targets,
                            const CriterionOptions& options, double num_masks);

}  // namespace maskterial::segment
