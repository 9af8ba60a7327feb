#pragma once
// Terraces: the areas of one contrast inside one flake region. A segmenter mask often covers a flake with
// mono-, bi- and few-layer steps, or a thin flake together with the thicker one it leans on; labs annotate each
// thickness as its own flake, and one class-agnostic classifier class cannot tell them apart. The region's
// smoothed contrast is clustered (k-means, 2 to max_terraces clusters); a clustering counts only if its
// centres are distinct steps (at least min_step apart, well outside each cluster's spread, with few pixels
// between them), so a uniform flake with noise or a gradient stays whole.
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/pipeline/components.hpp"

namespace maskterial {

struct TerraceOptions {
  int min_pixels = 200;      // smallest terrace (after opening), px
  double min_step = 0.04;    // contrast between terraces (Euclidean over the usable channels)
  double min_separation = 3;  // centre distance over the clusters' mean RMS spread
  double max_between_share = 0.12;  // of two terraces' pixels, at most this share in the middle of their step
  int max_terraces = 3;
};

// region: CV_8U (non-zero inside) crop of the image at `box`. Returns the terraces as components in image
// coordinates (opened with a 3x3 square twice, 4-connected, at least min_pixels), or nothing when the region is
// one contrast. Deterministic.
std::vector<Component> split_into_terraces(const cv::Mat& region, const cv::Rect& box, const cv::Mat& bgr8,
                                           const Bgr& background, const ChannelMask& usable,
                                           const TerraceOptions& options);

}  // namespace maskterial
