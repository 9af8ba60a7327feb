#pragma once
// Inference plumbing every segmentation model type shares: the scaled image a network sees, tiles, and
// duplicate suppression.
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial::segment {

// The image the network sees: bgr8 resized by `scale` (area averaging when shrinking, bilinear when
// growing). Training on images of the same scale keeps flakes the size the model learnt.
cv::Mat scale_image(const cv::Mat& bgr8, double scale);

// Greedy mask NMS over instances sorted best first: drops each mask whose IoU with a kept one exceeds max_iou.
std::vector<InstanceMask> suppress_duplicates(std::vector<InstanceMask> sorted, double max_iou);

// A tile of the scaled image and the part of it that it owns (half-open, scaled-image pixels).
struct Tile {
  cv::Rect region;
  double owned_x_lo, owned_x_hi, owned_y_lo, owned_y_hi;
};
// Tiles of `tile` pixels (0 = one tile, the whole image) covering `image`, overlapping by at least `overlap`;
// their owned parts partition the plane.
std::vector<Tile> plan_tiles(cv::Size image, int tile, int overlap);

}  // namespace maskterial::segment
