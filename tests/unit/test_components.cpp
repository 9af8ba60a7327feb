#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "maskterial/pipeline/components.hpp"

using namespace maskterial;

TEST(Components, OfACropAreThoseOfTheImageWhenGivenItsOrigin) {
  cv::Mat mask = cv::Mat::zeros(60, 80, CV_8U);
  cv::rectangle(mask, cv::Rect(10, 12, 7, 5), 255, cv::FILLED);
  cv::circle(mask, cv::Point(50, 40), 9, 255, cv::FILLED);
  mask.at<uint8_t>(30, 30) = 255;
  const cv::Rect crop(5, 8, 70, 50);
  const auto whole = connected_components(mask, 4);
  const auto cropped = connected_components(mask(crop).clone(), 4, crop.tl());
  ASSERT_EQ(whole.size(), 3u);
  ASSERT_EQ(cropped.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(cropped[i].area, whole[i].area);
    EXPECT_EQ(cropped[i].box, whole[i].box);
    ASSERT_EQ(cropped[i].runs.size(), whole[i].runs.size());
    for (size_t r = 0; r < whole[i].runs.size(); ++r) {
      EXPECT_EQ(cropped[i].runs[r].y, whole[i].runs[r].y);
      EXPECT_EQ(cropped[i].runs[r].x0, whole[i].runs[r].x0);
      EXPECT_EQ(cropped[i].runs[r].x1, whole[i].runs[r].x1);
    }
  }
}

TEST(Components, ClassExtentsCountAndBoxEachClass) {
  cv::Mat labels = cv::Mat::zeros(40, 50, CV_8U);
  labels(cv::Rect(3, 4, 10, 2)).setTo(1);
  labels.at<uint8_t>(30, 45) = 1;
  labels(cv::Rect(20, 20, 5, 5)).setTo(7);
  labels.at<uint8_t>(39, 49) = 255;
  const std::vector<ClassExtent> extents = class_extents(labels);
  ASSERT_EQ(extents.size(), 256u);
  EXPECT_EQ(extents[0].pixels, 0);  // background is not a class
  EXPECT_EQ(extents[1].pixels, 21);
  EXPECT_EQ(extents[1].box, cv::Rect(cv::Point(3, 4), cv::Point(46, 31)));
  EXPECT_EQ(extents[7].pixels, 25);
  EXPECT_EQ(extents[7].box, cv::Rect(20, 20, 5, 5));
  EXPECT_EQ(extents[255].box, cv::Rect(49, 39, 1, 1));
  EXPECT_EQ(extents[2].pixels, 0);
  EXPECT_TRUE(extents[2].box.empty());
}
