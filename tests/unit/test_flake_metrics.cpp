#include <gtest/gtest.h>

#include "coco_test_builders.hpp"
#include "maskterial/coco/flake_metrics.hpp"
#include "maskterial/coco/rle.hpp"

using namespace maskterial::coco;
using namespace maskterial::coco::test_builders;

namespace {

Rle rect(int x, int y, int w, int h, int size = 60) {
  cv::Mat mask = cv::Mat::zeros(size, size, CV_8U);
  mask(cv::Rect(x, y, w, h)).setTo(1);
  return encode(mask);
}

Dataset two_classes() {
  Dataset gt;
  gt.images.push_back({1, "a.png", 60, 60});
  gt.categories = {{1, "mono", ""}, {2, "bi", ""}};
  return gt;
}


// gt: A (mono, 10x10), B (bi, 5x5), C (mono, 4x4).
// d1 = A as mono (TP), d2 = B but called mono, d3 = nothing as bi, d4 = a second copy of A as mono.
struct Scene {
  Dataset gt = two_classes();
  std::vector<Annotation> dt;
  Scene() {
    add_gt(gt, 1, rect(0, 0, 10, 10));
    add_gt(gt, 2, rect(12, 12, 5, 5));
    add_gt(gt, 1, rect(0, 14, 4, 4));
    dt = {det(1, rect(0, 0, 10, 10), 0.9), det(1, rect(12, 12, 5, 5), 0.8), det(2, rect(30, 0, 4, 4), 0.7),
          det(1, rect(0, 0, 10, 10), 0.6)};
  }
};

}  // namespace

