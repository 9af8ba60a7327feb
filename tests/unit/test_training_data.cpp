#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <random>
#include <set>

#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/classify/training_data.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

namespace {

TrainingDataOptions quiet_options() {
  TrainingDataOptions options;
  options.show_progress = false;
  return options;
}

coco::Annotation annotation_of(const cv::Mat& mask, int64_t id, int64_t category) {
  coco::Annotation a;
  a.id = id;
  a.category_id = category;
  a.segmentation = coco::encode(mask);
  return a;
}

// Uniform substrate (B, G, R) = (100, 120, 140) with flat flakes of colour (70, 80, 90).
cv::Mat substrate(int width, int height) { return cv::Mat(height, width, CV_8UC3, cv::Scalar(100, 120, 140)); }

cv::Mat rect_mask(const cv::Size& size, const cv::Rect& r) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  mask(r) = 1;
  return mask;
}

std::vector<Contrast> random_points(size_t n, uint64_t seed, float spread) {
  std::mt19937_64 rng(seed);
  std::vector<Contrast> points(n);
  for (auto& p : points)
    for (float& v : p) v = spread * (static_cast<float>(uniform_index(rng, 1000)) / 1000.0f - 0.5f);
  return points;
}

std::vector<uint8_t> brute_force_core(const std::vector<Contrast>& points, double eps, size_t min_samples) {
  std::vector<uint8_t> core(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    size_t within = 0;
    for (const auto& q : points) {
      double d2 = 0;
      for (int c = 0; c < 3; ++c) {
        const double d = static_cast<double>(points[i][c]) - static_cast<double>(q[c]);
        d2 += d * d;
      }
      within += d2 <= eps * eps;
    }
    core[i] = within >= min_samples;
  }
  return core;
}

}  // namespace

TEST(TrainingData, UniformIndexStaysInRangeAndIsSeeded) {
  std::mt19937_64 a(7), b(7);
  for (uint64_t n : {1ull, 2ull, 3ull, 1000ull, (1ull << 63) + 5}) {
    for (int i = 0; i < 100; ++i) {
      const uint64_t x = uniform_index(a, n);
      EXPECT_LT(x, n);
      EXPECT_EQ(x, uniform_index(b, n));
    }
  }
}

TEST(TrainingData, ErosionAndMinimumSizeRule) {
  const cv::Mat image = substrate(200, 160);
  const cv::Rect big(60, 40, 30, 30), small(120, 100, 16, 16), at_border(0, 50, 30, 30);
  for (const cv::Rect& r : {big, small, at_border}) image(r).setTo(cv::Scalar(70, 80, 90));
  const auto a1 = annotation_of(rect_mask(image.size(), big), 1, 1);
  const auto a2 = annotation_of(rect_mask(image.size(), small), 2, 2);
  const auto a3 = annotation_of(rect_mask(image.size(), at_border), 3, 3);

  TrainingDataOptions options = quiet_options();
  options.background_samples_per_image = 500;
  std::mt19937_64 rng(1);
  const ContrastSamples s = extract_image_samples(image, {&a1, &a2, &a3}, options, rng);
  const auto counts = s.class_counts();
  // The 3x3 ellipse is a cross: each iteration peels one pixel off every side of a rectangle...
  EXPECT_EQ(counts.at(1), 24u * 24u);
  // ...so 16x16 leaves 10x10 = 100 < 200 pixels and the annotation is dropped...
  EXPECT_EQ(counts.count(2), 0u);
  // ...and the image border is not eroded (as cv2.erode's default border).
  EXPECT_EQ(counts.at(3), 27u * 24u);
  EXPECT_EQ(counts.at(0), 500u);
  for (size_t i = 0; i < s.size(); ++i) {
    // Background pixels never come from an annotation, even a dropped one.
    const Contrast expected = s.labels[i] == 0 ? Contrast{0, 0, 0} : Contrast{-0.3f, 80.0f / 120 - 1, 90.0f / 140 - 1};
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(s.contrasts[i][c], expected[c], 1e-6);
  }
}

