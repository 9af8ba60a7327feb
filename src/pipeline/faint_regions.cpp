#include "maskterial/pipeline/faint_regions.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace maskterial {
namespace {

constexpr double kRange = 0.1;  // contrast range the smoothing sees

}  // namespace

std::vector<Component> find_faint_regions(const cv::Mat& bgr8, const Bgr& background, const ChannelMask& usable,
                                          const cv::Mat& covered, const FaintRegionOptions& options) {
  if (std::none_of(usable.begin(), usable.end(), [](bool use) { return use; })) return {};
  const double s = options.scale;
  cv::Mat small;
  cv::resize(bgr8, small, cv::Size(), 1 / s, 1 / s, cv::INTER_AREA);
  if (small.rows < 8 || small.cols < 8) return {};
  const cv::Mat contrast = contrast_image(small, background, usable);

  // Edges kept, noise and texture flattened; contrasts beyond +-kRange are held there (they are not faint).
  cv::Mat clipped, smooth;
  cv::min(cv::max(contrast, -kRange), kRange, clipped);
  cv::bilateralFilter(clipped, smooth, options.smoothing_diameter, options.smoothing_contrast, options.smoothing_space);
  const cv::Mat level = contrast_norm(smooth);
  cv::Mat plateau = (level > options.plateau_contrast) & (level < options.max_contrast);
  cv::morphologyEx(plateau, plateau, cv::MORPH_OPEN, cv::Mat::ones(3, 3, CV_8U));

  const cv::Mat thick = contrast_norm(contrast) >= options.max_contrast;
  cv::Mat covered_small;
  if (!covered.empty()) cv::resize(covered, covered_small, small.size(), 0, 0, cv::INTER_AREA);
  const double min_small = options.min_pixels / (s * s);
  const cv::Rect frame(0, 0, small.cols, small.rows);
  std::vector<Component> out;
  for (const Component& part : connected_components(plateau, 4)) {
    if (part.area < min_small) continue;
    const cv::Rect& b = part.box;
    if (b.x == 0 || b.y == 0 || b.br().x == small.cols || b.br().y == small.rows) continue;  // not whole
    const cv::Rect grown = cv::Rect(b.x - 4, b.y - 4, b.width + 8, b.height + 8) & frame;
    const cv::Mat inside = render_component(part, grown);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(inside.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
    const auto outline = std::max_element(contours.begin(), contours.end(),
                                          [](const auto& a, const auto& c) { return cv::contourArea(a) < cv::contourArea(c); });
    std::vector<cv::Point> hull;
    cv::convexHull(*outline, hull);
    const double area = cv::contourArea(*outline), hull_area = cv::contourArea(hull);
    const cv::Size2f side = cv::minAreaRect(*outline).size;
    if (hull_area <= 0 || area / hull_area < options.min_solidity) continue;
    if (std::max(side.width, side.height) > options.max_elongation * std::max(1.0f, std::min(side.width, side.height)) ||
        std::min(side.width, side.height) * s < options.min_width)
      continue;
    const double mean = cv::norm(cv::mean(contrast(grown), inside));
    if (mean < options.min_contrast || mean > options.max_contrast) continue;
    cv::Mat ring;
    cv::dilate(inside, ring, cv::Mat::ones(3, 3, CV_8U));
    ring &= ~inside;
    const int ring_pixels = cv::countNonZero(ring);
    if (ring_pixels > 0 && cv::countNonZero(thick(grown) & ring) > options.max_thick_ring_share * ring_pixels) continue;
    if (!covered_small.empty() &&
        cv::mean(covered_small(grown), inside)[0] > options.max_covered_share * 255)
      continue;
    // Back to full resolution: the region's pixels, upsampled, within the image.
    cv::Mat full;
    cv::resize(inside, full, cv::Size(), s, s, cv::INTER_NEAREST);
    const cv::Rect at(grown.x * options.scale, grown.y * options.scale, full.cols, full.rows);
    const cv::Rect clipped = at & cv::Rect(0, 0, bgr8.cols, bgr8.rows);
    for (Component& c : connected_components(full(clipped - at.tl()), 4, clipped.tl())) out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Component& a, const Component& b) { return a.area > b.area; });
  return out;
}

}  // namespace maskterial
