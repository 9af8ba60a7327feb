// Training of the segmentation model: assignment, losses, sampling, schedule, data, checkpoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/coco/rle.hpp"
#include "maskterial/segment/augment.hpp"
#include "maskterial/segment/finetuning_data.hpp"
#include "maskterial/segment/mask2former/criterion.hpp"
#include "maskterial/segment/mask2former/hungarian.hpp"
#include "maskterial/segment/lr_schedule.hpp"
#include "maskterial/segment/mask2former/matcher.hpp"
#include "maskterial/segment/mask2former/point_losses.hpp"
#include "maskterial/segment/trainer.hpp"
#include "maskterial/segment/training_data.hpp"
#include "maskterial/util/error.hpp"
#include "tiny_segmenter.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::segment;

namespace {

double assignment_cost(const std::vector<double>& cost, int cols, const std::vector<int>& column) {
  double sum = 0;
  for (size_t r = 0; r < column.size(); ++r)
    if (column[r] >= 0) sum += cost[r * cols + column[r]];
  return sum;
}

// Least total cost over all ways to pair min(rows, cols) rows with distinct columns.
double brute_force(const std::vector<double>& cost, int rows, int cols) {
  const int n = std::max(rows, cols);
  std::vector<int> perm(n);
  std::iota(perm.begin(), perm.end(), 0);
  double best = INFINITY;
  do {
    double sum = 0;
    for (int r = 0; r < rows; ++r)
      if (perm[r] < cols) sum += cost[r * cols + perm[r]];
    best = std::min(best, sum);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

// Small images with one or two flakes and little clutter, which a tiny network learns within seconds.
std::shared_ptr<const synth::Generator> tiny_generator(int size) {
  synth::SynthConfig config = SyntheticSource::generator_config({size, size}, 1.0).without_scan_junk();
  config.min_flake_px = 16;
  config.max_flake_px = 40;
  config.max_flakes = 2;
  config.max_dirt = 2;
  config.bulk_probability = config.residue_probability = 0;
  config.max_bulk_fragments = 0;
  return std::make_shared<synth::Generator>(config);
}

// Clearly visible discs on a gray background: a task a tiny network learns within a few dozen steps.
class DiscSource : public SampleSource {
 public:
  TrainingSample sample(uint64_t seed, uint64_t index) const override {
    synth::Random random(synth::image_seed(seed, index));
    TrainingSample s{cv::Mat(64, 64, CV_8UC3, cv::Scalar(110, 150, 90)), {}, {}};
    const int discs = random.integer(1, 2);
    for (int i = 0; i < discs; ++i) {
      cv::Mat mask = cv::Mat::zeros(64, 64, CV_8U);
      cv::circle(mask, {random.integer(12, 52), random.integer(12, 52)}, random.integer(6, 12), 1, cv::FILLED);
      for (const cv::Mat& other : s.masks) mask.setTo(0, other);
      s.image.setTo(cv::Scalar(60, 90, 180), mask);
      s.masks.push_back(mask);
      s.labels.push_back(0);
    }
    return s;
  }
  cv::Size size() const override { return {64, 64}; }
  nlohmann::json describe() const override { return {{"type", "discs"}}; }
};

TrainerOptions tiny_options(int64_t iterations) {
  TrainerOptions o = TrainerOptions::pretraining(iterations);
  o.batch_size = 4;
  o.learning_rate = 3e-3;
  o.clip_norm = 1.0;
  o.log_every = 5;
  o.show_progress = false;
  o.data_threads = 2;
  o.criterion.points = 256;
  return o;
}

std::vector<torch::Tensor> cloned(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> out;
  for (const auto& t : tensors) out.push_back(t.detach().clone());
  return out;
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

}  // namespace

TEST(Hungarian, MatchesBruteForceOnRandomMatrices) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(-5, 5);
  for (int trial = 0; trial < 300; ++trial) {
    const int rows = 1 + static_cast<int>(rng() % 6), cols = 1 + static_cast<int>(rng() % 6);
    std::vector<double> cost(static_cast<size_t>(rows * cols));
    // Some matrices with many ties (integers), some continuous.
    for (double& c : cost) c = trial % 3 == 0 ? std::round(uniform(rng)) : uniform(rng);
    const std::vector<int> column = solve_assignment(cost, rows, cols);
    ASSERT_EQ(column.size(), static_cast<size_t>(rows));
    std::vector<int> used;
    for (int c : column)
      if (c >= 0) used.push_back(c);
    ASSERT_EQ(used.size(), static_cast<size_t>(std::min(rows, cols)));
    std::sort(used.begin(), used.end());
    ASSERT_TRUE(std::adjacent_find(used.begin(), used.end()) == used.end()) << "a column used twice";
    EXPECT_NEAR(assignment_cost(cost, cols, column), brute_force(cost, rows, cols), 1e-9) << rows << "x" << cols;
  }
}

TEST(Hungarian, EdgeCasesAndErrors) {
  EXPECT_TRUE(solve_assignment({}, 0, 3).empty());
  EXPECT_EQ(solve_assignment({}, 2, 0), std::vector<int>({-1, -1}));
  EXPECT_EQ(solve_assignment({1, 0, 0, 1}, 2, 2), std::vector<int>({1, 0}));
  EXPECT_THROW(solve_assignment({1, NAN}, 1, 2), Error);
  EXPECT_THROW(solve_assignment({1, 2, 3}, 2, 2), Error);
}

TEST(PointLosses, PointSampleReadsPixelCentres) {
  const torch::Tensor input = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 1, 2, 2});
  // (x, y): pixel centres of a 2x2 image are at 0.25 and 0.75; the middle mixes all four.
  const torch::Tensor coords = torch::tensor({0.25f, 0.25f, 0.75f, 0.25f, 0.25f, 0.75f, 0.5f, 0.5f}).view({1, 4, 2});
  const torch::Tensor values = point_sample(input, coords);
  ASSERT_EQ(values.sizes(), torch::IntArrayRef({1, 1, 4}));
  EXPECT_FLOAT_EQ(values[0][0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(values[0][0][1].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(values[0][0][2].item<float>(), 3.0f);
  EXPECT_FLOAT_EQ(values[0][0][3].item<float>(), 2.5f);
}

TEST(PointLosses, HandComputedValues) {
  const torch::Tensor targets = torch::tensor({1.0f, 1.0f, 0.0f, 0.0f}).view({1, 4});
  // Logits 0: p = 0.5 everywhere, BCE = ln 2 per point; dice = 1 - (2*1 + 1) / (2 + 2 + 1) = 0.4.
  const torch::Tensor zero = torch::zeros({1, 4});
  EXPECT_NEAR(sigmoid_bce_loss(zero, targets, 1).item<double>(), std::log(2.0), 1e-6);
  EXPECT_NEAR(dice_loss(zero, targets, 1).item<double>(), 0.4, 1e-6);
  // Normalised by the number of masks, summed over masks.
  EXPECT_NEAR(dice_loss(zero.repeat({3, 1}), targets.repeat({3, 1}), 2).item<double>(), 0.6, 1e-6);
  // A confident, correct prediction costs (almost) nothing.
  const torch::Tensor perfect = (targets * 2 - 1) * 30;
  EXPECT_LT(sigmoid_bce_loss(perfect, targets, 1).item<double>(), 1e-6);
  EXPECT_LT(dice_loss(perfect, targets, 1).item<double>(), 1e-6);
  // Confidently wrong: BCE = 30 per point, dice = 1 - 1/5.
  EXPECT_NEAR(sigmoid_bce_loss(-perfect, targets, 1).item<double>(), 30.0, 1e-4);
  EXPECT_NEAR(dice_loss(-perfect, targets, 1).item<double>(), 0.8, 1e-6);
}

TEST(PointLosses, PairwiseCostsEqualThePairLosses) {
  torch::manual_seed(3);
  const torch::Tensor logits = torch::randn({5, 32}) * 3;
  const torch::Tensor targets = (torch::rand({3, 32}) > 0.5).to(torch::kFloat32);
  const torch::Tensor bce = pairwise_sigmoid_bce(logits, targets), dice = pairwise_dice(logits, targets);
  ASSERT_EQ(bce.sizes(), torch::IntArrayRef({5, 3}));
  for (int q = 0; q < 5; ++q)
    for (int n = 0; n < 3; ++n) {
      EXPECT_NEAR(bce[q][n].item<double>(), sigmoid_bce_loss(logits[q].unsqueeze(0), targets[n].unsqueeze(0), 1).item<double>(), 1e-5);
      EXPECT_NEAR(dice[q][n].item<double>(), dice_loss(logits[q].unsqueeze(0), targets[n].unsqueeze(0), 1).item<double>(), 1e-5);
    }
}

TEST(PointLosses, ImportanceSamplingPicksUncertainPoints) {
  torch::manual_seed(5);
  // Left half confident (|logit| 10), right half uncertain (logit 0).
  torch::Tensor logits = torch::full({2, 1, 32, 32}, 10.0f);
  logits.narrow(3, 16, 16).zero_();
  const torch::Tensor coords = uncertain_point_coords(logits, 1000, 3.0, 0.75);
  ASSERT_EQ(coords.sizes(), torch::IntArrayRef({2, 1000, 2}));
  EXPECT_GE(coords.min().item<float>(), 0.0f);
  EXPECT_LE(coords.max().item<float>(), 1.0f);
  // 750 importance points all land right of the boundary region, the 250 uniform ones half and half.
  const torch::Tensor x = coords.select(2, 0);
  EXPECT_TRUE((x.narrow(1, 0, 750) > 0.48).all().item<bool>());
  const double right = (x > 0.5).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(right, 0.75 + 0.25 * 0.5, 0.03);
}

TEST(SegmentMatcher, PairsEachTargetWithItsBestQuery) {
  torch::manual_seed(1);
  // Targets: left and right halves of a 16x16 image; query 3 predicts the left, query 1 the right.
  torch::Tensor masks = torch::zeros({2, 16, 16});
  masks[0].narrow(1, 0, 8).fill_(1);
  masks[1].narrow(1, 8, 8).fill_(1);
  const InstanceTargets targets{torch::tensor({0, 0}, torch::kInt64), masks};
  torch::Tensor mask_logits = torch::full({1, 4, 4, 4}, -5.0f);  // predictions at 1/4 resolution
  mask_logits[0][3].narrow(1, 0, 2).fill_(5);
  mask_logits[0][1].narrow(1, 2, 2).fill_(5);
  const torch::Tensor logits = torch::zeros({1, 4, 2});
  MatcherOptions options;
  options.points = 500;
  const std::vector<QueryMatch> m = hungarian_match(logits, mask_logits, {targets}, options);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].queries, std::vector<int64_t>({1, 3}));
  EXPECT_EQ(m[0].targets, std::vector<int64_t>({1, 0}));
  // An image without instances has no match; the batch size must agree.
  EXPECT_TRUE(hungarian_match(logits, mask_logits, {InstanceTargets{torch::zeros({0}, torch::kInt64), torch::zeros({0, 16, 16})}}, options)[0].queries.empty());
  EXPECT_THROW(hungarian_match(logits, mask_logits, {}, options), Error);
}

TEST(SegmentCriterion, HandComputedAndPerfectPredictions) {
  torch::manual_seed(2);
  torch::Tensor masks = torch::zeros({1, 32, 32});
  masks[0].narrow(0, 8, 16).narrow(1, 8, 16).fill_(1);
  const std::vector<InstanceTargets> targets{{torch::tensor({0}, torch::kInt64), masks}};
  CriterionOptions options;
  options.points = 2000;

  // Uninformed network: every logit 0. Class CE is ln 2 for every query whatever its target, so the weighted
  // mean is ln 2; the matched mask gets BCE ln 2 and dice 1 - (2*0.5*a + 1) / (0.5 + a + 1) per point fraction a.
  SegmenterOutput blank{torch::zeros({1, 3, 2}), torch::zeros({1, 3, 8, 8}), {}};
  LossTerms t = segmentation_loss(blank, targets, options, 1);
  EXPECT_NEAR(t.class_loss, 2.0 * std::log(2.0), 1e-5);
  EXPECT_NEAR(t.mask_loss, 5.0 * std::log(2.0), 1e-5);
  EXPECT_GT(t.dice_loss, 5.0 * 0.3);
  EXPECT_NEAR(t.total.item<double>(), t.class_loss + t.mask_loss + t.dice_loss, 1e-4);

  // Perfect: query 1 says "flake" with this mask, the others say "no object". The mask is predicted at 1/4
  // resolution, so bilinear sampling blurs its edge where importance sampling looks hardest: small, not zero.
  torch::Tensor logits = torch::tensor({-20.0f, 20.0f}).repeat({1, 3, 1});
  logits[0][1] = torch::tensor({20.0f, -20.0f});
  torch::Tensor predicted = torch::full({1, 3, 8, 8}, -40.0f);
  predicted[0][1].narrow(0, 2, 4).narrow(1, 2, 4).fill_(40);
  const LossTerms blank_terms = t;
  t = segmentation_loss({logits, predicted, {}}, targets, options, 1);
  EXPECT_LT(t.class_loss, 1e-6);
  EXPECT_LT(t.dice_loss, 0.2 * blank_terms.dice_loss);
  EXPECT_LT(t.mask_loss, 0.5 * blank_terms.mask_loss);
  // Uniform points (no importance sampling) mostly land away from the edge: a smaller loss.
  CriterionOptions uniform = options;
  uniform.importance_sample_ratio = 0;
  EXPECT_LT(segmentation_loss({logits, predicted, {}}, targets, uniform, 1).mask_loss, 0.5 * t.mask_loss);

  // Deep supervision adds every auxiliary output's terms.
  SegmenterOutput with_aux = blank;
  with_aux.aux = {blank, blank};
  EXPECT_NEAR(segmentation_loss(with_aux, targets, options, 1).class_loss, 3 * 2.0 * std::log(2.0), 1e-5);
  options.deep_supervision = false;
  EXPECT_NEAR(segmentation_loss(with_aux, targets, options, 1).class_loss, 2.0 * std::log(2.0), 1e-5);
}

TEST(SegmentCriterion, NoObjectWeightAndEmptyImages) {
  // One target, matched to query 0 which is sure of "flake"; the two others are sure of "flake" too, wrongly.
  // CE: query 0 ~ 0 (weight 1), queries 1, 2: 10 each (weight 0.1): weighted mean = 2 / 1.2.
  torch::Tensor masks = torch::ones({1, 8, 8});
  const std::vector<InstanceTargets> targets{{torch::tensor({0}, torch::kInt64), masks}};
  const SegmenterOutput out{torch::tensor({10.0f, 0.0f}).repeat({1, 3, 1}), torch::full({1, 3, 2, 2}, 10.0f), {}};
  const std::vector<QueryMatch> match{{{0}, {0}}};
  CriterionOptions options;
  const LossTerms t = output_loss(out.logits, out.masks, targets, match, options, 1);
  EXPECT_NEAR(t.class_loss / 2.0, (0.1 * 10 * 2) / 1.2, 1e-3);
  // No instance in the whole batch: only the class term, and gradients still flow.
  const std::vector<InstanceTargets> none{{torch::zeros({0}, torch::kInt64), torch::zeros({0, 8, 8})}};
  torch::Tensor mask_logits = torch::zeros({1, 3, 2, 2}, torch::requires_grad());
  const LossTerms e = segmentation_loss({torch::zeros({1, 3, 2}), mask_logits, {}}, none, options, 0);
  EXPECT_EQ(e.mask_loss, 0.0);
  EXPECT_EQ(e.dice_loss, 0.0);
  e.total.backward();
  EXPECT_TRUE(mask_logits.grad().defined());
}

TEST(LrSchedule, WarmupThenPolyDecay) {
  const LrSchedule s{1e-4, 1000, 100, 0.001, 0.9};
  EXPECT_DOUBLE_EQ(s.at(0), 1e-4 * 0.001);
  EXPECT_NEAR(s.at(50), 1e-4 * (0.001 * 0.5 + 0.5) * std::pow(1 - 0.05, 0.9), 1e-15);
  EXPECT_NEAR(s.at(100), 1e-4 * std::pow(0.9, 0.9), 1e-15);
  EXPECT_NEAR(s.at(500), 1e-4 * std::pow(0.5, 0.9), 1e-15);
  EXPECT_DOUBLE_EQ(s.at(1000), 0.0);
  const LrSchedule finetune = TrainerOptions::finetuning().schedule();
  EXPECT_DOUBLE_EQ(finetune.at(0), 1e-4);  // MaskTerial fine-tunes without warm-up
  EXPECT_NEAR(finetune.at(250), 1e-4 * std::pow(0.5, 0.9), 1e-17);
}

TEST(SegmentTrainer, MaskTerialFineTuning) {
  const TrainerOptions o = TrainerOptions::finetuning();
  EXPECT_EQ(o.iterations, 500);
  EXPECT_EQ(o.batch_size, 4);  // MaskTerial's 16 at a CPU budget
  EXPECT_DOUBLE_EQ(o.learning_rate, 1e-4);
  EXPECT_EQ(TrainerOptions{}.batch_size, 16);  // the struct keeps MaskTerial's values
  EXPECT_DOUBLE_EQ(TrainerOptions{}.learning_rate, 1e-5);
  EXPECT_DOUBLE_EQ(o.clip_norm, 0.01);
  EXPECT_DOUBLE_EQ(o.weight_decay, 0.05);
  EXPECT_EQ(o.criterion.points, 12544);
  EXPECT_EQ(TrainerOptions::pretraining(5000).warmup_iterations, 500);
  EXPECT_EQ(TrainerOptions::pretraining(50000).warmup_iterations, 1000);
}

TEST(SegmentAugment, MasksStayAlignedWithTheImage) {
  // The image is red exactly where the mask is; geometric changes must keep it so.
  cv::Mat image(90, 120, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::Mat mask = cv::Mat::zeros(90, 120, CV_8U);
  cv::rectangle(mask, cv::Rect(10, 20, 30, 15), 1, cv::FILLED);
  cv::circle(mask, {85, 60}, 17, 1, cv::FILLED);
  image.setTo(cv::Scalar(0, 0, 255), mask);
  const TrainingSample sample{image, {mask}, {0}};
  AugmentOptions geometric = AugmentOptions::finetuning();
  geometric.resize_probability = 0;
  geometric.blur_probability = geometric.noise_probability = geometric.salt_pepper_probability = 0;
  geometric.contrast_min = geometric.contrast_max = geometric.brightness_min = geometric.brightness_max = 1;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    synth::Random random(seed);
    const TrainingSample out = augment(sample, {64, 64}, geometric, random);
    ASSERT_EQ(out.image.size(), cv::Size(64, 64));
    if (out.masks.empty()) continue;  // the crop missed the instance: dropped
    ASSERT_EQ(out.masks.size(), 1u);
    cv::Mat red;
    cv::inRange(out.image, cv::Scalar(0, 0, 255), cv::Scalar(0, 0, 255), red);
    EXPECT_EQ(cv::countNonZero(red != out.masks[0] * 255), 0) << "seed " << seed;
  }
  // With resizing and the fine-tuning colour changes: the mask still covers the (now changed) red region.
  AugmentOptions full = AugmentOptions::finetuning();
  full.resize_probability = 1;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    synth::Random random(seed);
    const TrainingSample out = augment(sample, {128, 96}, full, random);
    ASSERT_EQ(out.image.size(), cv::Size(128, 96));
    ASSERT_EQ(out.masks.size(), 1u);
    ASSERT_EQ(out.masks[0].size(), out.image.size());
    // The channel spread (max - min) stays large inside and small on the gray outside.
    cv::Mat channels[3];
    cv::split(out.image, channels);
    cv::Mat lo = cv::min(cv::min(channels[0], channels[1]), channels[2]);
    cv::Mat hi = cv::max(cv::max(channels[0], channels[1]), channels[2]);
    cv::Mat spread = hi - lo;
    const double inside = cv::mean(spread, out.masks[0])[0];
    const double outside = cv::mean(spread, out.masks[0] == 0)[0];
    EXPECT_GT(inside, outside + 40) << "seed " << seed;
  }
}