TEST(TrainingData, WindowedErosionMatchesFullImageErosion) {
  cv::Mat image = substrate(120, 90);
  cv::Mat mask = cv::Mat::zeros(image.size(), CV_8U);
  cv::circle(mask, {110, 10}, 25, 1, cv::FILLED);  // cut by the top and right borders
  cv::circle(mask, {40, 60}, 18, 1, cv::FILLED);
  image.setTo(cv::Scalar(60, 60, 60), mask);
  const auto a = annotation_of(mask, 1, 1);
  cv::Mat full;
  cv::erode(mask, full, cv::getStructuringElement(cv::MORPH_ELLIPSE, {3, 3}), {-1, -1}, 3);

  std::mt19937_64 rng(1);
  const auto counts = extract_image_samples(image, {&a}, quiet_options(), rng).class_counts();
  EXPECT_EQ(counts.at(1), static_cast<size_t>(cv::countNonZero(full)));
}

TEST(TrainingData, RefusesImagesWithoutBackgroundOrWithMismatchedMasks) {
  std::mt19937_64 rng(1);
  EXPECT_THROW(extract_image_samples(cv::Mat::zeros(64, 64, CV_8UC3), {}, quiet_options(), rng), Error);
  const auto wrong_size = annotation_of(rect_mask({10, 10}, {2, 2, 5, 5}), 1, 1);
  EXPECT_THROW(extract_image_samples(substrate(64, 64), {&wrong_size}, quiet_options(), rng), Error);
}

TEST(TrainingData, ResamplingGivesExactCountsAndNoRepeatsWhenDownsampling) {
  ContrastSamples s;
  for (int i = 0; i < 10; ++i) s.add({static_cast<float>(i), 0, 0}, 1);
  for (int i = 0; i < 500; ++i) s.add({static_cast<float>(i), 1, 0}, 2);
  for (int i = 0; i < 100; ++i) s.add({static_cast<float>(i), 2, 0}, 0);
  std::mt19937_64 rng(3);
  const ContrastSamples r = resample_classes(s, 100, rng);
  EXPECT_EQ(r.class_counts(), (std::map<int64_t, size_t>{{0, 100}, {1, 100}, {2, 100}}));
  std::set<Contrast> class2;
  for (size_t i = 0; i < r.size(); ++i)
    if (r.labels[i] == 2) class2.insert(r.contrasts[i]);
  EXPECT_EQ(class2.size(), 100u);  // drawn without replacement
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r.contrasts[i][1], static_cast<float>(r.labels[i] == 0 ? 2 : r.labels[i] - 1));
}

TEST(TrainingData, ResamplingIsDeterministicGivenTheSeed) {
  ContrastSamples s;
  for (int i = 0; i < 1000; ++i) s.add({static_cast<float>(i), 0, 0}, i % 3);
  std::mt19937_64 a(42), b(42), c(43);
  const auto ra = resample_classes(s, 700, a), rb = resample_classes(s, 700, b), rc = resample_classes(s, 700, c);
  EXPECT_EQ(ra.contrasts, rb.contrasts);
  EXPECT_EQ(ra.labels, rb.labels);
  EXPECT_NE(ra.contrasts, rc.contrasts);
}

TEST(TrainingData, KnnMajorityFlipsAnIsolatedMislabelledPoint) {
  ContrastSamples s;
  const auto cluster_a = random_points(60, 1, 0.02f), cluster_b = random_points(60, 2, 0.02f);
  for (const auto& p : cluster_a) s.add(p, 1);
  for (const auto& p : cluster_b) s.add({p[0] + 0.5f, p[1], p[2]}, 2);
  s.labels[10] = 2;  // a class-2 label inside cluster 1
  const auto labels = knn_majority_labels(s, 25);
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(labels[i], i < 60 ? 1 : 2) << i;
}

TEST(TrainingData, KnnTiesGoToTheSmallestLabelAndASampleCountsItself) {
  ContrastSamples pair;
  pair.add({0, 0, 0}, 3);
  pair.add({0.01f, 0, 0}, 1);
  EXPECT_EQ(knn_majority_labels(pair, 2), (std::vector<int64_t>{1, 1}));

  // 30 identical points: with k = 1 every one must see itself, whatever the tree returns first.
  ContrastSamples same;
  for (int i = 0; i < 30; ++i) same.add({0.1f, 0.2f, 0.3f}, i % 2 ? 4 : 7);
  EXPECT_EQ(knn_majority_labels(same, 1), same.labels);
  // k larger than the set: all points vote.
  EXPECT_EQ(knn_majority_labels(same, 100), std::vector<int64_t>(30, 4));
}

