#pragma once
// The small picture a reviewer judges a candidate by: the flake and some substrate around it, outlined.
#include <string>

#include <opencv2/core.hpp>

#include "maskterial/core/flake.hpp"

namespace maskterial::store {

constexpr int kThumbnailSize = 160;  // px, the longer side at most
// JPEG bytes of a crop of bgr8 around the flake's box (half its size as margin on every side, at least 16 px),
// scaled to fit kThumbnailSize, with the mask's outline drawn.
std::string candidate_thumbnail(const cv::Mat& bgr8, const Flake& flake);

}  // namespace maskterial::store