TEST(SegmentAugment, InstanceCentredCropsKeepAnInstanceWhole) {
  // One small flake in a large image: uniform crops mostly miss it, instance-centred ones always hold it whole.
  cv::Mat image(600, 900, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::Mat mask = cv::Mat::zeros(600, 900, CV_8U);
  cv::circle(mask, {700, 450}, 12, 1, cv::FILLED);
  const TrainingSample sample{image, {mask}, {0}};
  AugmentOptions o = AugmentOptions::finetuning();
  o.resize_probability = 0;
  EXPECT_DOUBLE_EQ(o.instance_crop_probability, 0.8);
  o.instance_crop_probability = 1;
  AugmentOptions uniform = o;
  uniform.instance_crop_probability = 0;
  int held = 0;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    synth::Random random(seed), other(seed);
    const TrainingSample out = augment(sample, {128, 128}, o, random);
    ASSERT_EQ(out.masks.size(), 1u) << "seed " << seed;
    EXPECT_EQ(cv::countNonZero(out.masks[0]), cv::countNonZero(mask)) << "seed " << seed;
    held += static_cast<int>(augment(sample, {128, 128}, uniform, other).masks.size());
  }
  EXPECT_LT(held, 25);
  EXPECT_DOUBLE_EQ(AugmentOptions::pretraining().instance_crop_probability, 0);
}

