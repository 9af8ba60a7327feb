#include "maskterial/score/evidence.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace maskterial::score {
namespace {

constexpr int kRingInner = 2;  // px outside the outline: the edge's own blur is not context
constexpr int kRingOuter = 8;
constexpr int kPad = kRingOuter + 2;

float log_of(double v) { return static_cast<float>(std::log(std::max(v, 1e-6))); }

double norm3(const cv::Scalar& s) { return std::sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]); }

}  // namespace

const std::vector<std::string>& evidence_names() {
  static const std::vector<std::string> names = {
      "extraction_score",  "from_segmenter",  "unknown_class",        "log_area",
      "solidity",          "log_min_width",   "log_elongation",       "outline_per_sqrt_area",
      "contrast_magnitude", "contrast_nonuniformity", "edge_sharpness", "ring_contrast",
      "ring_thicker_share", "log_uncertainty", "class_share",         "shape_fp_probability",
      "entropy",           "touches_border"};
  return names;
}

cv::Mat mask_in_box(const coco::Rle& rle, cv::Rect& box) {
  const int h = rle.height;
  box = cv::Rect();
  // The box from the runs themselves (integer, exact), then the runs painted into it; columns are contiguous
  // in COCO's column-major order, so only the runs are walked.
  int x0 = rle.width, y0 = h, x1 = -1, y1 = -1;
  uint64_t pos = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    const uint64_t n = rle.counts[i];
    if (i % 2 == 1 && n > 0) {
      const uint64_t last = pos + n - 1;
      const int xa = static_cast<int>(pos / h), xb = static_cast<int>(last / h);
      x0 = std::min(x0, xa);
      x1 = std::max(x1, xb);
      if (xa == xb) {
        y0 = std::min(y0, static_cast<int>(pos % h));
        y1 = std::max(y1, static_cast<int>(last % h));
      } else {  // a run over a column break covers the column's end and the next one's start
        y0 = 0;
        y1 = h - 1;
      }
    }
    pos += n;
  }
  if (x1 < 0) return {};
  box = cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
  cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
  pos = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    const uint64_t n = rle.counts[i];
    if (i % 2 == 1)
      for (uint64_t p = pos; p < pos + n; ++p) mask.at<uint8_t>(static_cast<int>(p % h) - y0, static_cast<int>(p / h) - x0) = 255;
    pos += n;
  }
  return mask;
}

std::vector<float> measure_evidence(const cv::Mat& bgr8, const Bgr& background, const Flake& flake) {
  std::vector<float> e(evidence_names().size(), 0.0f);
  cv::Rect box;
  const cv::Mat flake_mask = mask_in_box(flake.segmentation, box);
  const cv::Rect image(0, 0, bgr8.cols, bgr8.rows);
  const cv::Rect crop = cv::Rect(box.x - kPad, box.y - kPad, box.width + 2 * kPad, box.height + 2 * kPad) & image;
  cv::Mat mask = cv::Mat::zeros(crop.size(), CV_8U);
  if (!flake_mask.empty()) flake_mask.copyTo(mask(box - crop.tl()));
  const double area = std::max<double>(1.0, cv::countNonZero(mask));

  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(mask.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  std::vector<cv::Point> outline;
  for (const auto& c : contours)
    if (c.size() > outline.size()) outline = c;

  e[0] = static_cast<float>(flake.score);
  e[1] = flake.origin == kOriginSegmenter ? 1.0f : 0.0f;
  e[2] = flake.class_id == kUnknownClassId ? 1.0f : 0.0f;
  e[3] = log_of(area);
  if (outline.size() >= 3) {
    std::vector<cv::Point> hull;
    cv::convexHull(outline, hull);
    e[4] = static_cast<float>(std::min(1.0, area / std::max(1.0, cv::contourArea(hull))));
    e[7] = static_cast<float>(cv::arcLength(outline, true) / std::sqrt(area));
  }
  cv::Mat distance;
  cv::distanceTransform(mask, distance, cv::DIST_L2, 3);
  double widest = 0;
  cv::minMaxLoc(distance, nullptr, &widest);
  e[5] = log_of(2 * widest);
  e[6] = log_of(std::max(1.0, flake.aspect_ratio));

  // Optics inside: mean and spread of contrast on the eroded mask (edge pixels mix flake and substrate).
  const cv::Mat contrast = contrast_image(bgr8(crop), background);
  cv::Mat core;
  cv::erode(mask, core, cv::Mat::ones(3, 3, CV_8U), cv::Point(-1, -1), 2);
  if (cv::countNonZero(core) < 10) core = mask;
  cv::Scalar mean, spread;
  cv::meanStdDev(contrast, mean, spread, core);
  const double magnitude = norm3(mean);
  e[8] = static_cast<float>(magnitude);
  e[9] = static_cast<float>(norm3(spread) / (magnitude + 0.02));

  // Context: the ring 2–8 px outside the outline.
  cv::Mat near_ring, far_ring;
  cv::dilate(mask, near_ring, cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * kRingInner + 1, 2 * kRingInner + 1}));
  cv::dilate(mask, far_ring, cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * kRingOuter + 1, 2 * kRingOuter + 1}));
  const cv::Mat ring = far_ring & ~near_ring;
  const cv::Scalar ring_mean = cv::mean(contrast, ring);
  const double step = norm3(mean - ring_mean);
  e[11] = static_cast<float>(norm3(ring_mean));
  const int ring_pixels = cv::countNonZero(ring);
  if (ring_pixels > 0) {
    // Much thicker: contrast magnitude well beyond the flake's own.
    const double limit = 1.5 * magnitude + 0.05;
    int thicker = 0;
    for (int y = 0; y < ring.rows; ++y) {
      const uint8_t* r = ring.ptr<uint8_t>(y);
      const cv::Vec3f* c = contrast.ptr<cv::Vec3f>(y);
      for (int x = 0; x < ring.cols; ++x)
        if (r[x] && std::sqrt(c[x].dot(c[x])) > limit) ++thicker;
    }
    e[12] = static_cast<float>(thicker) / static_cast<float>(ring_pixels);
  }

  // Edge sharpness: contrast gradient (per px) on the outline, over the step from inside to the ring.
  if (!outline.empty()) {
    cv::Mat gx, gy;
    cv::Sobel(contrast, gx, CV_32F, 1, 0, 3, 1.0 / 8);
    cv::Sobel(contrast, gy, CV_32F, 0, 1, 3, 1.0 / 8);
    double sum = 0;
    for (const cv::Point& p : outline) {
      const cv::Vec3f a = gx.at<cv::Vec3f>(p), b = gy.at<cv::Vec3f>(p);
      sum += std::sqrt(a.dot(a) + b.dot(b));
    }
    e[10] = static_cast<float>(sum / static_cast<double>(outline.size()) / (step + 0.01));
  }

  e[13] = std::isfinite(flake.uncertainty) ? static_cast<float>(std::log1p(std::max(0.0, flake.uncertainty))) : 10.0f;
  e[14] = static_cast<float>(flake.class_share);
  e[15] = static_cast<float>(flake.false_positive_probability);
  e[16] = static_cast<float>(flake.entropy);
  e[17] = (box.x <= 0 || box.y <= 0 || box.x + box.width >= bgr8.cols || box.y + box.height >= bgr8.rows) ? 1.0f : 0.0f;
  return e;
}

}  // namespace maskterial::score
