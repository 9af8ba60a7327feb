// The dense contrast-domain segmentation model: options, input features, targets, instance extraction,
// network shapes, model directory, training and the registry.
#include <gtest/gtest.h>

#include <filesystem>

#include <opencv2/imgproc.hpp>
#include <unistd.h>

#include "maskterial/coco/rle.hpp"
#include "maskterial/segment/dense/dense_input.hpp"
#include "maskterial/segment/dense/dense_instances.hpp"
#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/segment/dense/dense_targets.hpp"
#include "maskterial/segment/dense/dense_training.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/segment/trainers.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::segment;

namespace {

DenseOptions tiny_options() {
  DenseOptions o;
  o.encoder_widths = {4, 6, 8, 8};
  o.encoder_blocks = {0, 1, 0, 1};
  o.edge_band_px = 0;
  o.decoder_widths = {6, 8};
  return o;
}

std::string temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("maskterial_dense_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

// Gray substrate with two flakes: a dark square and a faint (2 %) disc.
cv::Mat two_flake_image() {
  cv::Mat image(128, 160, CV_8UC3, cv::Scalar(120, 150, 90));
  cv::rectangle(image, cv::Rect(20, 20, 40, 40), cv::Scalar(108, 135, 81), cv::FILLED);
  cv::circle(image, {110, 80}, 20, cv::Scalar(122, 153, 92), cv::FILLED);
  return image;
}

}  // namespace

TEST(DenseOptions, RoundTripAndRefusals) {
  DenseOptions o = tiny_options();
  o.seed_distance = 0.3;
  const DenseOptions back = DenseOptions::from_json(o.to_json(), "x");
  EXPECT_EQ(back.to_json(), o.to_json());
  EXPECT_THROW(DenseOptions::from_json({{"encoder_widths", {1, 2}}}, "m.json"), Error);
  EXPECT_THROW(DenseOptions::from_json({{"flake_threshold", 1.5}}, "m.json"), Error);
  EXPECT_THROW(DenseOptions::from_json({{"no_such_key", 1}}, "m.json"), Error);
  EXPECT_THROW(DenseOptions::from_json({{"inference_scale", "half"}}, "m.json"), Error);
  try {
    DenseOptions::from_json({{"contrast_gain", -1}}, "m.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.json"), std::string::npos);
  }
}

TEST(DenseInput, IsContrastAgainstTheSubstrateAndIgnoresWhiteBalance) {
  const cv::Mat image = two_flake_image();
  DenseOptions o;
  const Bgr substrate = substrate_colour(image);
  EXPECT_NEAR(substrate[1], 150, 1);  // the histogram mode (averaged over mode ± 5)
  const cv::Mat f = dense_features(image, substrate, o);
  ASSERT_EQ(f.type(), CV_32FC3);
  EXPECT_NEAR(f.at<cv::Vec3f>(0, 0)[1], (150 / substrate[1] - 1) * o.contrast_gain, 1e-5);    // substrate
  EXPECT_NEAR(f.at<cv::Vec3f>(0, 0)[1], 0.0f, 0.05);
  EXPECT_NEAR(f.at<cv::Vec3f>(40, 40)[1], (135 / substrate[1] - 1) * o.contrast_gain, 1e-5);  // dark flake
  // Other white balance and exposure: the same contrast.
  cv::Mat rebalanced;
  cv::multiply(image, cv::Scalar(1.5, 1.0, 0.5), rebalanced);
  const cv::Mat g = dense_features(rebalanced, substrate_colour(rebalanced), o);
  EXPECT_NEAR(g.at<cv::Vec3f>(40, 40)[1], f.at<cv::Vec3f>(40, 40)[1], 0.02);
  EXPECT_NEAR(g.at<cv::Vec3f>(40, 40)[0], f.at<cv::Vec3f>(40, 40)[0], 0.03);
  o.input = "both";
  const cv::Mat both = dense_features(image, substrate_colour(image), o);
  ASSERT_EQ(both.channels(), 6);
  EXPECT_NEAR(both.at<cv::Vec6f>(40, 40)[1], f.at<cv::Vec3f>(40, 40)[1], 1e-6);  // contrast first, then colour
  EXPECT_NEAR(both.at<cv::Vec6f>(40, 40)[4], (135.0 - 148) / 34, 1e-5);
  o.input = "colour";
  EXPECT_NEAR(dense_features(image, substrate_colour(image), o).at<cv::Vec3f>(40, 40)[1], (135.0 - 148) / 34, 1e-5);
  EXPECT_THROW(DenseOptions::from_json({{"input", "infrared"}}, "m.json"), Error);
}