TEST(SegmentAugment, IsDeterministicPerRandomState) {
  cv::Mat image(80, 80, CV_8UC3);
  cv::randu(image, 0, 255);
  const TrainingSample sample{image, {cv::Mat::ones(80, 80, CV_8U)}, {0}};
  synth::Random a(9), b(9);
  const TrainingSample x = augment(sample, {64, 64}, AugmentOptions::pretraining(), a);
  const TrainingSample y = augment(sample, {64, 64}, AugmentOptions::pretraining(), b);
  EXPECT_EQ(cv::norm(x.image, y.image, cv::NORM_INF), 0);
  // Smaller images than the crop are padded with gray and an empty mask.
  synth::Random c(1);
  AugmentOptions plain = AugmentOptions::finetuning();
  plain.scale = 0.5;
  plain.resize_probability = plain.flip_probability = 0;
  const TrainingSample small = augment(sample, {64, 64}, plain, c);
  EXPECT_EQ(cv::countNonZero(small.masks[0]), 40 * 40);
}

TEST(SegmentTrainingData, SyntheticBatchesAreDeterministicAndClassAgnostic) {
  const SyntheticSource source(tiny_generator(64), {64, 64}, AugmentOptions::pretraining());
  const TrainingBatch a = load_batch(source, 3, 10, 3, 2), b = load_batch(source, 3, 10, 3, 1);
  ASSERT_EQ(a.images.sizes(), torch::IntArrayRef({3, 3, 64, 64}));
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_GE(a.images.min().item<float>(), 0.0f);
  EXPECT_LE(a.images.max().item<float>(), 255.0f);
  ASSERT_EQ(a.targets.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(torch::equal(a.targets[i].masks, b.targets[i].masks));
    EXPECT_EQ(a.targets[i].masks.size(0), a.targets[i].labels.size(0));
    if (a.targets[i].labels.numel()) EXPECT_EQ(a.targets[i].labels.max().item<int64_t>(), 0);
  }
  EXPECT_GT(a.instances(), 0);
  EXPECT_FALSE(torch::equal(load_batch(source, 3, 11, 1, 1).images, a.images.narrow(0, 0, 1)));
}

