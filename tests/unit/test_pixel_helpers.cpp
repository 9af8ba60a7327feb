// Helpers of the per-pixel classifiers: distinct colours, half-precision contrast, atomic model directories,
// the training-curve plot.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <set>

#include "maskterial/image/contrast.hpp"
#include "maskterial/image/unique_colours.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

TEST(UniqueColours, IndexesEveryPixelsColourOnce) {
  cv::Mat image(64, 80, CV_8UC3);
  cv::randu(image, 0, 6);  // 216 possible colours, runs and repeats
  const cv::Mat roi = cv::Mat::zeros(image.size(), CV_8U);
  roi(cv::Rect(10, 5, 30, 40)).setTo(1);
  for (const cv::Mat& mask : {cv::Mat(), roi}) {
    const UniqueColours u = unique_colours(image, mask);
    EXPECT_EQ(std::set<uint32_t>(u.colours.begin(), u.colours.end()).size(), u.colours.size());
    std::set<uint32_t> seen;
    for (int y = 0; y < image.rows; ++y)
      for (int x = 0; x < image.cols; ++x) {
        const int32_t i = u.index.at<int32_t>(y, x);
        if (!mask.empty() && !mask.at<uint8_t>(y, x)) {
          EXPECT_EQ(i, -1);
          continue;
        }
        ASSERT_GE(i, 0);
        const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
        EXPECT_EQ(u.colours[i], p[0] | (p[1] << 8) | (p[2] << 16));
        seen.insert(u.colours[i]);
      }
    EXPECT_EQ(seen.size(), u.colours.size());  // no colour listed that no pixel has
  }
  // Enough colours to make the table grow several times.
  cv::Mat noisy(300, 300, CV_8UC3);
  cv::randu(noisy, 0, 256);
  const UniqueColours many = unique_colours(noisy);
  EXPECT_GT(many.colours.size(), 80000u);
  const cv::Vec3b p = noisy.at<cv::Vec3b>(123, 45);
  EXPECT_EQ(many.colours[many.index.at<int32_t>(123, 45)], p[0] | (p[1] << 8) | (p[2] << 16));
  EXPECT_THROW(unique_colours(cv::Mat(4, 4, CV_8U)), Error);
}

TEST(HalfPrecision, RoundsLikeIeeeHalf) {
  EXPECT_EQ(round_to_half(1.0f), 1.0f);
  EXPECT_EQ(round_to_half(1.0f + 1.0f / 4096), 1.0f);            // below half a step (2^-10)
  EXPECT_EQ(round_to_half(1.0f + 3.0f / 2048), 1.0f + 2.0f / 1024);  // tie rounds to even
  EXPECT_EQ(round_to_half(154.7f), 154.75f);                      // spacing 0.125 in [128, 256)
  EXPECT_EQ(round_to_half(-0.0999f), -0.0999145508f);
  EXPECT_EQ(round_to_half(0.0f), 0.0f);
  // MaskTerial's contrast: uint8 / half(background) in half precision, then - 1 in half precision.
  const ContrastLut lut = contrast_lut({154.71, 112.9, 128.76}, ContrastPrecision::Half);
  EXPECT_EQ(lut[0][140], round_to_half(round_to_half(140.0f / 154.75f) - 1.0f));
  EXPECT_EQ(lut[1][112], round_to_half(round_to_half(112.0f / 112.875f) - 1.0f));
  const ContrastLut single = contrast_lut({154.71, 112.9, 128.76});
  EXPECT_EQ(single[0][140], 140.0f / 154.71f - 1.0f);
}

TEST(Files, WriteDirectoryAtomicReplacesWholeOrNothing) {
  const fs::path root = fs::temp_directory_path() / ("mt_dir_atomic-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const std::string dir = (root / "model").string();
  write_directory_atomic(dir, [](const std::string& tmp) { write_file_atomic(tmp + "/a.txt", "one"); });
  EXPECT_EQ(read_file(dir + "/a.txt"), "one");
  // A failing writer leaves the old directory untouched and no temporary behind.
  EXPECT_THROW(write_directory_atomic(dir,
                                      [](const std::string& tmp) {
                                        write_file_atomic(tmp + "/a.txt", "half");
                                        throw Error("disk full");
                                      }),
               Error);
  EXPECT_EQ(read_file(dir + "/a.txt"), "one");
  write_directory_atomic(dir, [](const std::string& tmp) { write_file_atomic(tmp + "/b.txt", "two"); });
  EXPECT_FALSE(fs::exists(dir + "/a.txt"));
  EXPECT_EQ(read_file(dir + "/b.txt"), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(root), fs::directory_iterator()), 1);
}

TEST(Plot, DrawsEverySeriesInsideTheCanvas) {
  const std::vector<PlotSeries> series = {{"a", {0, 1, 2}, {1.0, 0.5, 0.25}, {255, 0, 0}},
                                          {"b", {0, 1, 2}, {0.1, 0.2, NAN}, {0, 0, 255}},
                                          {"empty", {}, {}, {0, 255, 0}}};
  const cv::Mat plot = render_line_plot(series, "loss", "iteration", {400, 300});
  ASSERT_EQ(plot.size(), cv::Size(400, 300));
  std::vector<cv::Mat> channels;
  cv::split(plot, channels);
  const cv::Mat blue = (channels[0] > 200) & (channels[1] < 80) & (channels[2] < 80);
  const cv::Mat red = (channels[2] > 200) & (channels[0] < 80) & (channels[1] < 80);
  EXPECT_GT(cv::countNonZero(blue), 100);
  EXPECT_GT(cv::countNonZero(red), 50);
}
