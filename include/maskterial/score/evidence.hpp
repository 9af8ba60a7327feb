#pragma once
// What a candidate flake shows beyond its class: the evidence the flake score (score/flake_score.hpp) weighs.
// Each value is cheap to measure on the candidate's box and means something to a physicist:
//  - how it was found: the extraction score (segmenter mask score, or the classifier's shape score), whether a
//    segmenter mask holds it, whether its colour is unlike every trained class;
//  - shape: area, solidity, minimum width, elongation, outline length / sqrt(area) (fragments and strips are
//    thin, ragged and elongated);
//  - optics: contrast magnitude and its non-uniformity inside (a flake of one thickness is uniform), edge
//    sharpness (contrast gradient on the outline over the contrast step: a real edge is a step, the blurred
//    halo of a thick crystal a ramp);
//  - context: the contrast of the ring just outside and the share of it that is much thicker material (a halo
//    lies along a thick crystal; a real thin flake mostly borders substrate);
//  - the classifier's distance to the class and the class's share of the mask; 2DMatGMM's shape false-positive
//    probability and texture entropy; whether it is cut by the image border.
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/core/flake.hpp"
#include "maskterial/image/contrast.hpp"

namespace maskterial::score {

// The evidence's names, in the order of Flake::evidence.
const std::vector<std::string>& evidence_names();

// Measures a candidate's evidence from the image and the candidate itself (its mask is its segmentation; its
// class, uncertainty, class share, score as extracted and origin as the detector set them).
std::vector<float> measure_evidence(const cv::Mat& bgr8, const Bgr& background, const Flake& flake);

// The candidate's mask inside its (integer) bounding box, CV_8U 255 inside, and that box.
cv::Mat mask_in_box(const coco::Rle& rle, cv::Rect& box);

}  // namespace maskterial::score
