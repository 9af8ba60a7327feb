#pragma once
// The distinct BGR colours of an 8-bit image and, per pixel, which one it has. A 1920x1200 scan holds a few
// tens of thousands of distinct colours among its 2.3 million pixels, and the contrast (hence any per-pixel
// classifier's answer) depends on the colour alone, so classifying the distinct colours is enough.
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace maskterial {

struct UniqueColours {
  std::vector<uint32_t> colours;  // B | G << 8 | R << 16, in order of first appearance
  cv::Mat index;                  // CV_32S, per pixel an index into colours; -1 outside the roi
};

// roi: optional CV_8U mask of the same size; only its non-zero pixels are collected.
UniqueColours unique_colours(const cv::Mat& bgr8, const cv::Mat& roi = cv::Mat());

}  // namespace maskterial
