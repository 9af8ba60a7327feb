#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>

#include "coco_test_builders.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/eval.hpp"
#include "maskterial/coco/rle.hpp"

namespace fs = std::filesystem;
using namespace maskterial::coco;
using namespace maskterial::coco::test_builders;

namespace {

const char* const kStatNames[12] = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

Rle rect(int x, int y, int w, int h, int width = 40, int height = 30) {
  cv::Mat mask = cv::Mat::zeros(height, width, CV_8U);
  mask(cv::Rect(x, y, w, h)).setTo(1);
  return encode(mask);
}

Dataset one_image(int width = 40, int height = 30) {
  Dataset gt;
  gt.images.push_back({1, "a.png", width, height});
  gt.categories.push_back({1, "flake", ""});
  return gt;
}


// Parsed here rather than with read_results, which rejects detections on categories the ground truth lacks;
// COCOeval (and evaluate) ignore those, and the "categories" fixture has some.
std::vector<Annotation> read_detections(const fs::path& path, const Dataset& gt) {
  nlohmann::json json;
  std::ifstream(path) >> json;
  std::vector<Annotation> out;
  for (const nlohmann::json& entry : json) {
    Annotation a;
    a.image_id = entry["image_id"].get<int64_t>();
    a.category_id = entry["category_id"].get<int64_t>();
    a.score = entry["score"].get<double>();
    const ImageInfo* image = gt.find_image(a.image_id);
    a.segmentation = segmentation_from_json(entry["segmentation"], image->height, image->width);
    out.push_back(a);
  }
  return out;
}

std::vector<std::string> fixture_cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fs::path(MASKTERIAL_TEST_DATA) / "coco_eval"))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST(CocoEval, DefaultParamsMatchCocoevalBitForBit) {
  const EvalParams p;
  ASSERT_EQ(p.iou_thresholds.size(), 10u);
  ASSERT_EQ(p.recall_thresholds.size(), 101u);
  EXPECT_EQ(p.iou_thresholds[0], 0.5);
  EXPECT_EQ(p.iou_thresholds[5], 0.75);  // summarize() finds AP75 by exact comparison
  EXPECT_EQ(p.iou_thresholds[9], 0.95);
  EXPECT_EQ(p.recall_thresholds[35], 35 * 0.01);  // numpy: i * step + start, which differs from 35 / 100
  EXPECT_NE(p.recall_thresholds[35], 35 / 100.0);
  EXPECT_EQ(p.recall_thresholds[100], 1.0);
  ASSERT_EQ(p.area_ranges.size(), 4u);
  EXPECT_EQ(p.area_ranges[2].first, "medium");
  EXPECT_EQ(p.area_ranges[3].second[0], 96.0 * 96.0);
}

TEST(CocoEval, PerfectDetectionScoresOne) {
  Dataset gt = one_image();
  add_gt(gt, 1, rect(2, 2, 10, 10));
  const EvalResult r = evaluate(gt, {det(1, rect(2, 2, 10, 10), 0.9)});
  EXPECT_NEAR(r.stats[0], 1.0, 1e-12);
  EXPECT_NEAR(r.stats[3], 1.0, 1e-12);  // area 100: small
  EXPECT_DOUBLE_EQ(r.stats[4], -1.0);   // no medium gt
  EXPECT_DOUBLE_EQ(r.stats[5], -1.0);
  EXPECT_NEAR(r.stats[6], 1.0, 1e-12);
  EXPECT_NEAR(r.per_category_ap.at(1), 1.0, 1e-12);
}

TEST(CocoEval, NoDetectionsGiveZeroAndNoGroundTruthGivesMinusOne) {
  Dataset gt = one_image();
  add_gt(gt, 1, rect(2, 2, 10, 10));
  EXPECT_DOUBLE_EQ(evaluate(gt, {}).stats[0], 0.0);
  EXPECT_DOUBLE_EQ(evaluate(gt, {}).stats[8], 0.0);
  const Dataset empty = one_image();
  const EvalResult r = evaluate(empty, {det(1, rect(2, 2, 10, 10), 0.9)});
  for (double s : r.stats) EXPECT_DOUBLE_EQ(s, -1.0);
  EXPECT_DOUBLE_EQ(r.per_category_ap.at(1), -1.0);
}

TEST(CocoEval, IouBetweenThresholdsCountsOnlyBelowIt) {
  // IoU = 80 / 100 = 0.8: a match at thresholds 0.50..0.80 (7 of 10).
  Dataset gt = one_image();
  add_gt(gt, 1, rect(0, 0, 10, 10));
  const EvalResult r = evaluate(gt, {det(1, rect(0, 0, 10, 8), 0.5)});
  EXPECT_NEAR(r.stats[0], 0.7, 1e-12);
  EXPECT_NEAR(r.stats[1], 1.0, 1e-12);
  EXPECT_NEAR(r.stats[2], 1.0, 1e-12);
  EXPECT_NEAR(r.stats[8], 0.7, 1e-12);
}