TEST(DenseInput, OverexposedChannelStillGivesASubstrate) {
  cv::Mat image(64, 64, CV_8UC3, cv::Scalar(255, 150, 90));  // blue saturated: the mode rule finds nothing there
  const Bgr s = substrate_colour(image);
  EXPECT_EQ(s[0], 255);
  EXPECT_NEAR(s[1], 150, 1);
}

TEST(DenseTargets, TouchingInstancesAreSeparatedByBoundaries) {
  cv::Mat a = cv::Mat::zeros(64, 64, CV_8U), b = cv::Mat::zeros(64, 64, CV_8U);
  a(cv::Rect(8, 8, 24, 24)).setTo(1);
  b(cv::Rect(32, 8, 24, 24)).setTo(1);  // shares a side with a
  const DenseTargets t = dense_targets({a, b}, {64, 64});
  ASSERT_EQ(t.flake.size(), cv::Size(32, 32));
  EXPECT_FLOAT_EQ(t.flake.at<float>(10, 10), 1.0f);
  EXPECT_FLOAT_EQ(t.flake.at<float>(30, 30), 0.0f);
  EXPECT_FLOAT_EQ(t.boundary.at<float>(10, 15), 1.0f);  // a's right edge
  EXPECT_FLOAT_EQ(t.boundary.at<float>(10, 16), 1.0f);  // b's left edge
  EXPECT_FLOAT_EQ(t.boundary.at<float>(10, 10), 0.0f);
  double peak = 0;
  cv::minMaxLoc(t.distance, nullptr, &peak);
  EXPECT_FLOAT_EQ(static_cast<float>(peak), 1.0f);
  EXPECT_GT(t.distance.at<float>(10, 9), t.distance.at<float>(10, 4));  // centre beats edge
}

TEST(DenseInstances, WatershedSplitsTouchingFlakesAndKeepsSlivers) {
  cv::Mat a = cv::Mat::zeros(64, 96, CV_8U), b = a.clone(), sliver = a.clone();
  a(cv::Rect(4, 4, 24, 24)).setTo(1);
  b(cv::Rect(28, 4, 24, 24)).setTo(1);
  sliver(cv::Rect(70, 10, 2, 40)).setTo(1);  // too thin for a seed
  // Maps on the output grid itself.
  cv::Mat flake = cv::Mat::zeros(64, 96, CV_32F), boundary = flake.clone();
  flake.setTo(0.9f, a | b | sliver);
  cv::Mat distance = cv::Mat::zeros(64, 96, CV_32F);
  for (const cv::Mat& m : {a, b, sliver}) {
    cv::Mat d;
    cv::distanceTransform(m, d, cv::DIST_L2, 3);
    double peak;
    cv::minMaxLoc(d, nullptr, &peak);
    cv::max(distance, d / peak, distance);
  }
  boundary.colRange(27, 29).setTo(0.9f);  // between a and b
  DenseOptions o;
  const DenseInstances found = extract_instances(flake, boundary, distance, o);
  ASSERT_EQ(found.scores.size(), 3u);
  const int la = found.labels.at<int>(15, 15), lb = found.labels.at<int>(15, 40), ls = found.labels.at<int>(30, 70);
  EXPECT_NE(la, 0);
  EXPECT_NE(lb, 0);
  EXPECT_NE(ls, 0);
  EXPECT_NE(la, lb);
  EXPECT_NE(ls, la);
  for (float s : found.scores) EXPECT_NEAR(s, 0.9f, 1e-4);  // identity calibration: the mean probability
  o.min_instance_cells = 100;  // the sliver (80 cells) goes
  EXPECT_EQ(extract_instances(flake, boundary, distance, o).scores.size(), 2u);
  // Nothing above threshold: nothing.
  EXPECT_TRUE(extract_instances(cv::Mat::zeros(8, 8, CV_32F), cv::Mat::zeros(8, 8, CV_32F), cv::Mat::zeros(8, 8, CV_32F), o)
                  .scores.empty());
}

