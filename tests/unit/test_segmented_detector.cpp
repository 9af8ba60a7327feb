// The detector with an instance segmenter (MaskTerial's full pipeline): a stand-in segmenter returns known
// masks on a synthetic image with known classes, so the flake extraction and majority vote can be checked
// exactly.
#include <algorithm>

#include <gtest/gtest.h>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/util/error.hpp"

using namespace maskterial;
using segment::InstanceMask;

namespace {

class KnownMasks : public segment::InstanceSegmenter {
 public:
  explicit KnownMasks(std::vector<InstanceMask> masks) : masks_(std::move(masks)) {}
  std::vector<InstanceMask> predict(const cv::Mat&) const override { return masks_; }

 private:
  std::vector<InstanceMask> masks_;
};

const cv::Size kSize(400, 300);
const cv::Scalar kSubstrate(150, 110, 130);
const cv::Scalar kClass1(135, 88, 110.5);  // contrast (-0.1, -0.2, -0.15)
const cv::Scalar kClass2(120, 71.5, 91);   // contrast (-0.2, -0.35, -0.3)

ClassifierPtr two_class_gmm() {
  const auto cov = nlohmann::ordered_json{{1e-4, 0, 0}, {0, 1e-4, 0}, {0, 0, 1e-4}};
  return std::make_shared<GmmClassifier>(GmmClassifier::from_json(
      nlohmann::ordered_json{
          {"1", {{"contrast", {{"b", -0.1}, {"g", -0.2}, {"r", -0.15}}}, {"covariance_matrix", cov}}},
          {"2", {{"contrast", {{"b", -0.2}, {"g", -0.35}, {"r", -0.3}}}, {"covariance_matrix", cov}}}},
      "inline"));
}

// Flake A: a 60x40 monolayer with an 8x8 hole. Region B: 40x40, 16 columns class 1, 14 class 2, 10 substrate.
// A 10x10 class-1 speck.
cv::Mat scene() {
  cv::Mat image(kSize, CV_8UC3, kSubstrate);
  image(cv::Rect(100, 120, 60, 40)).setTo(kClass1);
  image(cv::Rect(120, 135, 8, 8)).setTo(kSubstrate);
  image(cv::Rect(250, 50, 16, 40)).setTo(kClass1);
  image(cv::Rect(266, 50, 14, 40)).setTo(kClass2);
  image(cv::Rect(20, 250, 10, 10)).setTo(kClass1);
  return image;
}

InstanceMask mask_of(const std::vector<cv::Rect>& parts, float score, const cv::Rect& hole = {}) {
  InstanceMask m{cv::Mat::zeros(kSize, CV_8U), score, 0};
  for (const auto& r : parts) m.mask(r).setTo(255);
  if (hole.area() > 0) m.mask(hole).setTo(0);
  return m;
}

std::vector<InstanceMask> scene_masks() {
  return {
      // Flake A as predicted: with its hole, plus a 5x5 speck of substrate elsewhere.
      mask_of({cv::Rect(100, 120, 60, 40), cv::Rect(20, 20, 5, 5)}, 0.9f, cv::Rect(120, 135, 8, 8)),
      mask_of({cv::Rect(250, 50, 40, 40)}, 0.8f),   // class 1 holds only 40%
      mask_of({cv::Rect(300, 200, 30, 30)}, 0.7f),  // substrate
      mask_of({cv::Rect(20, 250, 10, 10)}, 0.6f),   // below the size threshold
  };
}

}  // namespace

DetectorOptions majority_vote() {
  DetectorOptions o;
  o.split_by_class = false;
  return o;
}

TEST(SegmentedDetector, FlakesAreFilledLargestOutlinesWithTheMajorityClass) {
  const Detector detector(two_class_gmm(), majority_vote(), {}, std::make_shared<KnownMasks>(scene_masks()));
  const Detection d = detector.detect(scene(), "scene");
  ASSERT_EQ(d.flakes.size(), 1u);
  const Flake& f = d.flakes[0];
  EXPECT_EQ(f.class_name, "1");
  EXPECT_EQ(f.area, 60 * 40);          // the hole filled, the speck dropped
  EXPECT_EQ(f.size, 60 * 40 - 8 * 8);  // as predicted inside the outline
  EXPECT_EQ(f.bbox, (std::array<double, 4>{100, 120, 60, 40}));
  // The vote counts the mask as predicted, speck included: 2336 class 1, 25 substrate.
  EXPECT_NEAR(f.class_share, 2336.0 / 2361.0, 1e-9);
  EXPECT_NEAR(f.score, 0.9, 1e-6);
  EXPECT_NEAR(f.false_positive_probability, 0.1, 1e-6);
  EXPECT_LT(f.uncertainty, 1.0);
  EXPECT_NEAR(f.center[0], 129.5, 1.0);
  EXPECT_NEAR(f.center[1], 139.5, 1.0);
  EXPECT_EQ(f.segmentation.height, 300);
  EXPECT_EQ(f.segmentation.width, 400);
}

