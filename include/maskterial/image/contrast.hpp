#pragma once
// Substrate background and optical contrast. Contrast C = I / I_bg - 1 per channel (BGR) is the physical
// feature that identifies a flake's thickness (thin-film interference); the background is the bare SiO2/Si
// colour, estimated from the histogram mode because most of a scan image is bare substrate.
#include <array>
#include <string>

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

// Which channels of an image carry contrast (B, G, R).
using ChannelMask = std::array<bool, 3>;
inline constexpr ChannelMask kAllChannels{true, true, true};
std::string channel_list(const ChannelMask& channels);  // "blue and red", "green", ...

// A class is judged only on the channels that at least this share of its training samples measured
// (ContrastSamples::channel_coverage): the others were imputed with one mean on most samples, so their spread
// is far too narrow and would call every properly exposed flake of the class unknown.
inline constexpr double kMinChannelCoverage = 0.5;
// The channels a class is judged on: those with kMinChannelCoverage, or the best measured one if none has.
ChannelMask measured_channels(const std::array<double, 3>& coverage);
// What a pixel of an image is compared with a class on: the image's usable channels that the class measured,
// or all the image's usable channels when the two share none.
ChannelMask comparison_channels(const ChannelMask& image, const ChannelMask& class_measured);

// What the substrate of one channel looks like. An overexposed scan (bright lamp, pink oxide) pins the
// substrate at 255 in some channels: the true substrate level, and so every contrast, is unknown there.
enum class ChannelState {
  Measured,   // the substrate's level lies between the clip bands: contrast is physical
  Saturated,  // the substrate sits at the top clip band (>= kSaturatedLevel)
  Dark,       // the substrate sits at the bottom clip band (<= kDarkLevel)
};
inline constexpr int kSaturatedLevel = 250;  // JPEG rings a clipped 255 down to about 250
inline constexpr int kDarkLevel = 5;

struct BackgroundEstimate {
  // Measured channels: the substrate colour. Saturated: 255, so contrast is measured against the clip level
  // (0 on the substrate, a lower bound of |C| on a darker flake). Dark: 1 (contrast meaningless, never used).
  Bgr colour{};
  std::array<ChannelState, 3> state{ChannelState::Measured, ChannelState::Measured, ChannelState::Measured};
  std::array<double, 3> saturated_share{};  // share of the image's pixels at >= kSaturatedLevel
  std::array<double, 3> dark_share{};       // share at <= kDarkLevel

  ChannelMask measured() const;
  // The channels whose contrast the classifiers use: the measured ones; when none is measured, the saturated
  // ones that have some pixels (0.1 % of the image) below the clip band, against the clip level (only flakes
  // darker than the clip show; consistent between scans taken with the same exposure, not across exposures).
  // Empty when every channel is dark or white throughout.
  ChannelMask usable() const;
  bool any_usable() const;
  bool against_clip_level() const;  // usable() holds no measured channel
  // Why channels are left out, in words: "blue and red are saturated (255) on 72 and 80 % of the image".
  // Empty when every channel is measured.
  std::string ignored_reason() const;
  // The whole story for a log line or an error: what is left out, what is used, and what to do about it.
  std::string explain() const;
};

// Substrate colour and the state of each channel of an 8-bit BGR image. A channel is saturated (dark) when more
// pixels sit in its top (bottom) clip band than around the substrate's histogram mode. For a measured channel
// the mode is searched in [rule.min_value, rule.max_value] as the reference does; a substrate outside that
// range but off the clip bands (a bright but unclipped scan) is searched between the clip bands.
BackgroundEstimate measure_background(const cv::Mat& bgr8, const BackgroundRule& rule = BackgroundRule::inference());

// The measured background colour alone: channels not measured (saturated or dark) come back as 0; callers
// treat any channel < 1 as "no background found" (see has_valid_background).
Bgr estimate_background(const cv::Mat& bgr8, const BackgroundRule& rule = BackgroundRule::inference());
bool has_valid_background(const Bgr& background);
// Per-channel median (8-bit levels) of a BGR image.
Bgr channel_medians(const cv::Mat& bgr8);
// The substrate colour as far as it can be measured (measure_background's colour): a saturated channel at 255,
// a dark one at its median (at least 1).
Bgr substrate_colour(const cv::Mat& bgr8);

// Flat-field (vignetting) correction as in 2DMatGMM: I * mean(F) / F per channel, clipped at
// max_value (241) and truncated to 8 bits. flat_field must have the image's size; zeros count as 1.
cv::Mat apply_flat_field(const cv::Mat& bgr8, const cv::Mat& flat_field, int max_value = 241);

// CV_32FC3 contrast image, computed in float32 like the reference code.
cv::Mat contrast_image(const cv::Mat& bgr8, const Bgr& background);
// The same over the usable channels only: the others are held at 0, so they add nothing to any distance.
cv::Mat contrast_image(const cv::Mat& bgr8, const Bgr& background, const ChannelMask& usable);
// CV_32F: each pixel's Euclidean norm over the channels of a CV_32FC3 image (a contrast, or a difference of two).
cv::Mat contrast_norm(const cv::Mat& contrast);

// Per channel lookup: contrast of each 8-bit value; lets hot loops avoid the float image entirely.
using ContrastLut = std::array<std::array<float, 256>, 3>;

// How the reference code rounds: 2DMatGMM divides by a float32 background in float32; MaskTerial's torch path
// rounds the background to half precision and divides the uint8 image by it in half precision.
enum class ContrastPrecision { Float32, Half };

ContrastLut contrast_lut(const Bgr& background, ContrastPrecision precision = ContrastPrecision::Float32);

// Nearest IEEE half-precision value (ties to even), as a float; finite inputs below 65520 in magnitude.
float round_to_half(float x);

}  // namespace maskterial