TEST(DenseInstances, CalibrationMapsProbabilitiesToScores) {
  DenseOptions o;
  EXPECT_NEAR(calibrated_score(0.7, o), 0.7, 1e-6);
  o.calibration_slope = 2;
  o.calibration_offset = -1;
  const double z = 2 * std::log(0.7 / 0.3) - 1;
  EXPECT_NEAR(calibrated_score(0.7, o), 1 / (1 + std::exp(-z)), 1e-6);
}

TEST(DenseInstances, CalibrationFitStaysFiniteOnFewSeparableMatches) {
  // 30 instances, 3 real ones, perfectly separated by probability: the fit must not run away.
  std::vector<double> p;
  std::vector<bool> real;
  for (int i = 0; i < 30; ++i) {
    p.push_back(i < 3 ? 0.9 : 0.3 + 0.01 * i);
    real.push_back(i < 3);
  }
  const auto [slope, offset] = fit_calibration(p, real);
  EXPECT_GT(slope, 0.1);
  EXPECT_LT(slope, 10.0);
  EXPECT_LT(std::abs(offset), 10.0);
  DenseOptions o;
  o.calibration_slope = slope;
  o.calibration_offset = offset;
  EXPECT_LT(calibrated_score(0.5, o), 0.9);  // an average mask is not certain
  EXPECT_GT(calibrated_score(0.9, o), calibrated_score(0.5, o));
}

TEST(DenseNet, ShapesAndSeparateParts) {
  torch::manual_seed(0);
  DenseNet net(tiny_options());
  const DenseMaps maps = net->forward(torch::zeros({2, 3, 64, 96}));
  EXPECT_EQ(maps.flake.sizes(), (std::vector<int64_t>{2, 1, 32, 48}));
  EXPECT_EQ(maps.distance.sizes(), maps.boundary.sizes());
  EXPECT_THROW(net->forward(torch::zeros({1, 3, 60, 96})), Error);
  EXPECT_THROW(net->forward(torch::zeros({1, 6, 64, 96})), Error);
  const size_t all = net->parameters().size();
  EXPECT_EQ(net->encoder()->parameters().size() + net->decoder()->parameters().size(), all);
}

TEST(DenseSegmenter, SavesLoadsAndRefusesBrokenDirectories) {
  torch::manual_seed(1);
  DenseSegmenter model(DenseNet(tiny_options()), {{"note", "test"}}, 0.0);
  const std::string dir = temp_dir("roundtrip");
  model.save(dir);
  const auto loaded = DenseSegmenter::load(dir, 0.0);
  const cv::Mat image = two_flake_image();
  const DenseProbabilities a = model.probabilities(image), b = loaded->probabilities(image);
  EXPECT_EQ(a.flake.size(), cv::Size(40, 32));  // 160x128 at scale 0.5, then the 1/2 output grid
  EXPECT_EQ(cv::norm(a.flake, b.flake, cv::NORM_INF), 0.0);
  EXPECT_EQ(loaded->training()["note"], "test");
  EXPECT_EQ(segmenter_type_of(dir), "dense");
  EXPECT_NE(load_segmenter(dir), nullptr);
  // Broken: wrong type, weights of another architecture, no weights.
  nlohmann::json meta = read_json(dir + "/model.json");
  meta["type"] = "mask2former";
  write_json_atomic(dir + "/model.json", meta);
  EXPECT_THROW(DenseSegmenter::load(dir), Error);
  meta["type"] = "dense";
  meta["options"]["encoder_widths"] = {8, 8, 8, 8};
  write_json_atomic(dir + "/model.json", meta);
  try {
    DenseSegmenter::load(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.pt"), std::string::npos) << e.what();
  }
  meta["type"] = "nonsense";
  write_json_atomic(dir + "/model.json", meta);
  EXPECT_THROW(segmenter_type_of(dir), Error);
  fs::remove_all(dir);
  EXPECT_THROW(load_segmenter(dir), Error);
}

TEST(DenseSegmenter, PredictsFullResolutionInstances) {
  // Weights zero, head biases set by hand: the maps are constant.
  DenseNet net(tiny_options());
  torch::Tensor bias;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.zero_();
    for (auto& p : net->decoder()->named_parameters())
      if (p.key() == "refine.bias") bias = p.value();
  }
  ASSERT_TRUE(bias.defined());
  const cv::Mat image = two_flake_image();
  EXPECT_TRUE(DenseSegmenter(net, {}, 0.0).predict(image).empty());  // all maps 0.5: nothing above threshold
  {
    torch::NoGradGuard no_grad;
    bias.copy_(torch::tensor({5.0f, -5.0f, 5.0f}));  // flake everywhere, no boundary, seeds everywhere
  }
  const auto found = DenseSegmenter(net, {}, 0.5).predict(image);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].mask.size(), image.size());
  EXPECT_EQ(cv::countNonZero(found[0].mask), image.rows * image.cols);
  EXPECT_NEAR(found[0].score, 1 / (1 + std::exp(-5.0)), 1e-4);
  EXPECT_TRUE(DenseSegmenter(net, {}, 0.999).predict(image).empty());  // the score threshold applies
}

