// Pixel-exact flake edges of the dense model's masks from the image's contrast (edge_refinement.hpp).
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "maskterial/segment/dense/edge_refinement.hpp"

using namespace maskterial;
using namespace maskterial::segment;

namespace {

const Bgr kSubstrate{120, 150, 90};

double iou(const cv::Mat& a, const cv::Mat& b) {
  const double inter = cv::countNonZero(a & b), uni = cv::countNonZero(a | b);
  return uni > 0 ? inter / uni : 0;
}

// A thin sliver (6 px wide, 4 % darker) on a noisy substrate, and its true mask.
std::pair<cv::Mat, cv::Mat> sliver() {
  cv::Mat image(160, 200, CV_8UC3, cv::Scalar(kSubstrate[0], kSubstrate[1], kSubstrate[2]));
  cv::Mat truth = cv::Mat::zeros(image.size(), CV_8U);
  const std::vector<cv::Point> outline{{40, 60}, {160, 90}, {158, 97}, {38, 67}};
  cv::fillConvexPoly(truth, outline, 255);
  image.setTo(cv::Scalar(kSubstrate[0] * 0.96, kSubstrate[1] * 0.95, kSubstrate[2] * 0.96), truth);
  cv::Mat noise(image.size(), CV_16SC3);
  cv::RNG(7).fill(noise, cv::RNG::NORMAL, 0, 1.0);
  cv::add(image, noise, image, cv::noArray(), CV_8U);
  return {image, truth};
}

// What the network's grid gives: the mask on a 4 px grid, off by a cell.
cv::Mat coarse(const cv::Mat& truth) {
  cv::Mat small, back;
  cv::resize(truth, small, {truth.cols / 4, truth.rows / 4}, 0, 0, cv::INTER_AREA);
  cv::resize(small > 100, back, truth.size(), 0, 0, cv::INTER_NEAREST);
  cv::Mat shifted = cv::Mat::zeros(back.size(), CV_8U);
  back(cv::Rect(0, 0, back.cols - 3, back.rows)).copyTo(shifted(cv::Rect(3, 0, back.cols - 3, back.rows)));
  return shifted;
}

}  // namespace

TEST(EdgeRefinement, SnapsACoarseMaskToTheFlakesEdge) {
  const auto [image, truth] = sliver();
  const cv::Mat rough = coarse(truth);
  DenseOptions options;
  ASSERT_LT(iou(rough, truth), 0.8);
  const cv::Mat refined = refine_edges(image, kSubstrate, rough, cv::Mat(), options);
  EXPECT_GT(iou(refined, truth), 0.9);
}

TEST(EdgeRefinement, KeepsTheMaskWithoutContrastOrBand) {
  const auto [image, truth] = sliver();
  const cv::Mat bare(image.size(), CV_8UC3, cv::Scalar(kSubstrate[0], kSubstrate[1], kSubstrate[2]));
  const cv::Mat rough = coarse(truth);
  DenseOptions options;
  EXPECT_EQ(cv::countNonZero(refine_edges(bare, kSubstrate, rough, cv::Mat(), options) != rough), 0);
  options.edge_band_px = 0;
  EXPECT_EQ(cv::countNonZero(refine_edges(image, kSubstrate, rough, cv::Mat(), options) != rough), 0);
  EXPECT_EQ(cv::countNonZero(refine_edges(image, kSubstrate, cv::Mat::zeros(truth.size(), CV_8U), cv::Mat(), DenseOptions())), 0);
}

TEST(EdgeRefinement, NeverTakesAnotherInstancesPixels) {
  const auto [image, truth] = sliver();
  cv::Mat others = cv::Mat::zeros(truth.size(), CV_8U);
  others(cv::Rect(100, 0, 100, 160)).setTo(255);  // the sliver's right half belongs to another instance
  const cv::Mat refined = refine_edges(image, kSubstrate, coarse(truth) & ~others, others, DenseOptions());
  EXPECT_EQ(cv::countNonZero(refined & others), 0);
  EXPECT_GT(iou(refined, truth & ~others), 0.85);
}
