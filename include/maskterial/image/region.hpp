#pragma once
// Region growing for annotation: the flake under a clicked point, grown on the contrast image (contrast.hpp)
// by flood fill in contrast space. A pixel joins when its (slightly smoothed) contrast lies within
// tolerance x |seed contrast| of the seed's, so tolerance 0.5 puts the edge half way between the flake and
// bare substrate whatever the flake's thickness. Touching flakes of the same contrast are then cut apart at
// narrow necks (an opening sized by the flake's local half-width, reconstructed inside the grown region), and
// holes are filled. A flake probability map (e.g. the dense segmentation model's) may guide the growth.
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"

namespace maskterial {

struct RegionOptions {
  double tolerance = 0.5;        // (0, 1]: fraction of the seed's distance to the substrate in contrast space
  double smoothing_sigma = 1.0;  // Gaussian blur of the contrast image (JPEG and sensor noise), pixels; 0: none
  int seed_radius = 2;           // the seed contrast is the mean over a (2r+1)^2 window around the point
  double neck_fraction = 0.5;    // opening radius as a fraction of the half-width at the seed; 0: no neck cut
  // The seed must stand out from the substrate: |seed contrast| at least noise_factor x the image's median
  // |contrast| (mostly substrate noise and vignetting) and at least min_seed_contrast.
  double noise_factor = 3;
  double min_seed_contrast = 0.02;
  double max_area_fraction = 0.5;  // a region larger than this share of the image has leaked into the substrate
  // With a probability map, a pixel's tolerance is scaled by (guide_floor + p): confident flake pixels join
  // more easily, pixels the model calls substrate less easily.
  double guide_floor = 0.5;

  void validate() const;  // throws Error naming the option
};

struct Region {
  bool found = false;
  std::string reason;         // why not, when !found ("no flake here: ...")
  cv::Mat mask;               // CV_8U 0/1 of the image's size (all 0 when !found)
  int64_t area = 0;
  cv::Rect bbox;
  Bgr background{};           // the substrate colour the contrast is measured against
  Bgr seed_contrast{};
  Bgr mean_contrast{};        // of the region's pixels (unsmoothed)
};

// bgr8: 8-bit BGR image; seed inside it (Error otherwise). flake_probability: empty, or CV_32F of any size
// (resized bilinearly to the image), values in [0, 1].
Region grow_region(const cv::Mat& bgr8, cv::Point seed, const RegionOptions& options = {},
                   const cv::Mat& flake_probability = cv::Mat());

}  // namespace maskterial
