#pragma once
// Pixel-exact flake edges from the physics: the network's masks come from a grid 4 image pixels wide, too
// coarse for the thin, narrow flakes labs look for. Near each mask's edge (a band of options.edge_band_px) a
// pixel belongs to the flake when its contrast C = I / I_bg - 1 is closer to the flake's own (median over the
// mask's inner part) than to the local substrate's (median over a ring just outside the band); the parts that
// touch the inner part are kept. Pixels of other instances are never taken.
#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/segment/dense/dense_options.hpp"

namespace maskterial::segment {

// bgr8: the image; substrate: its substrate colour; mask: CV_8U (255 inside) of the image's size; others:
// CV_8U, non-zero where other instances lie (may be empty). Returns the refined mask (the input where the flake
// has no measurable contrast against its surroundings, or where the band is 0).
// How far beyond a mask's bounding box refine_edges reads the image and `others` (the band plus the ring).
int edge_refinement_margin(const DenseOptions& options);

cv::Mat refine_edges(const cv::Mat& bgr8, const Bgr& substrate, const cv::Mat& mask, const cv::Mat& others,
                     const DenseOptions& options);

}  // namespace maskterial::segment
