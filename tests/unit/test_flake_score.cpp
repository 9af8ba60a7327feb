// The flake score: evidence measured on candidates, the logistic model's fit, file round trip and refusals.
#include <filesystem>
#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "maskterial/pipeline/flake_measure.hpp"
#include "maskterial/score/evidence.hpp"
#include "maskterial/score/flake_score.hpp"
#include "maskterial/score/score_fitting.hpp"
#include "maskterial/util/error.hpp"

using namespace maskterial;
using namespace maskterial::score;

namespace {

size_t index_of(const std::string& name) {
  const auto& names = evidence_names();
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

Flake candidate_from(const cv::Mat& image, const cv::Mat& mask, const Bgr& background) {
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(mask.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  const cv::Rect box = cv::boundingRect(contours.front());
  Flake f = measure_flake({image, background}, mask(box), box, contours.front());
  f.class_id = 1;
  f.origin = kOriginSegmenter;
  return f;
}

// Examples whose label follows one evidence value (plus noise) and ignores the rest.
std::vector<Example> examples_driven_by(size_t driver, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0, 1);
  std::vector<Example> out;
  for (int i = 0; i < n; ++i) {
    Example e;
    e.positive = i % 5 == 0;
    for (size_t k = 0; k < evidence_names().size(); ++k) e.evidence.push_back(noise(rng));
    e.evidence[driver] += e.positive ? 2.5f : -0.5f;
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST(FlakeEvidence, MaskInBoxInvertsTheEncoding) {
  cv::Mat mask = cv::Mat::zeros(60, 80, CV_8U);
  cv::circle(mask, {40, 30}, 12, 255, cv::FILLED);
  cv::rectangle(mask, {5, 0}, {9, 59}, 255, cv::FILLED);  // runs over column breaks
  cv::Rect box;
  const cv::Mat inside = mask_in_box(coco::encode(mask), box);
  EXPECT_EQ(box, cv::boundingRect(mask));
  EXPECT_EQ(cv::countNonZero(inside != mask(box)), 0);
}

TEST(FlakeEvidence, HaloAlongAThickCrystalLooksUnlikeAFlakeOnSubstrate) {
  // Substrate 150; a real thin flake (a step to 140); a thick crystal (60) whose blurred edge passes through
  // the thin flake's colour: the strip at that colour is the halo.
  cv::Mat image(200, 300, CV_8UC3, cv::Scalar::all(150));
  cv::rectangle(image, {20, 40}, {80, 120}, cv::Scalar::all(140), cv::FILLED);
  cv::Mat thick(200, 300, CV_8UC3, cv::Scalar::all(150));
  cv::rectangle(thick, {180, 0}, {299, 199}, cv::Scalar::all(60), cv::FILLED);
  cv::GaussianBlur(thick, thick, {0, 0}, 6);
  thick(cv::Rect(150, 0, 150, 200)).copyTo(image(cv::Rect(150, 0, 150, 200)));
  const Bgr bg{150, 150, 150};
  cv::Mat flake_mask = cv::Mat::zeros(image.size(), CV_8U), halo_mask = flake_mask.clone();
  cv::rectangle(flake_mask, {20, 40}, {80, 120}, 255, cv::FILLED);
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
  halo_mask = (gray >= 135) & (gray <= 145);
  halo_mask(cv::Rect(0, 0, 150, 200)).setTo(0);
  const auto flake = measure_evidence(image, bg, candidate_from(image, flake_mask, bg));
  const auto halo = measure_evidence(image, bg, candidate_from(image, halo_mask, bg));
  ASSERT_EQ(flake.size(), evidence_names().size());
  EXPECT_GT(halo[index_of("ring_thicker_share")], 0.3f);
  EXPECT_LT(flake[index_of("ring_thicker_share")], 0.05f);
  EXPECT_GT(flake[index_of("edge_sharpness")], 2 * halo[index_of("edge_sharpness")]);
  EXPECT_GT(halo[index_of("log_elongation")], flake[index_of("log_elongation")]);
  EXPECT_NEAR(flake[index_of("contrast_magnitude")], std::sqrt(3.0) * 10.0 / 150.0, 1e-3);
}

TEST(FlakeScore, FitRanksByTheEvidenceThatCarriesTheLabel) {
  const size_t driver = index_of("edge_sharpness");
  const FlakeScoreModel model = FlakeScoreModel::fit(examples_driven_by(driver, 400, 1));
  ASSERT_FALSE(model.empty());
  int correct = 0, positives = 0;
  for (const Example& e : examples_driven_by(driver, 400, 2)) {
    positives += e.positive;
    correct += (model.probability(e.evidence) > 0.5) == e.positive;
  }
  EXPECT_GT(correct, 360);
  // Calibrated to the real share of positives despite the balancing.
  double mean = 0;
  for (const Example& e : examples_driven_by(driver, 400, 3)) mean += model.probability(e.evidence) / 400;
  EXPECT_NEAR(mean, positives / 400.0, 0.08);
}

TEST(FlakeScore, TooFewExamplesKeepThePrior) {
  std::vector<Example> few = examples_driven_by(0, 8, 1);  // 2 positives
  EXPECT_TRUE(FlakeScoreModel::fit(few).empty());
  const FlakeScoreModel prior = FlakeScoreModel::fit(examples_driven_by(0, 200, 4));
  const FlakeScoreModel kept = FlakeScoreModel::fit(few, &prior);
  EXPECT_EQ(kept.to_json(), prior.to_json());
}

TEST(FlakeScore, APriorIsAdjustedNotReplaced) {
  const FlakeScoreModel prior = FlakeScoreModel::fit(examples_driven_by(index_of("solidity"), 400, 5));
  const FlakeScoreModel refit = FlakeScoreModel::fit(examples_driven_by(index_of("solidity"), 60, 6), &prior);
  ASSERT_TRUE(refit.to_json().contains("prior"));
  const std::vector<Example> test = examples_driven_by(index_of("solidity"), 200, 7);
  int agree = 0;
  for (const Example& e : test) agree += (refit.probability(e.evidence) > 0.5) == (prior.probability(e.evidence) > 0.5);
  EXPECT_GT(agree, 180);
}

TEST(FlakeScore, FileRoundTripAndRefusals) {
  const FlakeScoreModel model = FlakeScoreModel::fit(examples_driven_by(3, 200, 8));
  const auto file = std::filesystem::temp_directory_path() / "maskterial_flake_score_test.json";
  model.save(file);
  const FlakeScoreModel back = FlakeScoreModel::load(file);
  const Example probe = examples_driven_by(3, 1, 9).front();
  EXPECT_DOUBLE_EQ(back.probability(probe.evidence), model.probability(probe.evidence));
  EXPECT_THROW(back.probability({1.0f, 2.0f}), Error);
  nlohmann::json other = model.to_json();
  other["evidence"][0] = "something_else";
  EXPECT_THROW(FlakeScoreModel::from_json(other), Error);
  other = model.to_json();
  other["weights"].erase(0);
  EXPECT_THROW(FlakeScoreModel::from_json(other), Error);
  EXPECT_THROW(FlakeScoreModel::from_json(nlohmann::json::array()), Error);
  std::filesystem::remove(file);
}

TEST(FlakeScore, CandidatesMatchingAnAnnotationArePositives) {
  cv::Mat a = cv::Mat::zeros(50, 50, CV_8U), b = a.clone(), truth = a.clone();
  cv::rectangle(a, {5, 5}, {20, 20}, 255, cv::FILLED);
  cv::rectangle(b, {30, 30}, {45, 45}, 255, cv::FILLED);
  cv::rectangle(truth, {6, 6}, {20, 20}, 255, cv::FILLED);
  Flake fa, fb;
  fa.segmentation = coco::encode(a);
  fb.segmentation = coco::encode(b);
  fa.evidence = fb.evidence = std::vector<float>(evidence_names().size(), 0.0f);
  const auto examples = label_candidates({fa, fb}, {coco::encode(truth)});
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_TRUE(examples[0].positive);
  EXPECT_FALSE(examples[1].positive);
}
