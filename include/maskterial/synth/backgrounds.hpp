#pragma once
// Substrate backgrounds for synthetic images: crops of real, unlabelled scan images with their flakes
// painted out, or fully synthetic ones (substrate colour, vignetting, illumination gradient).
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/synth/random.hpp"

namespace maskterial::synth {

// A real image made flake-free: pixels whose contrast against the substrate exceeds `threshold` in any
// channel (grown by a few pixels) are replaced by the smooth illumination of their surroundings.
cv::Mat remove_flakes(const cv::Mat& bgr8, double threshold = 0.05);
// The image with the `foreground` pixels (CV_8U, nonzero) replaced by the smooth illumination of the substrate
// (colour `background`) around them.
cv::Mat paint_out(const cv::Mat& bgr8, const Bgr& background, const cv::Mat& foreground);

class BackgroundLibrary {
 public:
  // Loads and cleans (remove_flakes at `threshold`) every image of the folders (not recursive); throws Error
  // if none is usable. Unreadable files are skipped with a warning.
  static BackgroundLibrary load(const std::vector<std::string>& folders, double threshold = 0.05);
  explicit BackgroundLibrary(std::vector<cv::Mat> flake_free_bgr8);

  bool empty() const { return images_.empty(); }
  size_t size() const { return images_.size(); }
  // A random crop of `size` (mirror-tiled where an image is smaller), randomly flipped or transposed, as
  // CV_32FC3 in 8-bit units.
  cv::Mat sample(Random& random, cv::Size size) const;

 private:
  std::vector<cv::Mat> images_;
};

// Synthetic substrate: `colour` (8-bit units, BGR) under a radial vignetting and a linear illumination
// gradient, with faint low-frequency unevenness, each up to the given relative strength; CV_32FC3.
struct Illumination {
  double vignetting_max = 0.25;
  double gradient_max = 0.12;
  double unevenness_max = 0.04;
};
cv::Mat synthetic_background(Random& random, cv::Size size, const Bgr& colour, const Illumination& illumination);

}  // namespace maskterial::synth
