#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "maskterial/classify/classifier_training.hpp"
#include "maskterial/classify/gmm_fit.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/util/error.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

namespace {

using Mat3 = std::array<std::array<double, 3>, 3>;

// Samples of N(mean, L L^T) by Box-Muller on our own uniform draws, so the test data is the same everywhere.
void add_gaussian(ContrastSamples& s, int64_t label, size_t n, const std::array<double, 3>& mean, const Mat3& l,
                  uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto uniform = [&] { return (static_cast<double>(uniform_index(rng, 1ull << 53)) + 0.5) / 9007199254740992.0; };
  const auto normal = [&] { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()); };
  for (size_t k = 0; k < n; ++k) {
    const std::array<double, 3> z = {normal(), normal(), normal()};
    Contrast c{};
    for (int i = 0; i < 3; ++i) {
      double v = mean[i];
      for (int j = 0; j <= i; ++j) v += l[i][j] * z[j];
      c[i] = static_cast<float>(v);
    }
    s.add(c, label);
  }
}

}  // namespace

TEST(GmmFit, MeanAndUnbiasedCovarianceOfFewPoints) {
  ContrastSamples s;
  // Four points: mean (0.25, 0.5, -0.25); np.cov gives the values below (divides by N - 1 = 3).
  s.add({0, 0, 0}, 1);
  s.add({1, 0, 0}, 1);
  s.add({0, 1, -1}, 1);
  s.add({0, 1, 0}, 1);
  const GmmClassifier gmm = fit_gmm(s);
  ASSERT_EQ(gmm.gaussians().size(), 1u);
  const auto& c = gmm.gaussians()[0];
  EXPECT_EQ(c.name, "1");
  const std::array<double, 3> mean = {0.25, 0.5, -0.25};
  const Mat3 cov = {{{0.25, -1.0 / 6, 1.0 / 12}, {-1.0 / 6, 1.0 / 3, -1.0 / 6}, {1.0 / 12, -1.0 / 6, 0.25}}};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(c.mean[i], mean[i], 1e-12);
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(c.covariance[i][j], cov[i][j], 1e-12) << i << j;
  }
}

TEST(GmmFit, RecoversAKnownGaussianSkipsBackgroundAndOrdersById) {
  const Mat3 l = {{{0.02, 0, 0}, {0.01, 0.015, 0}, {-0.005, 0.004, 0.018}}};
  ContrastSamples s;
  add_gaussian(s, 10, 50000, {-0.3, -0.4, -0.35}, l, 1);
  add_gaussian(s, 2, 50000, {-0.07, -0.14, -0.14}, l, 2);
  add_gaussian(s, 0, 1000, {0, 0, 0}, l, 3);
  const GmmClassifier gmm = fit_gmm(s);
  ASSERT_EQ(gmm.gaussians().size(), 2u);
  EXPECT_EQ(gmm.gaussians()[0].name, "2");
  EXPECT_EQ(gmm.gaussians()[1].name, "10");
  const auto& c = gmm.gaussians()[0];
  const std::array<double, 3> mean = {-0.07, -0.14, -0.14};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(c.mean[i], mean[i], 5e-4);
    for (int j = 0; j < 3; ++j) {
      double expected = 0;
      for (int k = 0; k < 3; ++k) expected += l[i][k] * l[j][k];
      EXPECT_NEAR(c.covariance[i][j], expected, 0.03 * 4e-4) << i << j;
    }
  }
}

TEST(GmmFit, RidgeRescuesAFlatClassAndDegenerateInputIsRefused) {
  ContrastSamples plane;  // no spread in R: singular covariance
  for (int i = 0; i < 20; ++i) plane.add({0.01f * static_cast<float>(i % 5), 0.01f * static_cast<float>(i / 5), -0.1f}, 1);
  const GmmClassifier gmm = fit_gmm(plane);
  EXPECT_GT(gmm.gaussians()[0].covariance[2][2], 0);

  ContrastSamples same;
  for (int i = 0; i < 5; ++i) same.add({0.1f, 0.1f, 0.1f}, 1);
  EXPECT_THROW(fit_gmm(same), Error);
  ContrastSamples single;
  single.add({0.1f, 0.1f, 0.1f}, 1);
  EXPECT_THROW(fit_gmm(single), Error);
  ContrastSamples background_only;
  background_only.add({0.1f, 0.1f, 0.1f}, 0);
  background_only.add({0.2f, 0.1f, 0.1f}, 0);
  EXPECT_THROW(fit_gmm(background_only), Error);
}

