#include "maskterial/image/contrast.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

std::array<std::array<uint64_t, 256>, 3> channel_histograms(const cv::Mat& bgr8) {
  std::array<std::array<uint64_t, 256>, 3> hist{};
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* p = bgr8.ptr<uint8_t>(y);
    for (int x = 0; x < bgr8.cols; ++x, p += 3) {
      ++hist[0][p[0]];
      ++hist[1][p[1]];
      ++hist[2][p[2]];
    }
  }
  return hist;
}

int histogram_mode(const std::array<uint64_t, 256>& hist, int lo, int hi) {
  int mode = lo;
  for (int v = lo; v <= hi; ++v)
    if (hist[v] > hist[mode]) mode = v;  // first maximum wins, as numpy's argmax
  return mode;
}

// Independent channels: mean of the values within [mode - r, mode + r] clipped to the search range.
Bgr independent_channel_background(const cv::Mat& bgr8, const BackgroundRule& rule) {
  const auto hist = channel_histograms(bgr8);
  Bgr background{};
  for (int c = 0; c < 3; ++c) {
    const int mode = histogram_mode(hist[c], rule.min_value, rule.max_value);
    const int lo = std::max(rule.min_value, mode - rule.radius);
    const int hi = std::min(rule.max_value, mode + rule.radius);
    uint64_t sum = 0, count = 0;
    for (int v = lo; v <= hi; ++v) {
      sum += hist[c][v] * static_cast<uint64_t>(v);
      count += hist[c][v];
    }
    // The reference stores the mean as float32; keep that rounding so contrasts match bit for bit.
    background[c] = count ? static_cast<float>(static_cast<double>(sum) / static_cast<double>(count)) : 0.0;
  }
  return background;
}

Bgr joint_mask_background(const cv::Mat& bgr8, const BackgroundRule& rule) {
  std::vector<cv::Mat> channels;
  cv::split(bgr8, channels);
  cv::Mat joint;
  for (int c = 0; c < 3; ++c) {
    cv::Mat in_range;
    cv::inRange(channels[c], rule.min_value, rule.max_value, in_range);
    cv::Mat hist;
    const int hist_size = 256;
    const float range[] = {0, 256};
    const float* ranges[] = {range};
    cv::calcHist(&channels[c], 1, nullptr, in_range, hist, 1, &hist_size, ranges);
    cv::Point max_loc;
    cv::minMaxLoc(hist, nullptr, nullptr, nullptr, &max_loc);
    const int mode = max_loc.y;
    cv::Mat near_mode;
    cv::inRange(channels[c], mode - rule.radius, mode + rule.radius, near_mode);
    cv::erode(near_mode, near_mode, cv::Mat::ones(3, 3, CV_8U), cv::Point(-1, -1), rule.erode_iterations);
    joint = c == 0 ? near_mode : (joint & near_mode);
  }
  const cv::Scalar mean = cv::mean(bgr8, joint);
  return {mean[0], mean[1], mean[2]};
}

}  // namespace

Bgr estimate_background(const cv::Mat& bgr8, const BackgroundRule& rule) {
  if (bgr8.type() != CV_8UC3) throw Error("estimate_background: expected an 8-bit BGR image");
  if (rule.min_value < 0 || rule.max_value > 255 || rule.min_value > rule.max_value || rule.radius < 0)
    throw Error("background rule: need 0 <= min_value <= max_value <= 255 and radius >= 0");
  return rule.joint_eroded_mask ? joint_mask_background(bgr8, rule) : independent_channel_background(bgr8, rule);
}

bool has_valid_background(const Bgr& background) {
  return std::all_of(background.begin(), background.end(), [](double v) { return v >= 1.0; });
}

Bgr channel_medians(const cv::Mat& bgr8) {
  const auto hist = channel_histograms(bgr8);
  const uint64_t half = (static_cast<uint64_t>(bgr8.total()) + 1) / 2;
  Bgr medians{};
  for (int c = 0; c < 3; ++c) {
    uint64_t seen = 0;
    int value = 0;
    while (value < 255 && (seen += hist[c][static_cast<size_t>(value)]) < half) ++value;
    medians[c] = value;
  }
  return medians;
}

Bgr substrate_colour(const cv::Mat& bgr8) {
  Bgr colour = estimate_background(bgr8);
  if (has_valid_background(colour)) return colour;
  const Bgr medians = channel_medians(bgr8);
  for (int c = 0; c < 3; ++c)
    if (colour[c] < 1) colour[c] = std::max(1.0, medians[c]);
  return colour;
}

cv::Mat apply_flat_field(const cv::Mat& bgr8, const cv::Mat& flat_field, int max_value) {
  if (flat_field.size() != bgr8.size() || flat_field.type() != CV_8UC3)
    throw Error("flat field: must be an 8-bit colour image of the same size as the image (" +
                std::to_string(bgr8.cols) + "x" + std::to_string(bgr8.rows) + ")");
  const cv::Scalar flat_mean = cv::mean(flat_field);
  cv::Mat out(bgr8.size(), CV_8UC3);
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* in = bgr8.ptr<uint8_t>(y);
    const uint8_t* flat = flat_field.ptr<uint8_t>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int i = 0; i < bgr8.cols * 3; ++i) {
      const double f = std::max<uint8_t>(flat[i], 1);
      const double v = std::min<double>(in[i] / f * flat_mean[i % 3], max_value);
      o[i] = static_cast<uint8_t>(v);  // truncation, as numpy's astype(uint8)
    }
  }
  return out;
}

float round_to_half(float x) {
  if (x == 0.0f || !std::isfinite(x)) return x;
  // Half has 11 significant bits; below 2^-14 it is subnormal with a fixed spacing of 2^-24.
  const int exponent = std::max(std::ilogb(x), -14);
  const float spacing = std::ldexp(1.0f, exponent - 10);
  return std::nearbyint(x / spacing) * spacing;  // default rounding mode: ties to even
}

ContrastLut contrast_lut(const Bgr& background, ContrastPrecision precision) {
  ContrastLut lut{};
  for (int c = 0; c < 3; ++c) {
    if (precision == ContrastPrecision::Half) {
      const float bg = round_to_half(static_cast<float>(background[c]));
      for (int v = 0; v < 256; ++v) lut[c][v] = round_to_half(round_to_half(static_cast<float>(v) / bg) - 1.0f);
    } else {
      const float bg = static_cast<float>(background[c]);
      for (int v = 0; v < 256; ++v) lut[c][v] = static_cast<float>(v) / bg - 1.0f;
    }
  }
  return lut;
}

cv::Mat contrast_image(const cv::Mat& bgr8, const Bgr& background) {
  if (bgr8.type() != CV_8UC3) throw Error("contrast_image: expected an 8-bit BGR image");
  if (!has_valid_background(background)) throw Error("contrast_image: background has a channel below 1");
  const auto lut = contrast_lut(background);
  cv::Mat contrast(bgr8.size(), CV_32FC3);
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* in = bgr8.ptr<uint8_t>(y);
    float* out = contrast.ptr<float>(y);
    for (int i = 0; i < bgr8.cols * 3; i += 3) {
      out[i] = lut[0][in[i]];
      out[i + 1] = lut[1][in[i + 1]];
      out[i + 2] = lut[2][in[i + 2]];
    }
  }
  return contrast;
}

}  // namespace maskterial
