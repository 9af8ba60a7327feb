// The direct libjpeg-turbo codec gives OpenCV's pixels and bytes, and refuses what it cannot read by name.
#include <gtest/gtest.h>

#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/image/io.hpp"
#include "maskterial/image/jpeg.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

namespace {
const std::string kExamples = std::string(MASKTERIAL_TEST_DATA) + "/../../examples/images";

std::vector<std::string> example_jpegs() {
  std::vector<std::string> out;
  for (const auto& path : list_images({kExamples}))
    if (fs::path(path).extension() == ".jpg") out.push_back(path);
  return out;
}
}  // namespace

TEST(Jpeg, DecodesToOpenCvsPixelsAndEncodesToOpenCvsBytes) {
  const auto paths = example_jpegs();
  ASSERT_FALSE(paths.empty()) << "no JPEGs in " << kExamples;
  for (const auto& path : paths) {
    SCOPED_TRACE(path);
    std::string bytes = read_file(path);
    const cv::Mat opencv = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, bytes.data()), cv::IMREAD_UNCHANGED);
    const cv::Mat ours = decode_colour_jpeg(bytes, path);
    ASSERT_EQ(ours.type(), CV_8UC3);
    ASSERT_EQ(ours.size(), opencv.size());
    EXPECT_EQ(cv::norm(ours, opencv, cv::NORM_INF), 0.0);
    EXPECT_EQ(cv::norm(decode_image(bytes, path), opencv, cv::NORM_INF), 0.0);
    for (int quality : {90, 50}) {
      std::vector<uchar> expected;
      cv::imencode(".jpg", opencv, expected, {cv::IMWRITE_JPEG_QUALITY, quality});
      EXPECT_EQ(encode_jpeg(opencv, quality), expected) << "quality " << quality;
    }
  }
}

TEST(Jpeg, LeavesGrayToOpenCvAndNamesUnreadableFiles) {
  std::vector<uchar> gray;
  cv::imencode(".jpg", cv::Mat(32, 32, CV_8U, cv::Scalar(90)), gray);
  EXPECT_TRUE(decode_colour_jpeg(std::string(gray.begin(), gray.end()), "gray.jpg").empty());
  // A JPEG start, garbage, and an end marker: complete as far as the end check sees, unreadable to libjpeg.
  const std::string broken = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(64, 'x') + std::string("\xFF\xD9", 2);
  try {
    decode_colour_jpeg(broken, "broken.jpg");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.jpg"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a readable image"), std::string::npos) << e.what();
  }
  EXPECT_THROW(encode_jpeg(cv::Mat(8, 8, CV_8U), 90), Error);
}