TEST(DenseTraining, LearnsSyntheticFlakesAndFineTunesTheDecoderOnly) {
  const std::string dir = temp_dir("train");
  DensePretraining pretraining{tiny_options(), {{"min_flake_px", 30}, {"max_flake_px", 60}, {"max_dirt", 0}}, {}};
  SegmenterTrainingRun run;
  run.out_dir = dir + "/pretrained";
  run.size = 64;
  run.trainer = dense_pretraining_schedule(40);
  run.trainer.batch_size = 4;
  run.trainer.log_every = 10;
  run.trainer.show_progress = false;
  const auto pretrained = pretrain_dense(pretraining, run);
  const nlohmann::json log = pretrained->training()["log"];
  ASSERT_EQ(log["loss"].size(), 4u);
  EXPECT_LT(log["loss"].back().get<double>(), log["loss"].front().get<double>());
  EXPECT_TRUE(fs::exists(run.out_dir + "/training_curves.png"));
  EXPECT_EQ(segmenter_type_of(run.out_dir), "dense");

  // Fine-tuning on a COCO dataset of one image: the encoder stays as it was.
  const cv::Mat image = two_flake_image();
  fs::create_directories(dir + "/images");
  write_image_atomic(dir + "/images/a.png", image);
  coco::Dataset data;
  data.images.push_back({1, "a.png", image.cols, image.rows});
  cv::Mat square = cv::Mat::zeros(image.size(), CV_8U);
  square(cv::Rect(20, 20, 40, 40)).setTo(1);
  coco::Annotation a;
  a.id = 1;
  a.image_id = 1;
  a.category_id = 1;
  a.segmentation = coco::encode(square);
  data.annotations.push_back(a);
  data.categories.push_back({1, "flake"});
  SegmenterTrainingRun tune;
  tune.out_dir = dir + "/tuned";
  tune.size = 64;
  tune.trainer = dense_finetuning_schedule();
  tune.trainer.iterations = 3;
  tune.trainer.batch_size = 2;
  tune.trainer.show_progress = false;
  segmenter_trainer("dense").finetune(run.out_dir, {data, dir + "/images"}, tune);
  const auto tuned = DenseSegmenter::load(tune.out_dir);
  const auto before = pretrained->network()->encoder()->parameters(), after = tuned->network()->encoder()->parameters();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i]));
  const auto dec_before = pretrained->network()->decoder()->parameters(), dec_after = tuned->network()->decoder()->parameters();
  bool changed = false;
  for (size_t i = 0; i < dec_before.size(); ++i) changed = changed || !torch::equal(dec_before[i], dec_after[i]);
  EXPECT_TRUE(changed);
  EXPECT_EQ(tuned->training()["frozen"], nlohmann::json({"encoder"}));
  fs::remove_all(dir);
}

TEST(SegmenterRegistry, KnowsBothTypes) {
  EXPECT_EQ(segmenter_type("dense").name, "dense");
  EXPECT_EQ(segmenter_type("mask2former").name, "mask2former");
  try {
    segmenter_type("unet");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dense"), std::string::npos);
  }
}