TEST(FlakeMetrics, PerClassPrecisionRecallF1) {
  const Scene s;
  const FlakeMetrics m = compute_flake_metrics(s.gt, s.dt);
  ASSERT_EQ(m.per_class.size(), 2u);
  // mono: TP d1; FP d2 (wrong class for B) and d4 (A already taken); FN C.
  const ClassMetrics& mono = m.per_class[0];
  EXPECT_EQ(mono.category_id, 1);
  EXPECT_EQ(mono.name, "mono");
  EXPECT_EQ(mono.tp, 1);
  EXPECT_EQ(mono.fp, 2);
  EXPECT_EQ(mono.fn, 1);
  EXPECT_DOUBLE_EQ(mono.precision, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(mono.recall, 0.5);
  EXPECT_DOUBLE_EQ(mono.f1, 0.4);  // 2 * (1/3 * 1/2) / (1/3 + 1/2)
  // bi: FP d3, FN B.
  const ClassMetrics& bi = m.per_class[1];
  EXPECT_EQ(bi.tp, 0);
  EXPECT_EQ(bi.fp, 1);
  EXPECT_EQ(bi.fn, 1);
  EXPECT_DOUBLE_EQ(bi.precision, 0.0);
  EXPECT_DOUBLE_EQ(bi.f1, 0.0);
}

TEST(FlakeMetrics, ConfusionMatrixMatchesAcrossClasses) {
  const Scene s;
  const ConfusionMatrix cm = compute_flake_metrics(s.gt, s.dt).confusion;
  ASSERT_EQ(cm.category_ids, (std::vector<int64_t>{1, 2}));
  // rows: mono, bi, false positive; columns: mono, bi, missed.
  const std::vector<std::vector<int64_t>> expected{{1, 0, 1},   // A -> mono, C missed
                                                   {1, 0, 0},   // B detected as mono
                                                   {1, 1, 0}};  // d4 (duplicate mono), d3 (bi)
  EXPECT_EQ(cm.counts, expected);
}

TEST(FlakeMetrics, HigherScoreMatchesFirstEvenWithLowerIou) {
  Dataset gt = two_classes();
  add_gt(gt, 1, rect(0, 0, 10, 10));
  // IoU 60 / 100 at score 0.9 takes the gt; the exact copy at 0.5 is then a false positive.
  const FlakeMetrics m = compute_flake_metrics(gt, {det(1, rect(0, 0, 10, 10), 0.5), det(1, rect(0, 0, 10, 6), 0.9)});
  EXPECT_EQ(m.per_class[0].tp, 1);
  EXPECT_EQ(m.per_class[0].fp, 1);
  EXPECT_EQ(m.per_class[0].fn, 0);
}

TEST(FlakeMetrics, CrowdRegionsAreNeitherMissedNorFalsePositives) {
  Dataset gt = two_classes();
  add_gt(gt, 1, rect(0, 0, 30, 30), 1);
  add_gt(gt, 1, rect(40, 40, 10, 10));
  const FlakeMetrics m = compute_flake_metrics(
      gt, {det(1, rect(2, 2, 5, 5), 0.9), det(1, rect(40, 40, 10, 10), 0.8), det(1, rect(40, 0, 5, 5), 0.7)});
  EXPECT_EQ(m.per_class[0].tp, 1);
  EXPECT_EQ(m.per_class[0].fp, 1);  // only the detection outside everything
  EXPECT_EQ(m.per_class[0].fn, 0);
  EXPECT_EQ(m.confusion.counts[2][0], 1);
  EXPECT_EQ(m.confusion.counts[0][2], 0);
}

TEST(FlakeMetrics, AreaBinsInSquareMicrons) {
  // With 1 µm/px the bins are pixel areas: 50, 150, 300 and 500 px, one per bin; the 300 px flake is missed.
  Dataset gt = two_classes();
  add_gt(gt, 1, rect(0, 0, 5, 10));
  add_gt(gt, 1, rect(10, 0, 10, 15));
  add_gt(gt, 1, rect(25, 0, 15, 20));
  add_gt(gt, 1, rect(0, 30, 20, 25));
  const std::vector<Annotation> dt{det(1, rect(0, 0, 5, 10), 0.9), det(1, rect(10, 0, 10, 15), 0.8),
                                   det(1, rect(0, 30, 20, 25), 0.7)};
  FlakeMetricsParams params;
  params.pixel_size_um = 1.0;
  const FlakeMetrics m = compute_flake_metrics(gt, dt, params);
  ASSERT_EQ(m.area_bins.size(), 4u);
  const double expected[4] = {1, 1, 0, 1};
  for (size_t b = 0; b < 4; ++b) {
    EXPECT_NEAR(m.area_bins[b].ap, expected[b], 1e-12) << m.area_bins[b].name;
    EXPECT_NEAR(m.area_bins[b].ar, expected[b], 1e-12) << m.area_bins[b].name;
  }
  // At the default 0.3844 µm/px all four (<= 500 px, i.e. <= 74 µm²) fall in the first bin.
  const FlakeMetrics d = compute_flake_metrics(gt, dt);
  EXPECT_NEAR(d.area_bins[0].ar, 0.75, 1e-12);
  EXPECT_DOUBLE_EQ(d.area_bins[1].ap, -1.0);
  EXPECT_DOUBLE_EQ(d.area_bins[3].ar, -1.0);
}

TEST(FlakeMetrics, CocoNumbersAreTheStandardEvaluation) {
  const Scene s;
  const FlakeMetrics m = compute_flake_metrics(s.gt, s.dt);
  EXPECT_EQ(m.coco.to_json(), evaluate(s.gt, s.dt).to_json());
}

TEST(FlakeMetrics, JsonReport) {
  const Scene s;
  const nlohmann::json j = flake_metrics_json(s.gt, s.dt);
  EXPECT_DOUBLE_EQ(j["pixel_size_um"].get<double>(), 0.3844);
  EXPECT_EQ(j["area_bins_um2"].size(), 4u);
  EXPECT_EQ(j["area_bins_um2"][3]["name"], "400+");
  EXPECT_EQ(j["per_class"][0]["name"], "mono");
  EXPECT_EQ(j["per_class"][0]["tp"], 1);
  EXPECT_EQ(j["confusion_matrix"]["rows"].back(), "false positive");
  EXPECT_EQ(j["confusion_matrix"]["columns"].back(), "missed");
  EXPECT_EQ(j["confusion_matrix"]["counts"][1][0], 1);
  // top 5 of the one image: d1 (A) true; d2 (B, matched class-agnostically) true; d3 junk; d4 duplicate: 2/4.
  EXPECT_EQ(j["precision_at_k"]["k"], 5);
  EXPECT_DOUBLE_EQ(j["precision_at_k"]["precision"].get<double>(), 0.5);
  EXPECT_EQ(j["precision_at_k"]["images"], 1);
  EXPECT_TRUE(j["coco"]["stats"].contains("AP"));
}

namespace {

Annotation det_on(int64_t image_id, const Rle& mask, double score) {
  Annotation a = det(1, mask, score);
  a.image_id = image_id;
  return a;
}

}  // namespace

TEST(FlakeMetrics, PrecisionAtKReviewsTheBestScoredDetectionsOfEachImage) {
  Dataset gt = two_classes();
  for (int64_t id : {2, 3, 4, 5}) gt.images.push_back({id, "img" + std::to_string(id) + ".png", 60, 60});
  add_gt(gt, 1, rect(0, 0, 10, 10));
  add_gt(gt, 1, rect(20, 0, 10, 10));
  add_gt(gt, 1, rect(40, 0, 10, 10));
  Annotation on_two = gt.annotations[0], on_three = gt.annotations[0];
  on_two.id = 4, on_two.image_id = 2;
  on_three.id = 5, on_three.image_id = 3;
  gt.annotations.push_back(on_two);
  gt.annotations.push_back(on_three);
  std::vector<Annotation> dt;
  // Image 1: the top 5 hold two flakes (0.9 and 0.5); the third flake ranks 6th and is not reviewed: 2/5.
  for (double s : {0.8, 0.7, 0.6}) dt.push_back(det_on(1, rect(0, 30 + static_cast<int>(s * 10), 5, 5), s));
  dt.push_back(det_on(1, rect(0, 0, 10, 10), 0.9));
  dt.push_back(det_on(1, rect(20, 0, 10, 10), 0.5));
  dt.push_back(det_on(1, rect(40, 0, 10, 10), 0.1));
  dt.push_back(det_on(2, rect(0, 0, 10, 10), 0.3));  // image 2: its one detection is its flake: 1/1
  // Image 3 holds a flake and has no detection: 0. Image 4 holds nothing and has nothing: left out.
  dt.push_back(det_on(5, rect(0, 0, 10, 10), 0.9));  // image 5 holds no flake: 0/1
  const TopKPrecision p = compute_flake_metrics(gt, dt).top_k;
  EXPECT_EQ(p.k, 5);
  EXPECT_EQ(p.images, 4);
  EXPECT_DOUBLE_EQ(p.precision, (0.4 + 1.0 + 0.0 + 0.0) / 4);

  FlakeMetricsParams top_one;
  top_one.top_k = 1;
  EXPECT_DOUBLE_EQ(compute_flake_metrics(gt, dt, top_one).top_k.precision, (1.0 + 1.0 + 0.0 + 0.0) / 4);
}

TEST(FlakeMetrics, PrecisionAtKLeavesDetectionsOnCrowdRegionsOutOfTheRanking) {
  Dataset gt = two_classes();
  add_gt(gt, 1, rect(0, 0, 10, 10));
  add_gt(gt, 1, rect(30, 30, 20, 20), 1);
  // The best-scored detection lies inside the crowd region: the ranking is the flake (TP) then junk: 1/2.
  const std::vector<Annotation> dt{det(1, rect(32, 32, 8, 8), 0.9), det(1, rect(0, 0, 10, 10), 0.8),
                                   det(1, rect(12, 0, 5, 5), 0.7)};
  const TopKPrecision p = compute_flake_metrics(gt, dt).top_k;
  EXPECT_EQ(p.images, 1);
  EXPECT_DOUBLE_EQ(p.precision, 0.5);
}

TEST(FlakeMetrics, ReliabilityBinsTheScoresAndCountsTheTrueFlakes) {
  // Class-agnostic: d1 (0.9) and d2 (0.8, wrong class but on B) match, d3 (0.7) and d4 (0.6, A taken) do not.
  const Scene s;
  const FlakeMetrics m = compute_flake_metrics(s.gt, s.dt);
  ASSERT_EQ(m.reliability.size(), 10u);
  EXPECT_DOUBLE_EQ(m.reliability[9].low, 0.9);
  EXPECT_EQ(m.reliability[9].detections, 1);
  EXPECT_DOUBLE_EQ(m.reliability[9].true_share, 1.0);
  EXPECT_EQ(m.reliability[8].detections, 1);
  EXPECT_DOUBLE_EQ(m.reliability[8].true_share, 1.0);
  EXPECT_EQ(m.reliability[7].detections, 1);
  EXPECT_DOUBLE_EQ(m.reliability[7].true_share, 0.0);
  EXPECT_EQ(m.reliability[6].detections, 1);
  EXPECT_DOUBLE_EQ(m.reliability[6].mean_score, 0.6);
  EXPECT_EQ(m.reliability[0].detections, 0);
  EXPECT_EQ(m.to_json()["reliability"].size(), 10u);
}
