#include "maskterial/segment/dense/dense_input.hpp"

#include <algorithm>

#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

// MaskTerial's pixel statistics of SiO2/Si scans (BGR, 8-bit levels): the fixed colour normalisation.
constexpr float kScanMean[3] = {107.0f, 148.0f, 85.0f};
constexpr float kScanSpread[3] = {33.0f, 34.0f, 40.0f};

}  // namespace

cv::Mat dense_features(const cv::Mat& scaled_bgr8, const Bgr& substrate, const DenseOptions& options) {
  if (scaled_bgr8.type() != CV_8UC3) throw Error("dense model: expected an 8-bit BGR image");
  const int channels = options.input_channels();
  cv::Mat out(scaled_bgr8.size(), CV_32FC(channels));
  float inverse[3];
  for (int c = 0; c < 3; ++c) inverse[c] = static_cast<float>(options.contrast_gain / std::max(1.0, substrate[c]));
  const float gain = static_cast<float>(options.contrast_gain), clip = static_cast<float>(options.input_clip);
  const bool contrast = options.input != "colour", colour = options.input != "contrast";
  for (int y = 0; y < scaled_bgr8.rows; ++y) {
    const uint8_t* in = scaled_bgr8.ptr<uint8_t>(y);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < scaled_bgr8.cols; ++x, in += 3, o += channels) {
      float* next = o;
      if (contrast)
        for (int c = 0; c < 3; ++c) *next++ = std::clamp(in[c] * inverse[c] - gain, -clip, clip);
      if (colour)
        for (int c = 0; c < 3; ++c) *next++ = (in[c] - kScanMean[c]) / kScanSpread[c];
    }
  }
  return out;
}

}  // namespace maskterial::segment