TEST(SegmentedDetector, MinClassOccupancyDecidesMixedMasks) {
  DetectorOptions options = majority_vote();
  options.min_class_occupancy = 0.3;
  const Detector detector(two_class_gmm(), options, {}, std::make_shared<KnownMasks>(scene_masks()));
  const Detection d = detector.detect(scene(), "scene");
  ASSERT_EQ(d.flakes.size(), 2u);
  EXPECT_EQ(d.flakes[1].class_name, "1");
  EXPECT_NEAR(d.flakes[1].class_share, 0.4, 1e-9);
  EXPECT_NEAR(d.flakes[1].score, 0.8, 1e-6);
  // The size threshold still applies: lowered, the speck becomes a flake too.
  options.size_threshold = 50;
  const Detection small = Detector(two_class_gmm(), options, {}, std::make_shared<KnownMasks>(scene_masks()))
                              .detect(scene(), "scene");
  ASSERT_EQ(small.flakes.size(), 3u);
  EXPECT_EQ(small.flakes[2].area, 100);
}

TEST(SegmentedDetector, SplitByClassGivesEachLayerRegionOfAMask) {
  // The default: mask B's class-1 and class-2 columns become two flakes; substrate and specks give none.
  EXPECT_TRUE(DetectorOptions{}.split_by_class);
  std::vector<InstanceMask> masks = scene_masks();
  masks.push_back(mask_of({cv::Rect(100, 120, 60, 40)}, 0.5f));  // a worse duplicate of A: its pixels are taken
  const Detection d = Detector(two_class_gmm(), {}, {}, std::make_shared<KnownMasks>(masks)).detect(scene(), "scene");
  ASSERT_EQ(d.flakes.size(), 3u);
  EXPECT_EQ(d.flakes[0].class_name, "1");
  EXPECT_EQ(d.flakes[0].area, 60 * 40);  // the hole filled
  EXPECT_NEAR(d.flakes[0].score, 0.9, 1e-6);
  EXPECT_EQ(d.flakes[1].class_name, "1");
  EXPECT_EQ(d.flakes[1].bbox, (std::array<double, 4>{250, 50, 16, 40}));
  EXPECT_NEAR(d.flakes[1].class_share, 0.4, 1e-9);
  EXPECT_EQ(d.flakes[2].class_name, "2");
  EXPECT_EQ(d.flakes[2].bbox, (std::array<double, 4>{266, 50, 14, 40}));
  EXPECT_NEAR(d.flakes[2].class_share, 560.0 / 1600.0, 1e-9);
  EXPECT_NEAR(d.flakes[2].score, 0.8, 1e-6);
}

TEST(SegmentedDetector, NoMasksNoFlakesAndBadMasksAreErrors) {
  DetectorOptions masks_only;
  masks_only.fill_from_classifier = false;
  EXPECT_TRUE(Detector(two_class_gmm(), masks_only, {}, std::make_shared<KnownMasks>(std::vector<InstanceMask>{}))
                  .detect(scene(), "scene")
                  .flakes.empty());
  // By default the classifier's own flakes fill in where the segmenter has no mask, at half their score.
  // With a segmenter the flakes come best first.
  Detection alone = Detector(two_class_gmm(), {}).detect(scene(), "scene");
  std::stable_sort(alone.flakes.begin(), alone.flakes.end(), [](const Flake& a, const Flake& b) { return a.score > b.score; });
  const Detection filled =
      Detector(two_class_gmm(), {}, {}, std::make_shared<KnownMasks>(std::vector<InstanceMask>{})).detect(scene(), "scene");
  ASSERT_GE(alone.flakes.size(), 2u);
  ASSERT_EQ(filled.flakes.size(), alone.flakes.size());
  for (size_t i = 0; i < alone.flakes.size(); ++i) {
    EXPECT_EQ(filled.flakes[i].bbox, alone.flakes[i].bbox);
    EXPECT_NEAR(filled.flakes[i].score, 0.5 * alone.flakes[i].score, 1e-6);
  }
  const InstanceMask wrong_size{cv::Mat::zeros(10, 10, CV_8U), 0.9f, 0};
  try {
    Detector(two_class_gmm(), {}, {}, std::make_shared<KnownMasks>(std::vector<InstanceMask>{wrong_size}))
        .detect(scene(), "scene.png");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("scene.png"), std::string::npos);
  }
  DetectorOptions compat;
  compat.rules = ExtractionRules::TwoDMatGmm;
  EXPECT_THROW(Detector(two_class_gmm(), compat, {}, std::make_shared<KnownMasks>(scene_masks())), Error);
}

