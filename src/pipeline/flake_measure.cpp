#include "maskterial/pipeline/flake_measure.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace maskterial {

double false_positive_probability(const std::vector<cv::Point>& contour) {
  if (contour.size() < 3) return 1.0;
  std::vector<cv::Point> hull;
  cv::convexHull(contour, hull);
  const double hull_area = cv::contourArea(hull);
  const double area = cv::contourArea(contour);
  if (area <= 0 || hull_area <= 0) return 1.0;
  const double arcarea = cv::arcLength(contour, true) / std::sqrt(area);
  const double solidity = area / hull_area;
  const double logit = 2.96034 - 0.60233 * arcarea + 3.40766 * solidity;
  return 1.0 - 1.0 / (1.0 + std::exp(-logit));
}

cv::Mat disk_kernel(int radius) {
  cv::Mat k(2 * radius + 1, 2 * radius + 1, CV_8U);
  for (int y = -radius; y <= radius; ++y)
    for (int x = -radius; x <= radius; ++x) k.at<uint8_t>(y + radius, x + radius) = x * x + y * y <= radius * radius;
  return k;
}

double mean_entropy(const cv::Mat& bgr8, const cv::Mat& mask_roi, const cv::Rect& roi,
                    const std::vector<cv::Point>& contour) {
  const cv::Rect box = cv::boundingRect(contour);
  const cv::Rect crop = cv::Rect(box.x - 20, box.y - 20, box.width + 40, box.height + 40) &
                        cv::Rect(0, 0, bgr8.cols, bgr8.rows);
  // The flake mask in crop coordinates (the ROI may be smaller or larger than the crop).
  cv::Mat mask = cv::Mat::zeros(crop.size(), CV_8U);
  const cv::Rect overlap = crop & roi;
  if (overlap.area() > 0)
    mask_roi(overlap - roi.tl()).copyTo(mask(overlap - crop.tl()));
  static const cv::Mat disk2 = disk_kernel(2);
  cv::erode(mask, mask, disk2, cv::Point(-1, -1), 2);
  cv::Mat gray;
  cv::cvtColor(bgr8(crop), gray, cv::COLOR_BGR2GRAY);

  double sum = 0;
  size_t count = 0;
  uint8_t values[13];
  for (int y = 0; y < crop.height; ++y) {
    const uint8_t* m = mask.ptr<uint8_t>(y);
    for (int x = 0; x < crop.width; ++x) {
      if (!m[x]) continue;
      int n = 0;
      for (int dy = -2; dy <= 2; ++dy) {
        const int yy = y + dy;
        if (yy < 0 || yy >= crop.height) continue;
        const uint8_t* mm = mask.ptr<uint8_t>(yy);
        const uint8_t* gg = gray.ptr<uint8_t>(yy);
        for (int dx = -2; dx <= 2; ++dx) {
          const int xx = x + dx;
          if (dx * dx + dy * dy > 4 || xx < 0 || xx >= crop.width || !mm[xx]) continue;
          values[n++] = gg[xx];
        }
      }
      std::sort(values, values + n);
      double e = 0;
      for (int i = 0; i < n;) {
        int j = i;
        while (j < n && values[j] == values[i]) ++j;
        const double p = static_cast<double>(j - i) / n;
        e -= p * std::log2(p);
        i = j;
      }
      sum += e;
      ++count;
    }
  }
  return count ? sum / static_cast<double>(count) : 0.0;
}

double clipped_share(const FlakeSource& source, const cv::Mat& mask_roi, const cv::Rect& roi) {
  std::array<bool, 3> watched{};
  for (int c = 0; c < 3; ++c) watched[c] = source.background[c] < kSaturatedLevel;
  int64_t inside = 0, clipped = 0;
  for (int y = 0; y < roi.height; ++y) {
    const uint8_t* m = mask_roi.ptr<uint8_t>(y);
    const cv::Vec3b* p = source.bgr8.ptr<cv::Vec3b>(roi.y + y) + roi.x;
    for (int x = 0; x < roi.width; ++x) {
      if (!m[x]) continue;
      ++inside;
      clipped += (watched[0] && p[x][0] >= kSaturatedLevel) || (watched[1] && p[x][1] >= kSaturatedLevel) ||
                 (watched[2] && p[x][2] >= kSaturatedLevel);
    }
  }
  return inside ? static_cast<double>(clipped) / static_cast<double>(inside) : 0.0;
}

// Walks only the region's pixels in COCO's column-major order; the zeros around it become run lengths, so
// no image-sized buffer is touched (a full-image encode per flake dominated detection time).
coco::Rle encode_roi(const cv::Mat& mask_roi, const cv::Rect& roi, const cv::Size& image_size) {
  coco::Rle rle;
  rle.height = image_size.height;
  rle.width = image_size.width;
  const uint64_t h = static_cast<uint64_t>(image_size.height);
  uint64_t run_start = 0;
  bool value = false;
  auto switch_at = [&](uint64_t pos) {
    rle.counts.push_back(static_cast<uint32_t>(pos - run_start));
    run_start = pos;
    value = !value;
  };
  const bool full_height = roi.y == 0 && static_cast<uint64_t>(roi.height) == h;
  for (int x = 0; x < roi.width; ++x) {
    const uint64_t column = static_cast<uint64_t>(roi.x + x) * h + static_cast<uint64_t>(roi.y);
    for (int y = 0; y < roi.height; ++y)
      if ((mask_roi.at<uint8_t>(y, x) != 0) != value) switch_at(column + static_cast<uint64_t>(y));
    // Pixels between this column's part and the next one's are outside the region, hence zeros.
    if (value && !full_height) switch_at(column + static_cast<uint64_t>(roi.height));
  }
  const uint64_t total = h * static_cast<uint64_t>(image_size.width);
  if (value && static_cast<uint64_t>(roi.x + roi.width) * h < total) switch_at(static_cast<uint64_t>(roi.x + roi.width) * h);
  if (run_start < total || rle.counts.empty()) rle.counts.push_back(static_cast<uint32_t>(total - run_start));
  return rle;
}

Flake measure_flake(const FlakeSource& source, const cv::Mat& mask_roi, const cv::Rect& roi,
                    const std::vector<cv::Point>& contour) {
  Flake flake;
  flake.area = cv::countNonZero(mask_roi);
  flake.size = flake.area;

  const cv::RotatedRect rect = cv::minAreaRect(contour);
  flake.center = {static_cast<int>(rect.center.x), static_cast<int>(rect.center.y)};
  flake.min_side = std::min(rect.size.width, rect.size.height);
  flake.max_side = std::max(rect.size.width, rect.size.height);
  flake.aspect_ratio = flake.max_side / (flake.min_side + 1e-5);

  const cv::Scalar mean_bgr = cv::mean(source.bgr8(roi), mask_roi);
  for (int c = 0; c < 3; ++c)
    flake.mean_contrast_bgr[c] = source.background[c] > 0 ? mean_bgr[c] / source.background[c] - 1.0 : 0.0;

  flake.clipped_share = clipped_share(source, mask_roi, roi);
  flake.entropy = mean_entropy(source.bgr8, mask_roi, roi, contour);
  flake.false_positive_probability = false_positive_probability(contour);
  flake.score = 1.0 - flake.false_positive_probability;
  flake.segmentation = encode_roi(mask_roi, roi, source.bgr8.size());
  flake.bbox = coco::to_bbox(flake.segmentation);
  return flake;
}

}  // namespace maskterial
