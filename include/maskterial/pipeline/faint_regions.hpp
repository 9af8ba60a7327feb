#pragma once
// Faint regions: large flakes of a few per cent of contrast (thin, weakly absorbing layers; a monolayer on an
// oxide that hides it) that the segmentation model, trained on stronger contrasts, misses. The contrast image
// at a quarter of the resolution is smoothed by a bilateral filter, which keeps steps and flattens noise (as
// L0 smoothing does, for a fifteenth of its time); a plateau off the substrate's contrast, compact, off the
// image border, away from thick material (a halo along a crystal is not a flake) and not already covered by a
// mask is a candidate.
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/pipeline/components.hpp"

namespace maskterial {

struct FaintRegionOptions {
  int scale = 4;                    // work at 1 / scale of the resolution (area averaging)
  int smoothing_diameter = 9;       // bilateral filter: neighbourhood, px at that scale
  double smoothing_contrast = 0.01; // bilateral filter: contrast difference that halves a neighbour's weight
  double smoothing_space = 5;       // bilateral filter: distance (px at that scale) likewise
  double plateau_contrast = 0.025;  // smoothed contrast (Euclidean over usable channels) of a plateau pixel
  double min_contrast = 0.02;       // the region's mean contrast, at least
  double max_contrast = 0.1;        // stronger contrasts are the segmentation model's
  int min_pixels = 6000;            // full resolution (about 900 µm² at 20×): large flakes only
  double min_width = 40;            // px, full resolution: the short side of the rotated box (a halo is a strip)
  double min_solidity = 0.7;        // area over convex hull: a flake, not a streak of residue
  double max_elongation = 4;        // rotated box, long over short side
  // Of the ring just outside, at most this share above max_contrast: a thin flake often hangs on the thick
  // crystal it was cleaved from, but a region mostly enclosed by thick material is a gap between crystals.
  double max_thick_ring_share = 0.5;
  double max_covered_share = 0.2;   // of the region, at most this share under a segmentation mask
};

// Regions in image coordinates (full resolution), largest first. background: the substrate colour; usable:
// the channels whose contrast is measured; covered: CV_8U, non-zero where a mask already lies (or empty).
std::vector<Component> find_faint_regions(const cv::Mat& bgr8, const Bgr& background, const ChannelMask& usable,
                                          const cv::Mat& covered, const FaintRegionOptions& options = {});

}  // namespace maskterial
