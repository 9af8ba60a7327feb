// Terraces: a region whose contrast falls into distinct steps is split into them; a uniform, noisy or gently
// graded region, and steps smaller than min_step, stay whole.
#include <random>

#include <gtest/gtest.h>

#include "maskterial/pipeline/detector.hpp"
#include "maskterial/classify/gmm.hpp"
#include "maskterial/pipeline/terraces.hpp"

using namespace maskterial;

namespace {

const Bgr kBackground{150, 110, 130};
const cv::Rect kBox(20, 30, 120, 60);

// The substrate with the region's contrast given per column (the same on every channel), plus JPEG-like noise.
cv::Mat image_with(const std::function<double(int)>& contrast_at_column, double noise_sigma = 1.5) {
  cv::Mat image(140, 180, CV_8UC3, cv::Scalar(kBackground[0], kBackground[1], kBackground[2]));
  for (int y = kBox.y; y < kBox.br().y; ++y)
    for (int x = kBox.x; x < kBox.br().x; ++x) {
      const double c = contrast_at_column(x - kBox.x);
      for (int ch = 0; ch < 3; ++ch) image.at<cv::Vec3b>(y, x)[ch] = cv::saturate_cast<uint8_t>(kBackground[ch] * (1 + c));
    }
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, noise_sigma);
  for (auto it = image.begin<cv::Vec3b>(); it != image.end<cv::Vec3b>(); ++it)
    for (int ch = 0; ch < 3; ++ch) (*it)[ch] = cv::saturate_cast<uint8_t>((*it)[ch] + noise(rng));
  return image;
}

std::vector<Component> terraces_of(const cv::Mat& image, const ChannelMask& usable = kAllChannels) {
  const cv::Mat region(kBox.size(), CV_8U, cv::Scalar(255));
  return split_into_terraces(region, kBox, image, kBackground, usable, TerraceOptions{});
}

}  // namespace

TEST(Terraces, TwoStepsOfOneFlakeBecomeTwoTerraces) {
  // Left 70 columns a monolayer-like -0.08, right 50 a bilayer-like -0.16.
  const auto terraces = terraces_of(image_with([](int x) { return x < 70 ? -0.08 : -0.16; }));
  ASSERT_EQ(terraces.size(), 2u);
  for (const Component& t : terraces) {
    const bool left = t.box.x < kBox.x + 35;
    EXPECT_NEAR(t.box.width, left ? 70 : 50, 6) << t.box;
    EXPECT_NEAR(t.area, (left ? 70 : 50) * kBox.height, 0.12 * (left ? 70 : 50) * kBox.height);
  }
}

TEST(Terraces, ThreeStepsAreThreeTerraces) {
  const auto terraces = terraces_of(image_with([](int x) { return x < 40 ? -0.06 : x < 80 ? -0.14 : -0.24; }));
  EXPECT_EQ(terraces.size(), 3u);
}

TEST(Terraces, UniformGradedOrBarelySteppedRegionsStayWhole) {
  EXPECT_EQ(terraces_of(image_with([](int) { return -0.1; }, 4.0)).size(), 0u) << "noise";
  EXPECT_EQ(terraces_of(image_with([](int x) { return -0.08 - 0.0006 * x; })).size(), 0u) << "a gentle ramp";
  EXPECT_EQ(terraces_of(image_with([](int x) { return x < 60 ? -0.10 : -0.12; })).size(), 0u) << "under min_step";
}

TEST(Terraces, AGradedTerraceCutByKMeansIsGroupedBack) {
  // A wide wedge (-0.05 to -0.45) beside a small step of +0.10: two clusters cut the wedge rather than isolate
  // the step, three cut the wedge in two halves with no gap between them; those halves are one terrace.
  const auto terraces = terraces_of(image_with([](int x) { return x < 100 ? -0.05 - 0.004 * x : 0.10; }));
  ASSERT_EQ(terraces.size(), 2u);
  for (const Component& t : terraces) EXPECT_NEAR(t.box.width, t.box.x < kBox.x + 50 ? 100 : 20, 6) << t.box;
}