TEST(SegmentTrainingData, CocoSourceReadsImagesAndReportsBadOnes) {
  const fs::path dir = fs::temp_directory_path() / "maskterial_seg_coco";
  fs::remove_all(dir);
  fs::create_directories(dir);
  cv::Mat image(100, 140, CV_8UC3, cv::Scalar(120, 140, 90));
  cv::Mat mask = cv::Mat::zeros(100, 140, CV_8U);
  cv::rectangle(mask, cv::Rect(30, 30, 50, 40), 1, cv::FILLED);
  image.setTo(cv::Scalar(60, 60, 200), mask);
  cv::imwrite((dir / "a.png").string(), image);
  coco::Dataset dataset;
  dataset.images = {{1, "a.png", 140, 100}};
  dataset.categories = {{3, "2L", ""}};
  coco::Annotation ann;
  ann.id = 1, ann.image_id = 1, ann.category_id = 3, ann.segmentation = coco::encode(mask);
  dataset.annotations = {ann};
  AugmentOptions plain = AugmentOptions::finetuning();
  plain.resize_probability = 0;
  const CocoSource source(dataset, dir.string(), {64, 64}, plain);
  EXPECT_EQ(source.images(), 1u);
  for (uint64_t i = 0; i < 5; ++i) {
    const TrainingSample s = source.sample(1, i);
    for (int64_t label : s.labels) EXPECT_EQ(label, 0);  // class-agnostic
  }
  dataset.images.push_back({2, "missing.png", 140, 100});
  try {
    CocoSource bad(dataset, dir.string(), {64, 64}, plain);
    FAIL() << "a missing image must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.png"), std::string::npos);
  }
  dataset.images.pop_back();
  dataset.annotations[0].segmentation = coco::encode(cv::Mat::ones(10, 10, CV_8U));
  EXPECT_THROW(CocoSource(dataset, dir.string(), {64, 64}, plain), Error);
  EXPECT_THROW(CocoSource(coco::Dataset{}, dir.string(), {64, 64}, plain), Error);
}