TEST(TrainingData, DbscanCoreMatchesBruteForce) {
  // A cluster plus a uniform spread, with duplicates, so points sit on both sides of the threshold.
  std::vector<Contrast> points = random_points(400, 5, 0.15f);
  const auto wide = random_points(400, 6, 1.0f);
  points.insert(points.end(), wide.begin(), wide.end());
  points.insert(points.end(), points.begin(), points.begin() + 100);
  for (double eps : {0.02, 0.05, 0.1}) {
    for (size_t min_samples : {size_t{0}, size_t{1}, size_t{2}, size_t{5}, size_t{30}, size_t{90}, size_t{2000}}) {
      EXPECT_EQ(dbscan_core_mask(points, eps, min_samples), brute_force_core(points, eps, min_samples))
          << "eps " << eps << " min_samples " << min_samples;
    }
  }
}

TEST(TrainingData, DbscanCountsPointsAtExactlyEpsAndItself) {
  // Origin plus four points at distance exactly 1/16 (representable): the origin has 5 within eps.
  const float d = 0.0625f;
  const std::vector<Contrast> points = {{0, 0, 0}, {d, 0, 0}, {-d, 0, 0}, {0, d, 0}, {0, 0, d}};
  EXPECT_EQ(dbscan_core_mask(points, 0.0625, 5), (std::vector<uint8_t>{1, 0, 0, 0, 0}));
  EXPECT_EQ(dbscan_core_mask(points, 0.0625, 6), (std::vector<uint8_t>{0, 0, 0, 0, 0}));
  EXPECT_EQ(dbscan_core_mask(points, 0.0625, 2), (std::vector<uint8_t>{1, 1, 1, 1, 1}));
}

TEST(TrainingData, DbscanKeepsCoreSamplesPerClassWithTenthOfClassSize) {
  ContrastSamples s;
  for (const auto& p : random_points(200, 8, 0.05f)) s.add(p, 1);
  s.add({0.5f, 0.5f, 0.5f}, 1);  // outlier of class 1
  for (const auto& p : random_points(50, 9, 0.05f)) s.add({p[0] + 0.5f, p[1] + 0.5f, p[2] + 0.5f}, 2);
  const ContrastSamples kept = keep_dbscan_core(s, 0.1, 10);
  // The outlier sits in class 2's cluster but only class 1 points count for it: 1 < 201 / 10.
  EXPECT_EQ(kept.class_counts(), (std::map<int64_t, size_t>{{1, 200}, {2, 50}}));
}

class TrainingDataFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mt_training_data_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    for (int i = 0; i < 3; ++i) {
      cv::Mat image = substrate(160, 120);
      const cv::Rect flake(20 + 10 * i, 30, 40, 30);
      image(flake).setTo(cv::Scalar(70, 80, 90));
      const std::string name = "img" + std::to_string(i) + ".png";
      cv::imwrite((dir_ / name).string(), image);
      dataset_.images.push_back({i + 1, name, image.cols, image.rows});
      auto a = annotation_of(rect_mask(image.size(), flake), i + 1, 1);
      a.image_id = i + 1;
      dataset_.annotations.push_back(a);
    }
    dataset_.categories.push_back({1, "1", ""});
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  coco::Dataset dataset_;
};

TEST_F(TrainingDataFolder, SkipsMissingImagesAndReportsThem) {
  dataset_.images.push_back({9, "missing.png", 160, 120});
  TrainingDataOptions options = quiet_options();
  options.samples_per_class = 1000;
  const TrainingData data = prepare_training_data(dataset_, dir_.string(), options);
  EXPECT_EQ(data.report.images_total, 4u);
  EXPECT_EQ(data.report.images_used, 3u);
  ASSERT_EQ(data.report.errors.size(), 1u);
  EXPECT_NE(data.report.errors[0].find("missing.png"), std::string::npos);
  ASSERT_EQ(data.report.steps.size(), 4u);
  EXPECT_EQ(data.report.steps[0].class_counts.at(1), 3u * 34 * 24);
  EXPECT_EQ(data.report.steps[1].class_counts.at(1), 1000u);
  // Flat colours: denoising and DBSCAN keep everything.
  EXPECT_EQ(data.samples.class_counts(), (std::map<int64_t, size_t>{{0, 1000}, {1, 1000}}));
}

TEST_F(TrainingDataFolder, ThrowsWhenNoImageIsUsable) {
  for (auto& image : dataset_.images) image.file_name = "nope_" + image.file_name;
  EXPECT_THROW(prepare_training_data(dataset_, dir_.string(), quiet_options()), Error);
}

