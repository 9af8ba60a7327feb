#pragma once
// Loading microscope images. The library works on 8-bit BGR cv::Mat (CV_8UC3), OpenCV's own layout, which is
// also what the reference Python code gets from cv2.imread. Conversions that happen on load (documented in
// README "Image formats"): 16-bit colour is scaled to 8 bits (v / 257, rounded); a 4th (alpha) channel is
// dropped. Gray images and images smaller than kMinImageSide are refused: contrast needs colour.
#include <string>

#include <opencv2/core.hpp>

namespace maskterial {

constexpr int kMinImageSide = 16;

// Throws Error naming the file: missing, not an image, truncated (JPEG without end marker, PNG without IEND),
// gray, or too small.
cv::Mat load_image(const std::string& path);

// Decodes an in-memory file (the server's uploads); `name` is used in error messages.
cv::Mat decode_image(const std::string& bytes, const std::string& name);

}  // namespace maskterial