TEST(SegmentedDetector, ReportUnknownKeepsMasksNoClassClaimsRankedLast) {
  // The mask over bare substrate: dropped by default, an "unknown" flake ranked last when asked for.
  const std::vector<InstanceMask> masks = scene_masks();
  DetectorOptions masks_only;
  masks_only.fill_from_classifier = false;
  const Detection plain = Detector(two_class_gmm(), masks_only, {}, std::make_shared<KnownMasks>(masks)).detect(scene(), "scene");
  masks_only.report_unknown = true;
  const Detection flagged = Detector(two_class_gmm(), masks_only, {}, std::make_shared<KnownMasks>(masks)).detect(scene(), "scene");
  ASSERT_EQ(flagged.flakes.size(), plain.flakes.size() + 1);
  const Flake& unknown = flagged.flakes.back();
  EXPECT_EQ(unknown.class_name, "unknown");
  EXPECT_EQ(unknown.bbox, (std::array<double, 4>{300, 200, 30, 30}));
  EXPECT_NEAR(unknown.score, 0.7 * 0.25, 1e-6);
  for (const Flake& f : plain.flakes) EXPECT_NE(f.class_name, "unknown");
}

namespace {

// The two-class GMM with the substrate as a class of its own, as the AMM and MLP have it: bare-substrate
// pixels are near a class (distance 0), so only colours unlike every class are far from all.
class WithSubstrateClass : public PixelClassifier {
 public:
  explicit WithSubstrateClass(ClassifierPtr inner) : inner_(std::move(inner)) {}
  std::string type() const override { return "amm"; }
  const std::vector<ClassLabel>& classes() const override { return inner_->classes(); }
  double default_threshold() const override { return inner_->default_threshold(); }
  bool models_background() const override { return true; }
  ContrastPrecision precision() const override { return inner_->precision(); }
  PixelClassification classify(const cv::Mat& bgr8, const ContrastLut& lut, double threshold, const cv::Mat& roi,
                               const ChannelMask& channels) const override {
    PixelClassification out = inner_->classify(bgr8, lut, threshold, roi, channels);
    cv::Mat substrate;
    cv::inRange(bgr8, kSubstrate, kSubstrate, substrate);
    out.distance.setTo(0, substrate);
    return out;
  }
  std::vector<uint8_t> classify_contrasts(const std::vector<std::array<float, 3>>& c, double threshold,
                                          std::vector<float>* distances, const ChannelMask& channels) const override {
    return inner_->classify_contrasts(c, threshold, distances, channels);
  }
  double flake_uncertainty(const std::array<double, 3>& mean, uint8_t id, const ChannelMask& channels) const override {
    return inner_->flake_uncertainty(mean, id, channels);
  }
  void save(const std::string& dir) const override { inner_->save(dir); }
  nlohmann::json describe() const override { return inner_->describe(); }

 private:
  ClassifierPtr inner_;
};

}  // namespace

TEST(SegmentedDetector, PartsOfMasksUnlikeEveryClassAreUnknownFlakesRankedLast) {
  // A mask over a monolayer (30x30) joined to a flake of a colour no class has (30x30), and one over bare
  // substrate: the unfamiliar part is flagged "unknown" below every known flake, the substrate stays nothing.
  cv::Mat image(kSize, CV_8UC3, kSubstrate);
  image(cv::Rect(200, 200, 30, 30)).setTo(kClass1);
  image(cv::Rect(230, 200, 30, 30)).setTo(cv::Scalar(90, 60, 150));
  const std::vector<InstanceMask> masks = {mask_of({cv::Rect(200, 200, 60, 30)}, 0.8f),
                                           mask_of({cv::Rect(300, 50, 30, 30)}, 0.9f)};
  const auto classifier = std::make_shared<WithSubstrateClass>(two_class_gmm());
  DetectorOptions options;
  options.fill_from_classifier = false;
  const Detection flagged = Detector(classifier, options, {}, std::make_shared<KnownMasks>(masks)).detect(image, "scene");
  ASSERT_EQ(flagged.flakes.size(), 2u);
  EXPECT_EQ(flagged.flakes[0].class_name, "1");
  EXPECT_EQ(flagged.flakes[0].bbox, (std::array<double, 4>{200, 200, 30, 30}));
  EXPECT_FLOAT_EQ(flagged.flakes[0].score, 0.8f);
  EXPECT_EQ(flagged.flakes[1].class_name, "unknown");
  EXPECT_EQ(flagged.flakes[1].bbox, (std::array<double, 4>{230, 200, 30, 30}));
  EXPECT_NEAR(flagged.flakes[1].score, 0.8 * 0.25, 1e-6);

  options.unknown_inside_masks = false;  // --known-classes-only
  const Detection known = Detector(classifier, options, {}, std::make_shared<KnownMasks>(masks)).detect(image, "scene");
  ASSERT_EQ(known.flakes.size(), 1u);
  EXPECT_EQ(known.flakes[0].class_name, "1");
  // A classifier without a substrate class (GMM): far from every class is just substrate, never unknown.
  options.unknown_inside_masks = true;
  const Detection gmm = Detector(two_class_gmm(), options, {}, std::make_shared<KnownMasks>(masks)).detect(image, "scene");
  ASSERT_EQ(gmm.flakes.size(), 1u);
  EXPECT_EQ(gmm.flakes[0].class_name, "1");
}