TEST_F(TrainingDataFolder, SameSeedGivesTheSameData) {
  TrainingDataOptions options = quiet_options();
  options.samples_per_class = 500;
  const auto a = prepare_training_data(dataset_, dir_.string(), options);
  const auto b = prepare_training_data(dataset_, dir_.string(), options);
  EXPECT_EQ(a.samples.contrasts, b.samples.contrasts);
  EXPECT_EQ(a.samples.labels, b.samples.labels);
}

TEST_F(TrainingDataFolder, EvaluationDataIsOnlyExtractedAndCapped) {
  TrainingDataOptions options = quiet_options();
  options.max_eval_samples = 0;
  const auto all = prepare_evaluation_data(dataset_, dir_.string(), options);
  EXPECT_EQ(all.samples.class_counts(), (std::map<int64_t, size_t>{{0, 30000}, {1, 3u * 34 * 24}}));
  options.max_eval_samples = 5000;
  const auto capped = prepare_evaluation_data(dataset_, dir_.string(), options);
  EXPECT_EQ(capped.samples.size(), 5000u);
  ASSERT_EQ(capped.report.steps.size(), 2u);
  EXPECT_EQ(capped.report.steps[1].name, "subsample");
}

TEST_F(TrainingDataFolder, SemanticMaskFolderEntryPoint) {
  const fs::path masks = dir_ / "masks";
  fs::create_directories(masks);
  for (const auto& image : dataset_.images) {
    cv::Mat mask = coco::decode(dataset_.annotations[image.id - 1].segmentation) * 2;  // class 2
    cv::imwrite((masks / image.file_name).string(), mask);
  }
  TrainingDataOptions options = quiet_options();
  options.samples_per_class = 800;
  const auto data = prepare_training_data_from_masks(dir_.string(), masks.string(), options);
  EXPECT_EQ(data.report.images_used, 3u);
  EXPECT_EQ(data.samples.class_counts(), (std::map<int64_t, size_t>{{0, 800}, {2, 800}}));
}

TEST(TrainingData, ImputationRecordsWhichChannelsEachClassMeasured) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  ContrastSamples s;
  s.add({0, 0, 0}, 0);
  s.add({0, 0, 0}, 0);
  s.add({-0.1f, -0.2f, nan}, 1);
  s.add({nan, -0.2f, nan}, 1);
  s.add({nan, -0.3f, nan}, 1);
  s.add({nan, -0.3f, -0.4f}, 1);
  impute_unmeasured(s);
  EXPECT_EQ(s.channel_coverage.at(0), (std::array<double, 3>{1, 1, 1}));
  EXPECT_EQ(s.channel_coverage.at(1), (std::array<double, 3>{0.25, 1, 0.25}));
  EXPECT_FLOAT_EQ(s.contrasts[3][0], -0.1f);
  // Resampling keeps it; appending weighs each side by its class counts (a side without any measured all).
  std::mt19937_64 rng(1);
  ContrastSamples resampled = resample_classes(s, 8, rng);
  EXPECT_EQ(resampled.channel_coverage, s.channel_coverage);
  ContrastSamples more;
  for (int i = 0; i < 4; ++i) more.add({-0.1f, -0.2f, -0.4f}, 1);
  s.append(more);
  EXPECT_EQ(s.channel_coverage.at(1), (std::array<double, 3>{0.625, 1, 0.625}));
  EXPECT_EQ(s.channel_coverage.at(0), (std::array<double, 3>{1, 1, 1}));
}

TEST(TrainingData, TooSmallFlakesAreRefusedInWords) {
  const auto dir = std::filesystem::temp_directory_path() / "mt_training_small_flakes";
  std::filesystem::create_directories(dir);
  cv::Mat image(120, 160, CV_8UC3, cv::Scalar(170, 110, 165));
  image(cv::Rect(40, 40, 12, 12)).setTo(cv::Scalar(150, 90, 140));
  cv::imwrite((dir / "small.png").string(), image);
  coco::Dataset dataset;
  dataset.images = {{1, "small.png", 160, 120}};
  dataset.categories = {{1, "1", ""}};
  cv::Mat mask = cv::Mat::zeros(120, 160, CV_8U);
  mask(cv::Rect(40, 40, 12, 12)) = 1;
  coco::Annotation a;
  a.id = 1;
  a.image_id = 1;
  a.category_id = 1;
  a.segmentation = coco::encode(mask);
  dataset.annotations = {a};
  TrainingDataOptions options;
  options.show_progress = false;
  try {
    prepare_training_data(dataset, dir.string(), options);
    FAIL() << "a 144-pixel flake trained";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none of the 1 annotation(s) keeps 200 pixels"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}
