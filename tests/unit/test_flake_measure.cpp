#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <opencv2/imgproc.hpp>

#include "maskterial/image/io.hpp"
#include "maskterial/pipeline/flake_measure.hpp"
#include "maskterial/util/files.hpp"
#include "shared_data.hpp"

using namespace maskterial;

TEST(FlakeMeasure, DiskKernelIsSkimageDisk) {
  const cv::Mat k = disk_kernel(2);
  EXPECT_EQ(cv::countNonZero(k), 13);
  EXPECT_EQ(k.at<uint8_t>(0, 2), 1);
  EXPECT_EQ(k.at<uint8_t>(1, 1), 1);
  EXPECT_EQ(k.at<uint8_t>(0, 1), 0);
}

TEST(FlakeMeasure, FalsePositiveProbabilityFollowsLogisticModel) {
  // A 40x40 square contour: arclength 160 (4 * 40 px steps), area 1600, solidity 1.
  std::vector<cv::Point> square;
  for (int i = 0; i < 40; ++i) square.emplace_back(i, 0);
  for (int i = 0; i < 40; ++i) square.emplace_back(40, i);
  for (int i = 40; i > 0; --i) square.emplace_back(i, 40);
  for (int i = 40; i > 0; --i) square.emplace_back(0, i);
  const double arcarea = 160.0 / 40.0;
  const double expected = 1.0 - 1.0 / (1.0 + std::exp(-(2.96034 - 0.60233 * arcarea + 3.40766)));
  EXPECT_NEAR(false_positive_probability(square), expected, 1e-12);
  EXPECT_DOUBLE_EQ(false_positive_probability({{0, 0}, {5, 0}}), 1.0);  // no area
}

TEST(FlakeMeasure, EntropyMatchesScikitImage) {
  const std::string shared = MASKTERIAL_SHARED_DATA;
  const auto fixture = read_json(std::string(MASKTERIAL_TEST_DATA) + "/image_fixtures.json")["entropy"];
  const std::string path = shared + "/" + fixture["image"].get<std::string>();
  REQUIRE_SHARED_DATA(std::filesystem::exists(path), "shared data not found");
  cv::Mat image = load_image(path), blurred;
  cv::medianBlur(image, blurred, 5);
  const auto c = fixture["crop_xywh"];
  const cv::Rect crop(c[0], c[1], c[2], c[3]);
  const auto e = fixture["ellipse"];
  cv::Mat mask = cv::Mat::zeros(crop.size(), CV_8U);
  cv::ellipse(mask, cv::Point(e[0], e[1]), cv::Size(e[2], e[3]), e[4].get<double>(), 0, 360, 255, -1);
  const auto h = fixture["hole_xywh"];
  mask(cv::Rect(h[0], h[1], h[2], h[3])) = 0;
  // A contour whose bounding box grown by 20 px is exactly the crop.
  const std::vector<cv::Point> contour{{crop.x + 20, crop.y + 20},
                                       {crop.x + crop.width - 21, crop.y + crop.height - 21}};
  EXPECT_NEAR(mean_entropy(blurred, mask, crop, contour), fixture["mean_entropy"].get<double>(), 1e-9);
}

TEST(FlakeMeasure, MeasuresARectangularFlake) {
  cv::Mat image(100, 120, CV_8UC3, cv::Scalar(100, 100, 100));
  image(cv::Rect(30, 20, 40, 10)).setTo(cv::Scalar(90, 80, 110));
  cv::Mat mask = cv::Mat::zeros(image.size(), CV_8U);
  mask(cv::Rect(30, 20, 40, 10)) = 255;
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  const Bgr bg{100, 100, 100};
  const Flake f = measure_flake({image, bg}, mask, cv::Rect(0, 0, 120, 100), contours[0]);
  EXPECT_EQ(f.area, 400);
  EXPECT_EQ(f.bbox, (std::array<double, 4>{30, 20, 40, 10}));
  EXPECT_NEAR(f.mean_contrast_bgr[0], -0.1, 1e-9);
  EXPECT_NEAR(f.mean_contrast_bgr[1], -0.2, 1e-9);
  EXPECT_NEAR(f.mean_contrast_bgr[2], 0.1, 1e-9);
  EXPECT_NEAR(f.max_side, 39, 1e-6);  // contour through pixel centres
  EXPECT_NEAR(f.min_side, 9, 1e-6);
  EXPECT_EQ(f.center[0], 49);
  EXPECT_DOUBLE_EQ(f.entropy, 0.0);  // uniform inside
  EXPECT_EQ(coco::area(f.segmentation), 400u);
}

TEST(FlakeMeasure, EncodeRoiEqualsFullImageEncode) {
  cv::RNG rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const cv::Size size(rng.uniform(1, 30), rng.uniform(1, 30));
    const int x = rng.uniform(0, size.width), y = rng.uniform(0, size.height);
    const cv::Rect roi(x, y, rng.uniform(1, size.width - x + 1), rng.uniform(1, size.height - y + 1));
    cv::Mat mask(roi.size(), CV_8U);
    rng.fill(mask, cv::RNG::UNIFORM, 0, 2);
    if (trial % 3 == 0) mask.setTo(1);  // runs that touch the region's borders
    cv::Mat full = cv::Mat::zeros(size, CV_8U);
    mask.copyTo(full(roi));
    ASSERT_EQ(encode_roi(mask, roi, size), coco::encode(full)) << "trial " << trial;
  }
}

TEST(FlakeMeasure, ClippedShareCountsOnlyChannelsTheSubstrateLeavesBelowTheClip) {
  cv::Mat image(40, 40, CV_8UC3, cv::Scalar(100, 100, 100));
  image(cv::Rect(0, 0, 20, 10)).setTo(cv::Scalar(90, 255, 110));  // half the flake clipped in green
  const cv::Mat mask(20, 20, CV_8U, cv::Scalar(255));
  const cv::Rect roi(0, 0, 20, 20);
  EXPECT_DOUBLE_EQ(clipped_share({image, Bgr{100, 100, 100}}, mask, roi), 0.5);
  // A substrate already at the clip in green: the flake's green 255 says nothing about it.
  EXPECT_DOUBLE_EQ(clipped_share({image, Bgr{100, 252, 100}}, mask, roi), 0.0);
}
