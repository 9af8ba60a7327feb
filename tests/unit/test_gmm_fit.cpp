#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "maskterial/classify/gmm_fit.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/util/error.hpp"

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
  ASSERT_EQ(gmm.classes().size(), 1u);
  const auto& c = gmm.classes()[0];
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
  ASSERT_EQ(gmm.classes().size(), 2u);
  EXPECT_EQ(gmm.classes()[0].name, "2");
  EXPECT_EQ(gmm.classes()[1].name, "10");
  const auto& c = gmm.classes()[0];
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
  EXPECT_GT(gmm.classes()[0].covariance[2][2], 0);

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
TEST(GmmFit, TrainsOnGrapheneDemoImages) {
  const fs::path root = fs::path(MASKTERIAL_SHARED_DATA) / "maskterial-demo";
  const fs::path images = root / "images" / "GrapheneH", masks = root / "instance_masks" / "GrapheneH";
  if (!fs::is_directory(images) || !fs::is_directory(masks)) GTEST_SKIP() << "no demo data at " << root;
  const coco::Dataset dataset = coco::read_instance_mask_folder(images.string(), masks.string());

  TrainingDataOptions options;
  options.show_progress = false;
  TrainingReport report;
  const auto start = std::chrono::steady_clock::now();
  const GmmClassifier gmm = train_gmm(dataset, images.string(), options, &report);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_EQ(report.images_used, dataset.images.size());
  EXPECT_TRUE(report.errors.empty());
  for (const auto& step : report.steps) {
    std::string counts;
    for (const auto& [label, n] : step.class_counts) counts += " " + std::to_string(label) + ":" + std::to_string(n);
    std::printf("  %-8s %6.3f s%s\n", step.name.c_str(), step.seconds, counts.c_str());
  }
  ASSERT_EQ(gmm.classes().size(), 1u);
  const auto& c = gmm.classes()[0];
  std::printf("  class 1 mean (%.4f, %.4f, %.4f), std (%.4f, %.4f, %.4f), %.2f s\n", c.mean[0], c.mean[1], c.mean[2],
              std::sqrt(c.covariance[0][0]), std::sqrt(c.covariance[1][1]), std::sqrt(c.covariance[2][2]), seconds);
  EXPECT_LT(seconds, 15.0);
}
