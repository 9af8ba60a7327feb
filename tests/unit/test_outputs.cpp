// The CSV of `detect`: every row whole, whatever the class names and values.
#include <gtest/gtest.h>

#include <algorithm>

#include "maskterial/pipeline/outputs.hpp"

using namespace maskterial;

TEST(Outputs, CsvRowsHoldLongClassNamesAndHugeValuesWhole) {
  Detection d;
  d.image = "/data/scan 1.png";
  Flake f;
  f.class_name = std::string(700, 'w') + ",\"quoted\"";
  f.uncertainty = 1e300;  // printed with %.4f: 300 digits
  f.area = 1234;
  d.flakes = {f, f};
  const std::string rows = csv_rows(d, 0.5);
  ASSERT_EQ(std::count(rows.begin(), rows.end(), '\n'), 2);
  const std::string first = rows.substr(0, rows.find('\n'));
  EXPECT_EQ(first.rfind("scan 1.png,0,\"" + std::string(700, 'w') + ",\"\"quoted\"\"\",", 0), 0u) << first.substr(0, 80);
  // Every column the header names: its commas, plus the one inside the quoted class name.
  const std::string header = csv_header();
  EXPECT_EQ(std::count(first.begin(), first.end(), ','), std::count(header.begin(), header.end(), ',') + 1);
  EXPECT_NE(first.find(",308.50,"), std::string::npos);  // area in um^2 = 1234 * 0.25
}

// Flakes crowded together (terraces of one flake, fragments side by side) get labels that never overlap and stay
// inside the image; the best-ranked flake gets the spot just above its box.
TEST(Outputs, OverlayLabelsNeverPileUp) {
  std::vector<cv::Rect> anchors;
  std::vector<cv::Size> sizes;
  for (int i = 0; i < 12; ++i) {
    anchors.emplace_back(300 + 4 * (i % 3), 200 + 3 * (i / 3), 60, 40);
    sizes.emplace_back(140, 18);
  }
  anchors.emplace_back(0, 0, 30, 20);  // in the corner: above is outside the image
  sizes.emplace_back(140, 18);
  const cv::Size image(800, 600);
  const std::vector<cv::Rect> placed = place_labels(anchors, sizes, image);
  ASSERT_EQ(placed.size(), anchors.size());
  EXPECT_EQ(placed[0], cv::Rect(300, 200 - 18 - 3, 140, 18));
  int labelled = 0;
  for (size_t i = 0; i < placed.size(); ++i) {
    if (placed[i].empty()) continue;
    ++labelled;
    EXPECT_EQ(placed[i] & cv::Rect(cv::Point(0, 0), image), placed[i]);
    for (size_t j = 0; j < i; ++j) EXPECT_EQ((placed[i] & placed[j]).area(), 0) << i << " on " << j;
  }
  EXPECT_GE(labelled, 10);
  EXPECT_FALSE(placed.back().empty());  // placed below its box instead
  EXPECT_GT(placed.back().y, 20);
}
