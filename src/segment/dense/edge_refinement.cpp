#include "maskterial/segment/dense/edge_refinement.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace maskterial::segment {
namespace {

constexpr int kRingPx = 4;              // width of the substrate ring outside the band
constexpr double kMinEdgeContrast = 0.01;  // |C_flake - C_substrate| below this: no edge to snap to

cv::Mat disc(int radius) { return cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * radius + 1, 2 * radius + 1}); }

// Per-channel median of the contrast over the pixels of `where`; false when there are none.
bool median_contrast(const cv::Mat& contrast, const cv::Mat& where, cv::Vec3f& out) {
  std::array<std::vector<float>, 3> values;
  for (int y = 0; y < contrast.rows; ++y) {
    const auto* c = contrast.ptr<cv::Vec3f>(y);
    const uint8_t* w = where.ptr<uint8_t>(y);
    for (int x = 0; x < contrast.cols; ++x)
      if (w[x])
        for (int k = 0; k < 3; ++k) values[static_cast<size_t>(k)].push_back(c[x][k]);
  }
  if (values[0].empty()) return false;
  for (int k = 0; k < 3; ++k) {
    auto& v = values[static_cast<size_t>(k)];
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    out[k] = v[v.size() / 2];
  }
  return true;
}

}  // namespace

int edge_refinement_margin(const DenseOptions& options) { return options.edge_band_px + kRingPx; }

cv::Mat refine_edges(const cv::Mat& bgr8, const Bgr& substrate, const cv::Mat& mask, const cv::Mat& others,
                     const DenseOptions& options) {
  const int band_px = options.edge_band_px;
  const cv::Rect found = cv::boundingRect(mask);
  if (band_px <= 0 || found.empty()) return mask;
  const int margin = edge_refinement_margin(options);
  const cv::Rect box = cv::Rect(found.x - margin, found.y - margin, found.width + 2 * margin, found.height + 2 * margin) &
                       cv::Rect(0, 0, bgr8.cols, bgr8.rows);

  // Contrast in the box, smoothed 3x3 against JPEG and sensor noise.
  cv::Mat contrast;
  bgr8(box).convertTo(contrast, CV_32FC3);
  const cv::Scalar inverse(1.0 / std::max(1.0, substrate[0]), 1.0 / std::max(1.0, substrate[1]),
                           1.0 / std::max(1.0, substrate[2]));
  cv::multiply(contrast, inverse, contrast);
  cv::subtract(contrast, cv::Scalar::all(1.0), contrast);
  cv::blur(contrast, contrast, {3, 3});

  const cv::Mat inside = mask(box);
  cv::Mat core, band, ring;
  cv::erode(inside, core, disc(1));
  if (cv::countNonZero(core) == 0) core = inside;
  cv::dilate(inside, band, disc(band_px));
  cv::dilate(band, ring, disc(kRingPx));
  ring &= ~band;
  cv::Mat free = cv::Mat(box.size(), CV_8U, cv::Scalar(255));
  if (!others.empty()) free = others(box) == 0;
  ring &= free;

  cv::Vec3f flake, ground(0, 0, 0);
  if (!median_contrast(contrast, core, flake)) return mask;
  median_contrast(contrast, ring, ground);  // none: the global substrate (C = 0)
  if (cv::norm(flake - ground) < kMinEdgeContrast) return mask;

  cv::Mat closer(box.size(), CV_8U, cv::Scalar(0));
  for (int y = 0; y < box.height; ++y) {
    const auto* c = contrast.ptr<cv::Vec3f>(y);
    const uint8_t* b = band.ptr<uint8_t>(y);
    const uint8_t* f = free.ptr<uint8_t>(y);
    uint8_t* out = closer.ptr<uint8_t>(y);
    for (int x = 0; x < box.width; ++x) {
      if (!b[x] || !f[x]) continue;
      const cv::Vec3f d_flake = c[x] - flake, d_ground = c[x] - ground;
      out[x] = d_flake.dot(d_flake) < d_ground.dot(d_ground) ? 255 : 0;
    }
  }
  // Keep the parts connected to the mask's inner part.
  cv::Mat labels;
  const int count = cv::connectedComponents(closer, labels, 8, CV_32S);
  std::vector<uint8_t> keep(static_cast<size_t>(count), 0);
  for (int y = 0; y < box.height; ++y) {
    const int* l = labels.ptr<int>(y);
    const uint8_t* k = core.ptr<uint8_t>(y);
    for (int x = 0; x < box.width; ++x)
      if (k[x] && l[x] > 0) keep[static_cast<size_t>(l[x])] = 1;
  }
  cv::Mat refined = cv::Mat::zeros(mask.size(), CV_8U);
  cv::Mat part = refined(box);
  for (int y = 0; y < box.height; ++y) {
    const int* l = labels.ptr<int>(y);
    uint8_t* out = part.ptr<uint8_t>(y);
    for (int x = 0; x < box.width; ++x)
      if (l[x] > 0 && keep[static_cast<size_t>(l[x])]) out[x] = 255;
  }
  return refined;
}

}  // namespace maskterial::segment
