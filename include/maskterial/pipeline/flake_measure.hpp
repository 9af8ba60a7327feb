#pragma once
// Turns one flake mask into a Flake record: shape (rotated rectangle, false-positive probability from the
// 2DMatGMM logistic model), optics (mean contrast) and texture (entropy). Works on the flake's bounding box
// only, so cost scales with the flake, not with the image.
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/core/flake.hpp"
#include "maskterial/image/contrast.hpp"

namespace maskterial {

// False-positive probability of 2DMatGMM's logistic model on the outer contour:
// fp = 1 - sigmoid(2.96034 - 0.60233 * arclength / sqrt(area) + 3.40766 * area / hull_area).
// Degenerate contours (zero area) are certain false positives.
double false_positive_probability(const std::vector<cv::Point>& contour);

// Mean local Shannon entropy (bits) of the gray image inside the flake, as 2DMatGMM computes it: box around
// the contour grown by 20 px, mask eroded twice by a radius-2 disk, entropy over a radius-2 disk counting
// only masked pixels (skimage.filters.rank.entropy semantics).
double mean_entropy(const cv::Mat& bgr8, const cv::Mat& full_mask_roi, const cv::Rect& roi,
                    const std::vector<cv::Point>& contour);

// The 13-pixel radius-2 disk (skimage.morphology.disk(2)).
cv::Mat disk_kernel(int radius);

struct FlakeSource {
  const cv::Mat& bgr8;      // image the contrast and entropy are measured on
  const Bgr& background;
};

// mask_roi: CV_8U (nonzero = flake) covering `roi` of the image; contour in image coordinates.
// Fills everything but class, score and uncertainty; center is the rotated rectangle's (truncated).
Flake measure_flake(const FlakeSource& source, const cv::Mat& mask_roi, const cv::Rect& roi,
                    const std::vector<cv::Point>& contour);

// Flake::clipped_share of the mask (CV_8U at `roi` of source.bgr8).
double clipped_share(const FlakeSource& source, const cv::Mat& mask_roi, const cv::Rect& roi);

// COCO RLE of a mask given as a region of an otherwise empty image.
coco::Rle encode_roi(const cv::Mat& mask_roi, const cv::Rect& roi, const cv::Size& image_size);

}  // namespace maskterial