// finetune --unlabelled: the annotated flakes' contrasts are measured, and that share of the samples shows
// synthetic flakes of them on the unlabelled scans' substrates (flakes painted out), the rest the annotated images.
TEST(SegmentTrainingData, UnlabelledScansAddSyntheticFlakesOfTheMeasuredContrasts) {
  const fs::path dir = fs::temp_directory_path() / "maskterial_seg_unlabelled";
  fs::remove_all(dir);
  fs::create_directories(dir / "unlabelled");
  fs::create_directories(dir / "empty");
  const cv::Scalar substrate(150, 120, 130);
  cv::Mat image(200, 240, CV_8UC3, substrate);
  cv::Mat flake = cv::Mat::zeros(image.size(), CV_8U), speck = flake.clone();
  cv::rectangle(flake, cv::Rect(40, 50, 60, 50), 1, cv::FILLED);
  cv::rectangle(speck, cv::Rect(180, 150, 3, 3), 1, cv::FILLED);  // under 20 pixels: left out
  image.setTo(cv::Scalar(120, 90, 117), flake);                    // C = (-0.2, -0.25, -0.1)
  image.setTo(cv::Scalar(20, 20, 20), speck);
  cv::imwrite((dir / "a.png").string(), image);
  cv::Mat scan(220, 260, CV_8UC3, cv::Scalar(60, 200, 90));  // another colour: tells the two sources apart
  cv::circle(scan, {100, 100}, 30, cv::Scalar(30, 100, 45), cv::FILLED);
  cv::imwrite((dir / "unlabelled" / "scan.png").string(), scan);

  FinetuneData data;
  data.dataset.images = {{1, "a.png", 240, 200}};
  data.dataset.categories = {{1, "1L", ""}};
  for (const cv::Mat& m : {flake, speck}) {
    coco::Annotation a;
    a.id = static_cast<int64_t>(data.dataset.annotations.size() + 1), a.image_id = 1, a.category_id = 1;
    a.segmentation = coco::encode(m);
    data.dataset.annotations.push_back(a);
  }
  data.images_dir = dir.string();
  const std::vector<Bgr> contrasts = annotated_flake_contrasts(data.dataset, data.images_dir);
  ASSERT_EQ(contrasts.size(), 1u);
  EXPECT_NEAR(contrasts[0][0], -0.2, 0.01);
  EXPECT_NEAR(contrasts[0][1], -0.25, 0.01);
  EXPECT_NEAR(contrasts[0][2], -0.1, 0.01);

  // A scan's look-alike flake is painted out; a thick crystal and a thin strip of the same contrast (a halo) stay.
  cv::Mat other(200, 240, CV_8UC3, substrate);
  other(cv::Rect(20, 20, 50, 40)).setTo(cv::Scalar(121, 91, 116));   // like the annotated flake
  other(cv::Rect(120, 20, 50, 40)).setTo(cv::Scalar(40, 30, 35));    // thick
  other(cv::Rect(120, 120, 80, 2)).setTo(cv::Scalar(120, 90, 117));  // halo strip
  const cv::Mat cleaned = unlabelled_substrate(other, contrasts);
  const auto colour_at = [&](int x, int y) { return cv::Scalar(cleaned.at<cv::Vec3b>(y, x)); };
  EXPECT_LT(cv::norm(colour_at(45, 40) - substrate), 4);
  EXPECT_EQ(colour_at(145, 40), cv::Scalar(40, 30, 35));
  EXPECT_EQ(colour_at(160, 120), cv::Scalar(120, 90, 117));
  EXPECT_THROW(unlabelled_substrate(cv::Mat::zeros(64, 64, CV_8UC3), contrasts), Error);  // black: no substrate

  AugmentOptions plain = AugmentOptions::finetuning();
  plain.resize_probability = 0;
  EXPECT_EQ(finetuning_source(data, {64, 64}, plain).samples->describe()["type"], "coco");
  data.unlabelled_dirs = {(dir / "unlabelled").string()};
  const FinetuningSource source = finetuning_source(data, {64, 64}, plain);
  ASSERT_TRUE(source.unlabelled);
  const auto mixed = source.samples;
  EXPECT_EQ(mixed->describe()["type"], "mixed");
  EXPECT_EQ(mixed->describe()["second"]["generator"]["flake_contrasts"].size(), 1u);
  int synthetic = 0;
  for (uint64_t i = 0; i < 40; ++i) {
    const TrainingSample s = mixed->sample(7, i);
    const bool on_scan = cv::mean(s.image)[1] > 150;  // green 200 on the scan's substrate, 120 on the annotated image
    synthetic += on_scan;
    EXPECT_EQ(cv::norm(s.image, mixed->sample(7, i).image, cv::NORM_INF), 0);  // a pure function of (seed, index)
    for (int64_t label : s.labels) EXPECT_EQ(label, 0);
  }
  EXPECT_GT(synthetic, 8);
  EXPECT_LT(synthetic, 32);
  data.unlabelled_share = 0;
  for (uint64_t i = 0; i < 10; ++i) EXPECT_LT(cv::mean(finetuning_source(data, {64, 64}, plain).samples->sample(7, i).image)[1], 150);
  data.unlabelled_dirs = {(dir / "empty").string()};
  EXPECT_THROW(finetuning_source(data, {64, 64}, plain), Error);  // no scan to draw on
  const auto coco_source = std::make_shared<CocoSource>(data.dataset, data.images_dir, cv::Size(64, 64), plain);
  const auto other_size = std::make_shared<CocoSource>(data.dataset, data.images_dir, cv::Size(96, 96), plain);
  EXPECT_THROW(MixedSource(coco_source, other_size, 0.5), Error);
  EXPECT_THROW(MixedSource(coco_source, coco_source, 1.5), Error);
}

