#include "maskterial/segment/mask2former/criterion.hpp"

#include "maskterial/segment/mask2former/point_losses.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/json_fields.hpp"

namespace maskterial::segment {
namespace {

namespace F = torch::nn::functional;

torch::Tensor index_tensor(const std::vector<int64_t>& values) {
  return torch::tensor(values, torch::kInt64);
}

}  // namespace

MatcherOptions CriterionOptions::matcher() const {
  MatcherOptions m;
  m.class_weight = class_weight;
  m.mask_weight = mask_weight;
  m.dice_weight = dice_weight;
  m.points = points;
  return m;
}

nlohmann::json CriterionOptions::to_json() const {
  return {{"num_classes", num_classes},         {"class_weight", class_weight},
          {"mask_weight", mask_weight},         {"dice_weight", dice_weight},
          {"no_object_weight", no_object_weight}, {"points", points},
          {"oversample_ratio", oversample_ratio}, {"importance_sample_ratio", importance_sample_ratio},
          {"deep_supervision", deep_supervision}};
}

CriterionOptions CriterionOptions::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw file_error(source, "criterion options must be a JSON object");
  CriterionOptions o;
  read_json_field(json, "num_classes", o.num_classes, source, "criterion");
  read_json_field(json, "class_weight", o.class_weight, source, "criterion");
  read_json_field(json, "mask_weight", o.mask_weight, source, "criterion");
  read_json_field(json, "dice_weight", o.dice_weight, source, "criterion");
  read_json_field(json, "no_object_weight", o.no_object_weight, source, "criterion");
  read_json_field(json, "points", o.points, source, "criterion");
  read_json_field(json, "oversample_ratio", o.oversample_ratio, source, "criterion");
  read_json_field(json, "importance_sample_ratio", o.importance_sample_ratio, source, "criterion");
  read_json_field(json, "deep_supervision", o.deep_supervision, source, "criterion");
  if (o.num_classes < 1 || o.points < 1 || o.oversample_ratio < 1 || o.importance_sample_ratio < 0 ||
      o.importance_sample_ratio > 1 || o.no_object_weight < 0)
    throw file_error(source, "criterion options out of range");
  return o;
}

LossTerms output_loss(const torch::Tensor& logits, const torch::Tensor& mask_logits,
                      const std::vector<InstanceTargets>& targets, const std::vector<QueryMatch>& matches,
                      const CriterionOptions& options, double num_masks) {
  const int64_t batch = logits.size(0), queries = logits.size(1);
  if (logits.size(2) != options.num_classes + 1)
    throw Error("criterion: the class head has " + std::to_string(logits.size(2)) + " outputs, expected " +
                std::to_string(options.num_classes + 1));

  // Class term: matched queries should give their target's class, all others the no-object class.
  torch::Tensor target_classes = torch::full({batch, queries}, options.num_classes, torch::kInt64);
  std::vector<torch::Tensor> predicted, wanted;
  for (int64_t b = 0; b < batch; ++b) {
    const QueryMatch& m = matches[static_cast<size_t>(b)];
    if (m.queries.empty()) continue;
    const torch::Tensor q = index_tensor(m.queries), t = index_tensor(m.targets);
    target_classes[b].index_put_({q}, targets[static_cast<size_t>(b)].labels.to(torch::kCPU).index_select(0, t));
    predicted.push_back(mask_logits[b].index_select(0, q.to(mask_logits.device())));
    wanted.push_back(targets[static_cast<size_t>(b)].masks.index_select(0, t.to(targets[static_cast<size_t>(b)].masks.device())));
  }
  torch::Tensor class_weights = torch::ones({options.num_classes + 1}, logits.options());
  class_weights[options.num_classes] = options.no_object_weight;
  const torch::Tensor class_loss = F::cross_entropy(logits.transpose(1, 2), target_classes.to(logits.device()),
                                                    F::CrossEntropyFuncOptions().weight(class_weights));

  torch::Tensor mask_loss, dice;
  if (predicted.empty()) {
    // No instance anywhere in the batch: the mask terms are zero but stay in the graph.
    mask_loss = dice = mask_logits.sum() * 0.0;
  } else {
    const torch::Tensor source = torch::cat(predicted).unsqueeze(1);  // [M, 1, h, w]
    const torch::Tensor target = torch::cat(wanted).unsqueeze(1).to(source.device(), source.scalar_type());
    const torch::Tensor coords =
        uncertain_point_coords(source, options.points, options.oversample_ratio, options.importance_sample_ratio);
    torch::Tensor point_labels;
    {
      torch::NoGradGuard no_grad;
      point_labels = point_sample(target, coords).squeeze(1);
    }
    const torch::Tensor point_logits = point_sample(source, coords).squeeze(1);
    mask_loss = sigmoid_bce_loss(point_logits, point_labels, num_masks);
    dice = dice_loss(point_logits, point_labels, num_masks);
  }
  LossTerms terms;
  const torch::Tensor weighted_class = options.class_weight * class_loss;
  const torch::Tensor weighted_mask = options.mask_weight * mask_loss;
  const torch::Tensor weighted_dice = options.dice_weight * dice;
  terms.total = weighted_class + weighted_mask + weighted_dice;
  terms.class_loss = weighted_class.item<double>();
  terms.mask_loss = weighted_mask.item<double>();
  terms.dice_loss = weighted_dice.item<double>();
  return terms;
}

LossTerms segmentation_loss(const SegmenterOutput& output, const std::vector<InstanceTargets>& targets,
                            const CriterionOptions& options, double num_masks) {
  const MatcherOptions matcher = options.matcher();
  num_masks = std::max(num_masks, 1.0);
  auto score = [&](const SegmenterOutput& o) {
    return output_loss(o.logits, o.masks, targets, hungarian_match(o.logits, o.masks, targets, matcher), options, num_masks);
  };
  LossTerms sum = score(output);
  if (!options.deep_supervision) return sum;
  for (const SegmenterOutput& aux : output.aux) {
    const LossTerms t = score(aux);
    sum.total = sum.total + t.total;
    sum.class_loss += t.class_loss;
    sum.mask_loss += t.mask_loss;
    sum.dice_loss += t.dice_loss;
  }
  return sum;
}

}  // namespace maskterial::segment
