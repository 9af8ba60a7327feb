#pragma once
// What the dense model sees: the image resized by the model's inference scale, as optical contrast against
// its own substrate colour, C = I / I_bg - 1 per channel (BGR) — the classifiers' feature. White balance,
// exposure and oxide colour, which vary from scan to scan, divide out; a flake's contrast stays.
#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/segment/dense/dense_options.hpp"

namespace maskterial::segment {

// CV_32FC(options.input_channels()) of the image's (already scaled) pixels, as options.input says:
// clamp(C x gain, ±clip) and/or (I - scan mean) / scan spread. `substrate` is the colour C is measured against.
cv::Mat dense_features(const cv::Mat& scaled_bgr8, const Bgr& substrate, const DenseOptions& options);

}  // namespace maskterial::segment