TEST(SegmentTrainer, LossGoesDownOnSyntheticData) {
  torch::manual_seed(0);
  test::TinySegmenter net;
  SegmentationTrainer trainer(net.ptr(), test::forward_of(net), tiny_options(60));
  const DiscSource source;
  trainer.train(source);
  const TrainingLog& log = trainer.log();
  ASSERT_EQ(log.iteration.size(), 12u);
  EXPECT_EQ(log.iteration.back(), 60);
  const double first = (log.loss[0] + log.loss[1]) / 2, last = (log.loss[10] + log.loss[11]) / 2;
  EXPECT_LT(last, 0.7 * first) << "loss " << first << " -> " << last;
  EXPECT_GT(log.learning_rate[0], log.learning_rate.back());  // poly decay
}

TEST(SegmentTrainer, ResumeContinuesBitForBit) {
  const fs::path checkpoint = fs::temp_directory_path() / "maskterial_seg_resume.pt";
  fs::remove(checkpoint);
  const SyntheticSource source(tiny_generator(64), {64, 64}, AugmentOptions::pretraining());
  TrainerOptions options = tiny_options(4);
  options.checkpoint_every = 2;

  torch::manual_seed(0);
  test::TinySegmenter straight;
  SegmentationTrainer a(straight.ptr(), test::forward_of(straight), options);
  a.train(source);

  torch::manual_seed(0);
  test::TinySegmenter first_half;
  SegmentationTrainer b(first_half.ptr(), test::forward_of(first_half), options);
  b.step(source);
  b.step(source);
  b.save_checkpoint(checkpoint.string(), {{"preset", "tiny"}});

  torch::manual_seed(99);  // a different initialisation: everything must come from the checkpoint
  test::TinySegmenter resumed;
  SegmentationTrainer c(resumed.ptr(), test::forward_of(resumed), options);
  c.load_checkpoint(checkpoint.string());
  EXPECT_EQ(c.iteration(), 2);
  EXPECT_EQ(SegmentationTrainer::checkpoint_metadata(checkpoint.string())["preset"], "tiny");
  c.train(source);
  EXPECT_EQ(c.iteration(), 4);
  EXPECT_TRUE(all_equal(cloned(straight->parameters()), cloned(resumed->parameters())));
  EXPECT_EQ(c.log().loss, a.log().loss);

  // A checkpoint of another network or a file that is none is refused with the file named.
  test::TinySegmenter other(3, 8);
  SegmentationTrainer d(other.ptr(), test::forward_of(other), options);
  EXPECT_THROW(d.load_checkpoint(checkpoint.string()), Error);
  const fs::path junk = fs::temp_directory_path() / "maskterial_seg_junk.pt";
  std::FILE* f = std::fopen(junk.c_str(), "w");
  std::fputs("junk", f);
  std::fclose(f);
  try {
    d.load_checkpoint(junk.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(junk.string()), std::string::npos);
  }
}

