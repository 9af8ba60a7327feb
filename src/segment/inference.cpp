#include "maskterial/segment/inference.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>

namespace maskterial::segment {

std::vector<InstanceMask> suppress_duplicates(std::vector<InstanceMask> sorted, double max_iou) {
  std::vector<InstanceMask> kept;
  std::vector<cv::Rect> boxes;
  std::vector<int> areas;
  for (InstanceMask& candidate : sorted) {
    const cv::Rect box = cv::boundingRect(candidate.mask);
    const int area = cv::countNonZero(candidate.mask(box));
    bool duplicate = false;
    for (size_t k = 0; k < kept.size() && !duplicate; ++k) {
      const cv::Rect shared = box & boxes[k];
      if (shared.empty()) continue;
      const int overlap = cv::countNonZero(candidate.mask(shared) & kept[k].mask(shared));
      duplicate = overlap > max_iou * static_cast<double>(area + areas[k] - overlap);
    }
    if (duplicate) continue;
    boxes.push_back(box);
    areas.push_back(area);
    kept.push_back(std::move(candidate));
  }
  return kept;
}

std::vector<Tile> plan_tiles(cv::Size image, int tile, int overlap) {
  // Along one axis: evenly spread origins, the last flush with the end, neighbours overlapping by at least
  // `overlap`; each tile owns up to the middle of its overlaps.
  struct Span { int origin, length; double owned_lo, owned_hi; };
  const auto spans = [&](int extent) {
    const int length = tile > 0 ? std::min(tile, extent) : extent;
    const int n = length >= extent ? 1 : 1 + (extent - length + (length - overlap) - 1) / (length - overlap);
    std::vector<Span> out;
    for (int i = 0; i < n; ++i)
      out.push_back({n == 1 ? 0 : static_cast<int>(std::lround(static_cast<double>(i) * (extent - length) / (n - 1))),
                     length, -HUGE_VAL, HUGE_VAL});
    for (int i = 0; i + 1 < n; ++i)
      out[i].owned_hi = out[i + 1].owned_lo = 0.5 * (out[i + 1].origin + out[i].origin + length);
    return out;
  };
  std::vector<Tile> tiles;
  for (const Span& y : spans(image.height))
    for (const Span& x : spans(image.width))
      tiles.push_back({cv::Rect(x.origin, y.origin, x.length, y.length), x.owned_lo, x.owned_hi, y.owned_lo, y.owned_hi});
  return tiles;
}

cv::Mat scale_image(const cv::Mat& bgr8, double scale) {
  if (scale == 1.0) return bgr8;
  const cv::Size size(std::max(1, static_cast<int>(std::lround(bgr8.cols * scale))),
                      std::max(1, static_cast<int>(std::lround(bgr8.rows * scale))));
  cv::Mat out;
  cv::resize(bgr8, out, size, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

}  // namespace maskterial::segment