TEST(Terraces, OnlyUsableChannelsCount) {
  // The step lies only in blue; with blue saturated (unusable) the region is one contrast.
  cv::Mat image = image_with([](int) { return -0.1; });
  image(cv::Rect(kBox.x, kBox.y, 60, kBox.height)).forEach<cv::Vec3b>([](cv::Vec3b& p, const int*) { p[0] = 75; });
  EXPECT_EQ(terraces_of(image).size(), 2u);
  EXPECT_TRUE(terraces_of(image, ChannelMask{false, true, true}).empty());
}

TEST(Terraces, ASmallRegionIsNotSplit) {
  const cv::Mat image = image_with([](int x) { return x < 70 ? -0.08 : -0.16; });
  const cv::Mat region(kBox.size(), CV_8U, cv::Scalar(255));
  TerraceOptions options;
  options.min_pixels = kBox.area();  // no two terraces can hold this many
  EXPECT_TRUE(split_into_terraces(region, kBox, image, kBackground, kAllChannels, options).empty());
}

namespace {

class OneMask : public segment::InstanceSegmenter {
 public:
  std::vector<segment::InstanceMask> predict(const cv::Mat& image) const override {
    segment::InstanceMask m{cv::Mat::zeros(image.size(), CV_8U), 0.9f, 0};
    m.mask(kBox).setTo(255);
    return {m};
  }
};

class NoMasks : public segment::InstanceSegmenter {
 public:
  std::vector<segment::InstanceMask> predict(const cv::Mat&) const override { return {}; }
};

ClassifierPtr one_broad_class(double variance = 4e-3) {
  // One broad class covers both thicknesses (a class-agnostic "flake" class, as a lab's single label trains).
  const auto cov = nlohmann::ordered_json{{variance, 0, 0}, {0, variance, 0}, {0, 0, variance}};
  return std::make_shared<GmmClassifier>(GmmClassifier::from_json(
      nlohmann::ordered_json{{"1", {{"contrast", {{"b", -0.12}, {"g", -0.12}, {"r", -0.12}}}, {"covariance_matrix", cov}}}},
      "inline"));
}

}  // namespace

TEST(Terraces, TheDetectorGivesOneFlakePerTerraceOfAOneClassMask) {
  const ClassifierPtr classifier = one_broad_class();
  const cv::Mat image = image_with([](int x) { return x < 70 ? -0.08 : -0.16; });
  DetectorOptions options;
  options.fill_from_classifier = false;
  const Detection split = Detector(classifier, options, {}, std::make_shared<OneMask>()).detect(image, "steps");
  ASSERT_EQ(split.flakes.size(), 2u);
  for (const Flake& f : split.flakes) {
    EXPECT_EQ(f.class_name, "1");
    EXPECT_NEAR(f.score, 0.9, 1e-6);
  }
  options.split_by_contrast = false;
  EXPECT_EQ(Detector(classifier, options, {}, std::make_shared<OneMask>()).detect(image, "steps").flakes.size(), 1u);
}

TEST(Terraces, TheClassifiersOwnFlakesWhereNoMaskLiesAreSplitToo) {
  // The segmenter misses the flake; the classifier's fill-in region holds both steps (and not the substrate).
  const ClassifierPtr classifier = one_broad_class(1e-3);
  const cv::Mat image = image_with([](int x) { return x < 70 ? -0.08 : -0.16; });
  DetectorOptions options;
  const Detection split = Detector(classifier, options, {}, std::make_shared<NoMasks>()).detect(image, "steps");
  ASSERT_EQ(split.flakes.size(), 2u);
  for (const Flake& f : split.flakes) {
    EXPECT_EQ(f.origin, kOriginClassifier);
    EXPECT_NEAR(f.area, (f.bbox[0] < kBox.x + 35 ? 70 : 50) * kBox.height, 0.12 * 70 * kBox.height);
  }
  options.split_by_contrast = false;
  EXPECT_EQ(Detector(classifier, options, {}, std::make_shared<NoMasks>()).detect(image, "steps").flakes.size(), 1u);
}