TEST(SegmentTrainer, FrozenPartsStayUnchanged) {
  torch::manual_seed(0);
  test::TinySegmenter net;
  freeze(*net->stem);
  freeze(*net->stem_norm);
  std::vector<torch::Tensor> before = cloned(net->stem->parameters());
  for (const auto& t : net->stem_norm->parameters()) before.push_back(t.detach().clone());
  for (const auto& t : net->stem_norm->buffers()) before.push_back(t.detach().clone());  // running statistics
  const std::vector<torch::Tensor> embed_before = cloned(net->embed->parameters());
  const SyntheticSource source(tiny_generator(64), {64, 64}, AugmentOptions::finetuning());
  SegmentationTrainer trainer(net.ptr(), test::forward_of(net), tiny_options(2));
  EXPECT_EQ(trainer.trainable_parameters().size(), net->parameters().size() - 4);
  trainer.train(source);
  std::vector<torch::Tensor> after = cloned(net->stem->parameters());
  for (const auto& t : net->stem_norm->parameters()) after.push_back(t.detach().clone());
  for (const auto& t : net->stem_norm->buffers()) after.push_back(t.detach().clone());
  EXPECT_TRUE(all_equal(before, after));
  EXPECT_FALSE(all_equal(embed_before, cloned(net->embed->parameters())));
  freeze(*net);
  EXPECT_THROW(SegmentationTrainer(net.ptr(), test::forward_of(net), tiny_options(2)), Error);
}

