// Faint regions: a large plateau of a few per cent of contrast is found whole; noise, a strip along a crystal,
// a region cut by the image border, one under a mask and strong contrasts are not.
#include <random>

#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/pipeline/faint_regions.hpp"

using namespace maskterial;

namespace {

const Bgr kSubstrate{150, 110, 130};
const cv::Rect kFlake(150, 120, 220, 160);

// The substrate with rectangles of the given contrast (the same on green and red, as graphene_2's faint flakes)
// and sensor noise.
cv::Mat scene(const std::vector<std::pair<cv::Rect, double>>& regions, double noise_sigma = 2.0) {
  cv::Mat image(480, 640, CV_8UC3, cv::Scalar(kSubstrate[0], kSubstrate[1], kSubstrate[2]));
  for (const auto& [box, c] : regions)
    image(box).setTo(cv::Scalar(kSubstrate[0], kSubstrate[1] * (1 + c), kSubstrate[2] * (1 + c)));
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0, noise_sigma);
  for (auto it = image.begin<cv::Vec3b>(); it != image.end<cv::Vec3b>(); ++it)
    for (int ch = 0; ch < 3; ++ch) (*it)[ch] = cv::saturate_cast<uint8_t>((*it)[ch] + noise(rng));
  return image;
}

std::vector<Component> faint_in(const cv::Mat& image, const cv::Mat& covered = {}) {
  return find_faint_regions(image, kSubstrate, kAllChannels, covered);
}

}  // namespace

TEST(FaintRegions, ALargeFaintPlateauIsFoundWhole) {
  const auto regions = faint_in(scene({{kFlake, 0.03}}));
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_NEAR(regions[0].area, kFlake.area(), 0.08 * kFlake.area());
  EXPECT_LE((regions[0].box & kFlake).area(), kFlake.area());
  EXPECT_GE((regions[0].box & kFlake).area(), 0.9 * kFlake.area());
}

TEST(FaintRegions, NoiseStripsBordersMasksAndStrongContrastsAreNot) {
  EXPECT_TRUE(faint_in(scene({}, 4.0)).empty()) << "noise";
  EXPECT_TRUE(faint_in(scene({{kFlake, 0.008}})).empty()) << "below the contrast a plateau needs";
  EXPECT_TRUE(faint_in(scene({{cv::Rect(100, 200, 440, 24), 0.03}})).empty()) << "a strip (a halo along a crystal)";
  EXPECT_TRUE(faint_in(scene({{cv::Rect(0, 120, 220, 160), 0.03}})).empty()) << "cut by the border";
  EXPECT_TRUE(faint_in(scene({{kFlake, -0.3}})).empty()) << "the segmentation model's contrasts";
  EXPECT_TRUE(faint_in(scene({{cv::Rect(150, 120, 60, 60), 0.03}})).empty()) << "small";
  cv::Mat covered = cv::Mat::zeros(480, 640, CV_8U);
  covered(kFlake).setTo(255);
  EXPECT_TRUE(faint_in(scene({{kFlake, 0.03}}), covered).empty()) << "under a mask";
}

namespace {

class NoMasks : public segment::InstanceSegmenter {
 public:
  std::vector<segment::InstanceMask> predict(const cv::Mat&) const override { return {}; }
};

}  // namespace

TEST(FaintRegions, TheDetectorReportsAFaintFlakeNoClassClaimsAsUnknownListedLast) {
  // A graphene-like GMM (a class far darker than the plateau) has no class for it; the plateau shows it anyway.
  const auto cov = nlohmann::ordered_json{{1e-4, 0, 0}, {0, 1e-4, 0}, {0, 0, 1e-4}};
  const auto gmm = std::make_shared<GmmClassifier>(GmmClassifier::from_json(
      nlohmann::ordered_json{{"1", {{"contrast", {{"b", -0.1}, {"g", -0.2}, {"r", -0.15}}}, {"covariance_matrix", cov}}}},
      "inline"));
  const cv::Mat image = scene({{kFlake, 0.03}});
  DetectorOptions options;
  const Detection found = Detector(gmm, options, {}, std::make_shared<NoMasks>()).detect(image, "faint");
  ASSERT_EQ(found.flakes.size(), 1u);
  EXPECT_EQ(found.flakes[0].class_name, "unknown");
  EXPECT_EQ(found.flakes[0].origin, kOriginFaint);
  EXPECT_NEAR(found.flakes[0].score, DetectorOptions{}.faint_region_score, 1e-6);
  EXPECT_TRUE(found.flakes[0].evidence.empty());  // not re-scored, not a training example of the score
  options.fill_from_classifier = false;  // the segmenter's masks only: a plateau is still classified
  EXPECT_EQ(Detector(gmm, options, {}, std::make_shared<NoMasks>()).detect(image, "faint").flakes.size(), 1u);
  options.find_faint_regions = false;
  EXPECT_TRUE(Detector(gmm, options, {}, std::make_shared<NoMasks>()).detect(image, "faint").flakes.empty());
}