// Real data: the GrapheneH demo images with their class-agnostic instance masks (every flake is class 1).
// The GMM path of train_classifier, as `train-classifier --type gmm` runs it.
GmmClassifier train_gmm(const coco::Dataset& dataset, const std::string& images, const TrainingDataOptions& data,
                        TrainingReport* report = nullptr) {
  ClassifierTrainingOptions options = ClassifierTrainingOptions::defaults("gmm");
  options.data = data;
  const ClassifierTrainingResult result = train_classifier({dataset, images}, nullptr, options);
  if (report) *report = result.report;
  return dynamic_cast<const GmmClassifier&>(*result.classifier);
}

class GrapheneDemo : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path root = fs::path(MASKTERIAL_SHARED_DATA);
    images_ = root / "maskterial-demo" / "images" / "GrapheneH";
    const fs::path masks = root / "maskterial-demo" / "instance_masks" / "GrapheneH";
    reference_ = root / "gmm-params" / "Graphene_GMM.json";
    REQUIRE_SHARED_DATA(fs::is_directory(images_) && fs::is_directory(masks) && fs::is_regular_file(reference_),
                        "no demo data under " << root);
    dataset_ = coco::read_instance_mask_folder(images_.string(), masks.string());
    options_.show_progress = false;
  }
  fs::path images_, reference_;
  coco::Dataset dataset_;
  TrainingDataOptions options_;
};

TEST_F(GrapheneDemo, TrainsOnAllImagesQuickly) {
  TrainingReport report;
  const auto start = std::chrono::steady_clock::now();
  const GmmClassifier gmm = train_gmm(dataset_, images_.string(), options_, &report);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_EQ(report.images_used, dataset_.images.size());
  EXPECT_TRUE(report.errors.empty());
  const std::vector<std::string> steps = {"extract", "resample", "knn", "dbscan", "fit"};
  ASSERT_EQ(report.steps.size(), steps.size());
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(report.steps[i].name, steps[i]);
  EXPECT_EQ(report.steps[0].class_counts.at(0), 10000 * dataset_.images.size());
  EXPECT_EQ(report.steps[1].class_counts, (std::map<int64_t, size_t>{{0, 30000}, {1, 30000}}));
  ASSERT_EQ(gmm.gaussians().size(), 1u);
  // Mono- to few-layer flakes under several illuminations: darker than the substrate in every channel.
  for (double m : gmm.gaussians()[0].mean) {
    EXPECT_LT(m, -0.05);
    EXPECT_GT(m, -0.7);
  }
  EXPECT_LT(seconds, 10.0);
  std::printf("  5 images, %zu final samples: %.2f s\n", report.steps.back().class_counts.at(1), seconds);
}

// The two demo images taken with the reference parameters' setup (90 nm SiO2): 17294f8a shows a monolayer,
// 20ea4e7f three bilayers. The fitted means must lie within 2 standard deviations of 2DMatGMM's classes.
TEST_F(GrapheneDemo, MonolayerAndBilayerMatchReferenceParameters) {
  coco::Dataset two;
  for (const auto& image : dataset_.images) {
    const bool mono = image.file_name.rfind("17294f8a", 0) == 0, bi = image.file_name.rfind("20ea4e7f", 0) == 0;
    if (!mono && !bi) continue;
    two.images.push_back(image);
    for (auto a : dataset_.annotations)
      if (a.image_id == image.id) {
        a.category_id = mono ? 1 : 2;
        two.annotations.push_back(a);
      }
  }
  ASSERT_EQ(two.images.size(), 2u);
  const GmmClassifier gmm = train_gmm(two, images_.string(), options_);
  const GmmClassifier reference = GmmClassifier::load(reference_.string());
  ASSERT_EQ(gmm.gaussians().size(), 2u);
  for (size_t k = 0; k < 2; ++k) {
    const auto& mean = gmm.gaussians()[k].mean;
    std::printf("  class %s mean (%.3f, %.3f, %.3f), %.2f sd from reference\n", gmm.gaussians()[k].name.c_str(),
                mean[0], mean[1], mean[2], reference.distance(mean, k));
    EXPECT_LT(reference.distance(mean, k), 2.0);
    EXPECT_GT(reference.distance(mean, 1 - k), reference.distance(mean, k));
  }
}
