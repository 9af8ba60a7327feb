// Region growing for annotation: a synthetic flake, the substrate, a guide map, and a real thin flake against
// its shared instance mask.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/image/io.hpp"
#include "maskterial/image/region.hpp"
#include "maskterial/util/error.hpp"
#include "shared_data.hpp"

using namespace maskterial;

namespace {

double iou(const cv::Mat& a, const cv::Mat& b) {
  const double both = cv::countNonZero(a & b), either = cv::countNonZero(a | b);
  return either > 0 ? both / either : 0;
}

// Substrate with sensor noise and a flake polygon 12% darker in G, 8% in B and R, with blurred edges.
struct Synthetic {
  cv::Mat image, flake;
};
Synthetic synthetic_flake() {
  Synthetic s;
  s.flake = cv::Mat::zeros(300, 400, CV_8U);
  const std::vector<cv::Point> outline{{120, 80}, {260, 60}, {300, 170}, {230, 240}, {140, 210}};
  cv::fillPoly(s.flake, std::vector<std::vector<cv::Point>>{outline}, 1);
  cv::Mat flake_f, ideal(s.flake.size(), CV_32FC3, cv::Scalar(150, 140, 130));
  s.flake.convertTo(flake_f, CV_32F);
  cv::GaussianBlur(flake_f, flake_f, cv::Size(), 1.0);
  std::vector<cv::Mat> channels;
  cv::split(ideal, channels);
  const double drop[3] = {0.08, 0.12, 0.08};
  for (int c = 0; c < 3; ++c) channels[c] = channels[c].mul(1 - drop[c] * flake_f);
  cv::merge(channels, ideal);
  cv::Mat noise(ideal.size(), CV_32FC3);
  cv::theRNG().state = 14;
  cv::randn(noise, 0, 3);
  const cv::Mat noisy = ideal + noise;
  noisy.convertTo(s.image, CV_8UC3);
  return s;
}

}  // namespace

TEST(Region, RecoversSyntheticFlake) {
  const Synthetic s = synthetic_flake();
  const Region region = grow_region(s.image, {200, 150});
  ASSERT_TRUE(region.found) << region.reason;
  EXPECT_GE(iou(region.mask, s.flake), 0.95);
  EXPECT_EQ(region.area, cv::countNonZero(region.mask));
  EXPECT_EQ(region.bbox, cv::boundingRect(region.mask));
  EXPECT_NEAR(region.mean_contrast[1], -0.12, 0.02);
  EXPECT_NEAR(region.background[1], 140, 2);
}

TEST(Region, ClickOnSubstrateIsNoFlake) {
  const Synthetic s = synthetic_flake();
  const Region region = grow_region(s.image, {20, 20});
  EXPECT_FALSE(region.found);
  EXPECT_EQ(region.reason.rfind("no flake here", 0), 0u) << region.reason;
  EXPECT_EQ(cv::countNonZero(region.mask), 0);
  EXPECT_EQ(region.area, 0);
}

TEST(Region, ProbabilityGuideHoldsGrowthBack) {
  const Synthetic s = synthetic_flake();
  cv::Mat guide(s.image.size(), CV_32F, cv::Scalar(1));
  guide(cv::Rect(0, 0, 200, 300)).setTo(0);  // the model sees no flake left of x = 200
  RegionOptions options;
  options.guide_floor = 0;
  const Region region = grow_region(s.image, {250, 150}, options, guide);
  ASSERT_TRUE(region.found) << region.reason;
  EXPECT_EQ(cv::countNonZero(region.mask(cv::Rect(0, 0, 199, 300))), 0);
  EXPECT_GT(region.area, 5000);
}

TEST(Region, RefusesBadInput) {
  const Synthetic s = synthetic_flake();
  EXPECT_THROW(grow_region(s.image, {400, 10}), Error);
  EXPECT_THROW(grow_region(s.image, {-1, 10}), Error);
  RegionOptions options;
  options.tolerance = 0;
  EXPECT_THROW(grow_region(s.image, {200, 150}, options), Error);
  EXPECT_THROW(grow_region(cv::Mat(), {0, 0}), Error);
  EXPECT_THROW(grow_region(s.image, {200, 150}, {}, cv::Mat(10, 10, CV_8U)), Error);
}

// A thin graphene flake of the shared demo set, clicked at its instance's deepest point.
TEST(Region, ThinSharedFlakeMatchesInstanceMask) {
  const std::string root = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/";
  const std::string name = "GrapheneH/17294f8a-1df7-427f-b8ed-ab54e1571960";
  const std::string mask_path = root + "instance_masks/" + name + ".png";
  REQUIRE_SHARED_DATA(std::filesystem::exists(mask_path), "shared data missing: " + mask_path);
  const cv::Mat instances = cv::imread(mask_path, cv::IMREAD_GRAYSCALE);
  const cv::Mat truth = (instances == 1) / 255;
  cv::Mat distance;
  cv::distanceTransform(truth, distance, cv::DIST_L2, 5);
  cv::Point deepest;
  cv::minMaxLoc(distance, nullptr, nullptr, nullptr, &deepest);
  const Region region = grow_region(load_image(root + "images/" + name + ".jpg"), deepest);
  ASSERT_TRUE(region.found) << region.reason;
  EXPECT_GE(iou(region.mask, truth), 0.8);
}

// Every shared instance mask, clicked at its deepest point: the median IoU, printed for the README. Many
// shared instances are parts of one contiguous flake of a single contrast, which no neck separates.
TEST(Region, SharedInstancesMedianIoU) {
  namespace fs = std::filesystem;
  const std::string root = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/";
  REQUIRE_SHARED_DATA(fs::exists(root + "instance_masks"), "shared data missing: " + root + "instance_masks");
  std::vector<double> ious;
  for (const auto& material : fs::directory_iterator(root + "instance_masks"))
    for (const auto& file : fs::directory_iterator(material.path())) {
      const cv::Mat instances = cv::imread(file.path().string(), cv::IMREAD_GRAYSCALE);
      const cv::Mat image = load_image(root + "images/" + material.path().filename().string() + "/" +
                                       file.path().stem().string() + ".jpg");
      double top = 0;
      cv::minMaxLoc(instances, nullptr, &top);
      for (int id = 1; id <= static_cast<int>(top); ++id) {
        const cv::Mat truth = (instances == id) / 255;
        if (cv::countNonZero(truth) == 0) continue;
        cv::Mat distance;
        cv::distanceTransform(truth, distance, cv::DIST_L2, 5);
        cv::Point deepest;
        cv::minMaxLoc(distance, nullptr, nullptr, nullptr, &deepest);
        const Region region = grow_region(image, deepest);
        ious.push_back(region.found ? iou(region.mask, truth) : 0.0);
      }
    }
  ASSERT_GE(ious.size(), 40u);
  std::sort(ious.begin(), ious.end());
  const double median = ious[ious.size() / 2];
  const double at_least_08 = static_cast<double>(std::count_if(ious.begin(), ious.end(), [](double v) { return v >= 0.8; })) / ious.size();
  std::printf("region growing on %zu shared instances: median IoU %.3f, %.0f%% with IoU >= 0.8\n", ious.size(), median,
              100 * at_least_08);
  EXPECT_GE(median, 0.6);
}
