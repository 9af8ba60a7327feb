// Image loading, background and contrast against the reference implementations' numbers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

namespace {
const std::string kShared = MASKTERIAL_SHARED_DATA;
const std::string kDemo = kShared + "/2dmatgmm-demo";

std::string temp_path(const std::string& name) { return (fs::temp_directory_path() / name).string(); }

void expect_error_mentions(const std::string& path, const std::string& words) {
  try {
    load_image(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(words), std::string::npos) << what;
  }
}
}  // namespace

TEST(ImageIO, RefusesMissingEmptyTruncatedGrayAndTinyFiles) {
  expect_error_mentions("/nonexistent/image.jpg", "no such file");
  write_file_atomic(temp_path("mt_empty.jpg"), "");
  expect_error_mentions(temp_path("mt_empty.jpg"), "empty");
  write_file_atomic(temp_path("mt_text.png"), "this is not an image");
  expect_error_mentions(temp_path("mt_text.png"), "unsupported image format");

  cv::Mat colour(64, 48, CV_8UC3, cv::Scalar(10, 120, 200));
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", colour, jpeg);
  write_file_atomic(temp_path("mt_cut.jpg"), std::string(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  expect_error_mentions(temp_path("mt_cut.jpg"), "JPEG");  // cut inside its header or its data
  std::vector<uchar> png;
  cv::imencode(".png", colour, png);
  write_file_atomic(temp_path("mt_cut.png"), std::string(png.begin(), png.begin() + png.size() - 20));
  expect_error_mentions(temp_path("mt_cut.png"), "truncated PNG");

  cv::imwrite(temp_path("mt_gray.png"), cv::Mat(32, 32, CV_8U, cv::Scalar(7)));
  expect_error_mentions(temp_path("mt_gray.png"), "gray");
  cv::imwrite(temp_path("mt_tiny.png"), cv::Mat(8, 40, CV_8UC3, cv::Scalar(7, 7, 7)));
  expect_error_mentions(temp_path("mt_tiny.png"), "too small");
}

TEST(ImageIO, ConvertsSixteenBitAndAlphaAndOddSizes) {
  cv::Mat sixteen(33, 47, CV_16UC3, cv::Scalar(257 * 10, 257 * 100, 65535));
  cv::imwrite(temp_path("mt_16.png"), sixteen);
  cv::Mat loaded = load_image(temp_path("mt_16.png"));
  ASSERT_EQ(loaded.type(), CV_8UC3);
  EXPECT_EQ(loaded.size(), cv::Size(47, 33));
  EXPECT_EQ(loaded.at<cv::Vec3b>(5, 5), cv::Vec3b(10, 100, 255));

  cv::imwrite(temp_path("mt_16.tiff"), sixteen);
  EXPECT_EQ(load_image(temp_path("mt_16.tiff")).at<cv::Vec3b>(0, 0), cv::Vec3b(10, 100, 255));

  cv::Mat rgba(20, 21, CV_8UC4, cv::Scalar(1, 2, 3, 4));
  cv::imwrite(temp_path("mt_alpha.png"), rgba);
  loaded = load_image(temp_path("mt_alpha.png"));
  ASSERT_EQ(loaded.type(), CV_8UC3);
  EXPECT_EQ(loaded.at<cv::Vec3b>(0, 0), cv::Vec3b(1, 2, 3));
}

TEST(Background, InferenceRuleMatchesReferenceDetector) {
  REQUIRE_SHARED_DATA(fs::exists(kDemo), "shared data not found");
  const auto reference = read_json(kDemo + "/reference_gmm_detections.json");
  for (const auto& [name, record] : reference.items()) {
    cv::Mat image = load_image(kDemo + "/images/" + name), blurred;
    cv::medianBlur(image, blurred, 5);
    const Bgr bg = estimate_background(blurred, BackgroundRule::inference());
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(bg[c], record["background_bgr"][c].get<double>(), 1e-4) << name;
  }
}

TEST(Background, TrainingRuleMatchesOpenCvReference) {
  const std::string images = kShared + "/maskterial-demo/images/";
  REQUIRE_SHARED_DATA(fs::exists(images), "shared data not found");
  const auto fixtures = read_json(std::string(MASKTERIAL_TEST_DATA) + "/image_fixtures.json");
  for (const auto& [name, expected] : fixtures["training_background"].items()) {
    const Bgr bg = estimate_background(load_image(images + name), BackgroundRule::training());
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(bg[c], expected[c].get<double>(), 1e-9) << name;
  }
}

TEST(Background, UniformImageAndHopelessImage) {
  const cv::Mat uniform(40, 40, CV_8UC3, cv::Scalar(100, 150, 200));
  const Bgr bg = estimate_background(uniform);
  EXPECT_DOUBLE_EQ(bg[0], 100);
  EXPECT_DOUBLE_EQ(bg[2], 200);
  EXPECT_TRUE(has_valid_background(bg));
  const cv::Mat black(40, 40, CV_8UC3, cv::Scalar(0, 0, 0));
  EXPECT_FALSE(has_valid_background(estimate_background(black)));
  EXPECT_FALSE(has_valid_background(estimate_background(black, BackgroundRule::training())));
}

TEST(Contrast, IsRatioToBackgroundMinusOne) {
  cv::Mat image(20, 20, CV_8UC3, cv::Scalar(100, 150, 200));
  image.at<cv::Vec3b>(3, 4) = cv::Vec3b(90, 135, 220);
  const cv::Mat c = contrast_image(image, {100, 150, 200});
  ASSERT_EQ(c.type(), CV_32FC3);
  EXPECT_FLOAT_EQ(c.at<cv::Vec3f>(0, 0)[1], 0.0f);
  EXPECT_NEAR(c.at<cv::Vec3f>(3, 4)[0], -0.1, 1e-6);
  EXPECT_NEAR(c.at<cv::Vec3f>(3, 4)[1], -0.1, 1e-6);
  EXPECT_NEAR(c.at<cv::Vec3f>(3, 4)[2], 0.1, 1e-6);
  EXPECT_THROW(contrast_image(image, {0, 1, 1}), Error);
}

TEST(FlatField, RemovesVignettingAndClips) {
  cv::Mat flat(10, 10, CV_8UC3, cv::Scalar(200, 200, 200));
  flat.at<cv::Vec3b>(0, 0) = cv::Vec3b(100, 100, 0);  // darker corner; a zero must not divide by zero
  cv::Mat image(10, 10, CV_8UC3, cv::Scalar(100, 100, 100));
  image.at<cv::Vec3b>(0, 0) = cv::Vec3b(50, 50, 50);
  const cv::Mat corrected = apply_flat_field(image, flat);
  const double mean = (99 * 200 + 100) / 100.0;
  EXPECT_EQ(corrected.at<cv::Vec3b>(5, 5)[0], static_cast<uint8_t>(100.0 / 200 * mean));
  EXPECT_EQ(corrected.at<cv::Vec3b>(0, 0)[0], static_cast<uint8_t>(50.0 / 100 * mean));
  EXPECT_EQ(corrected.at<cv::Vec3b>(0, 0)[2], 241);  // clipped
  EXPECT_THROW(apply_flat_field(image, cv::Mat(5, 5, CV_8UC3)), Error);
}