TEST(SegmentedDetector, StrayPixelsOfOtherClassesDoNotFragmentAFlake) {
  // A 90x40 monolayer crossed by two 2-px stripes the classifier calls bilayer (noise: too thin to be a region
  // of their own): one flake, the whole mask, with the mask's score, not three fragments each scoring 0.9.
  cv::Mat image(kSize, CV_8UC3, kSubstrate);
  image(cv::Rect(100, 120, 90, 40)).setTo(kClass1);
  image(cv::Rect(130, 120, 2, 40)).setTo(kClass2);
  image(cv::Rect(160, 120, 2, 40)).setTo(kClass2);
  const std::vector<InstanceMask> masks = {mask_of({cv::Rect(100, 120, 90, 40)}, 0.9f)};
  DetectorOptions options;
  options.fill_from_classifier = false;
  const Detection one = Detector(two_class_gmm(), options, {}, std::make_shared<KnownMasks>(masks)).detect(image, "scene");
  ASSERT_EQ(one.flakes.size(), 1u);
  EXPECT_EQ(one.flakes[0].class_name, "1");
  EXPECT_EQ(one.flakes[0].bbox, (std::array<double, 4>{100, 120, 90, 40}));
  EXPECT_FLOAT_EQ(one.flakes[0].score, 0.9f);
  // Without a class holding min_class_occupancy of the mask, each class region stands alone: the fragments.
  options.min_class_occupancy = 1.0;
  const Detection fragments =
      Detector(two_class_gmm(), options, {}, std::make_shared<KnownMasks>(masks)).detect(image, "scene");
  EXPECT_EQ(fragments.flakes.size(), 3u);
}

TEST(SegmentedDetector, AFlakeClippedAtTheCameraTopIsNotReported) {
  // A bright crystal at (255, 253, 255) on a substrate the camera measures: a GMM class of that colour claims
  // it, but its contrast is only a bound (thick crystal, brighter than the camera reads), so it is dropped.
  const auto cov = nlohmann::ordered_json{{1e-4, 0, 0}, {0, 1e-4, 0}, {0, 0, 1e-4}};
  const ClassifierPtr gmm = std::make_shared<GmmClassifier>(GmmClassifier::from_json(
      nlohmann::ordered_json{
          {"1", {{"contrast", {{"b", -0.1}, {"g", -0.2}, {"r", -0.15}}}, {"covariance_matrix", cov}}},
          {"bright", {{"contrast", {{"b", 255 / 150.0 - 1}, {"g", 253 / 110.0 - 1}, {"r", 255 / 130.0 - 1}}},
                      {"covariance_matrix", cov}}}},
      "inline"));
  cv::Mat image(kSize, CV_8UC3, kSubstrate);
  image(cv::Rect(100, 120, 60, 40)).setTo(kClass1);
  image(cv::Rect(250, 50, 40, 40)).setTo(cv::Scalar(255, 253, 255));
  const std::vector<InstanceMask> masks{mask_of({cv::Rect(100, 120, 60, 40)}, 0.9f),
                                        mask_of({cv::Rect(250, 50, 40, 40)}, 0.8f)};
  const auto classes_found = [&](double max_clipped_share) {
    DetectorOptions options;
    options.max_clipped_share = max_clipped_share;
    std::vector<std::string> names;
    for (const Flake& f : Detector(gmm, options, {}, std::make_shared<KnownMasks>(masks)).detect(image, "s").flakes)
      names.push_back(f.class_name);
    return names;
  };
  EXPECT_EQ(classes_found(0.5), std::vector<std::string>{"1"});
  EXPECT_EQ(classes_found(1.0), (std::vector<std::string>{"1", "bright"}));
  EXPECT_THROW(Detector(gmm, [] { DetectorOptions o; o.max_clipped_share = 2; return o; }(), {},
                        std::make_shared<KnownMasks>(masks)),
               Error);
}