TEST(SegmentTrainer, WritesALossPlot) {
  TrainingLog log;
  log.iteration = {10, 20, 30};
  log.loss = {3, 2, 1.5};
  log.parts = {{"class", {1, 0.8, 0.7}}, {"mask BCE", {1, 0.6, 0.4}}, {"dice", {1, 0.6, 0.4}}};
  log.learning_rate = {1e-4, 9e-5, 8e-5};
  const fs::path png = fs::temp_directory_path() / "maskterial_seg_loss.png";
  write_loss_plot(png.string(), log, "test");
  EXPECT_FALSE(cv::imread(png.string()).empty());
  EXPECT_EQ(TrainingLog::from_json(log.to_json(), "x").loss, log.loss);
  EXPECT_EQ(TrainingLog::from_json(log.to_json(), "x").parts, log.parts);
  // Logs written before the parts had names read as Mask2Former's three terms.
  const nlohmann::json old = {{"iteration", log.iteration}, {"loss", log.loss},          {"class_loss", log.parts[0].second},
                              {"mask_loss", log.parts[1].second}, {"dice_loss", log.parts[2].second},
                              {"learning_rate", log.learning_rate}, {"seconds", 1.0}};
  EXPECT_EQ(TrainingLog::from_json(old, "x").parts, log.parts);
  nlohmann::json broken = log.to_json();
  broken["loss"].push_back(1);
  EXPECT_THROW(TrainingLog::from_json(broken, "x"), Error);
}