TEST(CocoEval, HigherScoreTakesTheGtAndDuplicatesAreFalsePositives) {
  // The low-score exact copy comes second and finds the gt taken: precision 1 at recall 1 still (envelope).
  Dataset gt = one_image();
  add_gt(gt, 1, rect(0, 0, 10, 10));
  const EvalResult first = evaluate(gt, {det(1, rect(0, 0, 10, 10), 0.9), det(1, rect(0, 0, 10, 10), 0.1)});
  EXPECT_NEAR(first.stats[0], 1.0, 1e-12);
  // A false positive ranked first halves the precision at every recall.
  const EvalResult second = evaluate(gt, {det(1, rect(20, 20, 5, 5), 0.9), det(1, rect(0, 0, 10, 10), 0.1)});
  EXPECT_NEAR(second.stats[0], 0.5, 1e-12);
}

TEST(CocoEval, CrowdRegionsAbsorbDetections) {
  // Detections inside a crowd region are ignored (IoU over the detection's area), not false positives.
  Dataset gt = one_image();
  add_gt(gt, 1, rect(0, 0, 10, 10));
  add_gt(gt, 1, rect(15, 0, 20, 20), 1);
  const EvalResult r =
      evaluate(gt, {det(1, rect(16, 1, 4, 4), 0.95), det(1, rect(25, 5, 3, 3), 0.9), det(1, rect(0, 0, 10, 10), 0.5)});
  EXPECT_NEAR(r.stats[0], 1.0, 1e-12);
}

TEST(CocoEval, DetectionsOnUnknownCategoriesAreIgnored) {
  Dataset gt = one_image();
  add_gt(gt, 1, rect(0, 0, 10, 10));
  const EvalResult r = evaluate(gt, {det(7, rect(20, 20, 5, 5), 0.9), det(1, rect(0, 0, 10, 10), 0.1)});
  EXPECT_NEAR(r.stats[0], 1.0, 1e-12);
  EXPECT_EQ(r.per_category_ap.size(), 1u);
}

TEST(CocoEval, WithoutCategoriesClassesDoNotMatter) {
  Dataset gt = one_image();
  gt.categories.push_back({2, "other", ""});
  add_gt(gt, 1, rect(0, 0, 10, 10));
  EvalParams p;
  p.use_categories = false;
  const EvalResult r = evaluate(gt, {det(2, rect(0, 0, 10, 10), 0.9)}, p);
  EXPECT_NEAR(r.stats[0], 1.0, 1e-12);
  ASSERT_EQ(r.per_category_ap.size(), 1u);
  EXPECT_NEAR(r.per_category_ap.at(-1), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(evaluate(gt, {det(2, rect(0, 0, 10, 10), 0.9)}).stats[0], 0.0);
}

TEST(CocoEval, JsonHasAllStatsAndCategoryKeys) {
  Dataset gt = one_image();
  add_gt(gt, 1, rect(2, 2, 10, 10));
  const nlohmann::json j = evaluate(gt, {det(1, rect(2, 2, 10, 10), 0.9)}).to_json();
  for (const char* name : kStatNames) EXPECT_TRUE(j["stats"].contains(name)) << name;
  EXPECT_NEAR(j["per_category_AP"]["1"].get<double>(), 1.0, 1e-12);
}

// Golden numbers from the official pycocotools COCOeval (scripts/make_eval_fixtures.py).
class CocoEvalGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CocoEvalGolden, MatchesPycocotools) {
  const fs::path dir = fs::path(MASKTERIAL_TEST_DATA) / "coco_eval" / GetParam();
  const Dataset gt = read_dataset((dir / "gt.json").string());
  const std::vector<Annotation> dt = read_detections(dir / "dt.json", gt);
  nlohmann::json expected;
  std::ifstream(dir / "expected.json") >> expected;

  EvalParams params;
  params.use_categories = expected["use_categories"].get<bool>();
  const nlohmann::json got = evaluate(gt, dt, params).to_json();
  for (const char* name : kStatNames)
    EXPECT_NEAR(got["stats"][name].get<double>(), expected["stats"][name].get<double>(), 1e-6) << name;
  ASSERT_EQ(got["per_category_AP"].size(), expected["per_category_AP"].size());
  for (const auto& [id, ap] : expected["per_category_AP"].items())
    EXPECT_NEAR(got["per_category_AP"][id].get<double>(), ap.get<double>(), 1e-6) << "category " << id;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CocoEvalGolden, ::testing::ValuesIn(fixture_cases()),
                         [](const auto& info) { return info.param; });
