#pragma once
// Substrate background and optical contrast. Contrast C = I / I_bg - 1 per channel (BGR) is the physical
// feature that identifies a flake's thickness (thin-film interference); the background is the bare SiO2/Si
// colour, estimated from the histogram mode because most of a scan image is bare substrate.
#include <array>

#include <opencv2/core.hpp>

namespace maskterial {

using Bgr = std::array<double, 3>;

struct BackgroundRule {
  int radius = 5;        // pixels within mode ± radius are averaged
  int min_value = 20;    // the mode is searched in [min_value, max_value]: skips shadows and overexposure
  int max_value = 230;
  // Training rule of MaskTerial: per-channel masks eroded (3x3, `erode_iterations` times) and intersected,
  // so only pixels that are background in all three channels, away from edges, are averaged.
  bool joint_eroded_mask = false;
  int erode_iterations = 3;

  // The rule the reference detectors use at inference: radius 5, independent channels.
  static BackgroundRule inference() { return {}; }
  // The rule MaskTerial uses to build training data: radius 10, eroded joint mask.
  static BackgroundRule training() { return {10, 20, 230, true, 3}; }
};

// Background colour of an 8-bit BGR image. Channels with no usable pixels come back as 0; callers treat
// any channel < 1 as "no background found" (see has_valid_background).
Bgr estimate_background(const cv::Mat& bgr8, const BackgroundRule& rule = BackgroundRule::inference());
bool has_valid_background(const Bgr& background);
// Per-channel median (8-bit levels) of a BGR image.
Bgr channel_medians(const cv::Mat& bgr8);
// The substrate colour as far as it can be measured: the histogram-mode background, and for a channel where
// that finds nothing (saturated or black, as in an overexposed scan) the channel's median, at least 1.
Bgr substrate_colour(const cv::Mat& bgr8);

// Flat-field (vignetting) correction as in 2DMatGMM: I * mean(F) / F per channel, clipped at
// max_value (241) and truncated to 8 bits. flat_field must have the image's size; zeros count as 1.
cv::Mat apply_flat_field(const cv::Mat& bgr8, const cv::Mat& flat_field, int max_value = 241);

// CV_32FC3 contrast image, computed in float32 like the reference code.
cv::Mat contrast_image(const cv::Mat& bgr8, const Bgr& background);

// Per channel lookup: contrast of each 8-bit value; lets hot loops avoid the float image entirely.
using ContrastLut = std::array<std::array<float, 256>, 3>;

// How the reference code rounds: 2DMatGMM divides by a float32 background in float32; MaskTerial's torch path
// rounds the background to half precision and divides the uint8 image by it in half precision.
enum class ContrastPrecision { Float32, Half };

ContrastLut contrast_lut(const Bgr& background, ContrastPrecision precision = ContrastPrecision::Float32);

// Nearest IEEE half-precision value (ties to even), as a float; finite inputs below 65520 in magnitude.
float round_to_half(float x);

}  // namespace maskterial
