#include "maskterial/store/thumbnail.hpp"

#include <algorithm>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace maskterial::store {
namespace {

constexpr int kMinMargin = 16;
constexpr int kJpegQuality = 85;
const cv::Scalar kOutline(60, 220, 255);  // yellow: visible on the blue-violet SiO2 substrates

}  // namespace

std::string candidate_thumbnail(const cv::Mat& bgr8, const Flake& flake) {
  const auto [x, y, w, h] = flake.bbox;
  const int mx = std::max(kMinMargin, static_cast<int>(w / 2)), my = std::max(kMinMargin, static_cast<int>(h / 2));
  const cv::Rect box(static_cast<int>(x) - mx, static_cast<int>(y) - my, static_cast<int>(w) + 2 * mx,
                     static_cast<int>(h) + 2 * my);
  const cv::Rect roi = box & cv::Rect(0, 0, bgr8.cols, bgr8.rows);
  if (roi.empty()) return {};
  const double scale = std::min(1.0, static_cast<double>(kThumbnailSize) / std::max(roi.width, roi.height));
  cv::Mat crop;
  cv::resize(bgr8(roi), crop, cv::Size(), scale, scale, cv::INTER_AREA);
  if (flake.segmentation.width == bgr8.cols && flake.segmentation.height == bgr8.rows) {
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(coco::decode(flake.segmentation)(roi).clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (auto& contour : contours)
      for (auto& p : contour) p = cv::Point(static_cast<int>(p.x * scale), static_cast<int>(p.y * scale));
    cv::drawContours(crop, contours, -1, kOutline, 1, cv::LINE_AA);
  }
  std::vector<uchar> bytes;
  cv::imencode(".jpg", crop, bytes, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality});
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace maskterial::store
