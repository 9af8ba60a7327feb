// Batch runs (work finished on the worker threads, in-order consumption) and overlay encoding.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/coco/rle.hpp"
#include "maskterial/pipeline/batch.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/util/error.hpp"
#include "cli_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

TEST(Batch, FinishRunsOnTheWorkersAndItsErrorsBecomeTheItemsErrors) {
  const fs::path dir = cli_test::fresh_dir("mt_batch_finish");
  std::vector<std::string> paths;
  for (int i = 0; i < 6; ++i) {
    paths.push_back((dir / ("image" + std::to_string(i) + ".png")).string());
    cv::imwrite(paths.back(), cv::Mat(32, 32, CV_8UC3, cv::Scalar(10 * i, 20, 30)));
  }
  std::mutex mutex;
  std::set<std::thread::id> finish_threads;
  BatchOptions options;
  options.threads = 2;
  options.progress = false;
  options.finish_on_worker = [&](BatchItem& item) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      finish_threads.insert(std::this_thread::get_id());
    }
    EXPECT_FALSE(item.image.empty());
    if (item.index == 3) throw Error("overlay disk full");
  };
  std::vector<size_t> consumed;
  const BatchSummary summary = run_batch(
      paths, [](const cv::Mat& image, const std::string& path) { return Detection{path, image.cols, image.rows, {}, {}}; },
      [&](BatchItem& item) { consumed.push_back(item.index); }, options);
  EXPECT_EQ(consumed, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(finish_threads.count(std::this_thread::get_id()), 0u);
  ASSERT_EQ(summary.errors.size(), 1u);
  EXPECT_NE(summary.errors[0].find("image3.png: overlay disk full"), std::string::npos) << summary.errors[0];
}

TEST(Overlay, JpegByDefaultPngOnRequest) {
  cv::Mat image(120, 160, CV_8UC3, cv::Scalar(90, 100, 110));
  cv::Mat mask = cv::Mat::zeros(120, 160, CV_8U);
  cv::rectangle(mask, cv::Rect(40, 30, 50, 40), 1, cv::FILLED);
  Flake flake;
  flake.class_id = 1;
  flake.class_name = "1";
  flake.segmentation = coco::encode(mask);
  flake.bbox = {40, 30, 50, 40};
  const Detection detection{"x.png", 160, 120, {}, {}, {flake}};

  EXPECT_EQ(parse_overlay_format("jpeg"), OverlayFormat::Jpeg);
  EXPECT_THROW(parse_overlay_format("gif"), Error);
  const std::vector<uchar> jpeg = encode_overlay(image, detection, OverlayFormat::Jpeg);
  ASSERT_GT(jpeg.size(), 3u);
  EXPECT_EQ(jpeg[0], 0xFF);
  EXPECT_EQ(jpeg[1], 0xD8);
  const std::vector<uchar> png = encode_overlay(image, detection, OverlayFormat::Png);
  EXPECT_EQ(std::string(png.begin() + 1, png.begin() + 4), "PNG");
  // Both show the outline: the decoded overlay differs from the input where the flake's edge is.
  const cv::Mat decoded = cv::imdecode(png, cv::IMREAD_COLOR);
  ASSERT_EQ(decoded.size(), image.size());
  EXPECT_GT(cv::norm(decoded(cv::Rect(38, 28, 54, 44)), image(cv::Rect(38, 28, 54, 44)), cv::NORM_L1), 1000);
  EXPECT_EQ(cv::norm(decoded(cv::Rect(100, 80, 50, 30)), image(cv::Rect(100, 80, 50, 30)), cv::NORM_L1), 0);
}
