#pragma once
// The shared result type: one detected flake with everything a physicist sorts and filters by.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "maskterial/coco/rle.hpp"

namespace maskterial {

// Class id of flakes unlike every trained class (DetectorOptions::report_unknown, unknown parts of masks).
constexpr uint8_t kUnknownClassId = 255;
// Flake::origin: what found the candidate.
constexpr const char* kOriginSegmenter = "segmenter";    // a segmentation model's mask
constexpr const char* kOriginClassifier = "classifier";  // the classifier's connected regions
constexpr const char* kOriginFaint = "faint";            // a faint plateau of contrast (pipeline/faint_regions)

struct Flake {
  int class_id = 0;            // the classifier's class id (ClassLabel::id; 0 = background, never output)
  std::string class_name;      // e.g. "1" for monolayer; the key of the GMM parameter file
  double score = 1.0;          // detection confidence in [0, 1]
  double uncertainty = 0.0;    // PixelClassifier::flake_uncertainty: distance of the mean contrast to the class
  double class_share = 1.0;    // share of the flake's pixels the classifier put in its class (majority vote)
  int64_t area = 0;            // pixels in the final (hole-filled) mask
  int64_t size = 0;            // pixels counted before hole filling (2DMatGMM's "size")
  std::array<int, 2> center{}; // x, y
  std::array<double, 4> bbox{}; // x, y, w, h of the final mask, as COCO's toBbox
  double min_side = 0;         // rotated bounding rectangle, px
  double max_side = 0;
  double aspect_ratio = 0;
  std::array<double, 3> mean_contrast_bgr{};
  double entropy = 0;          // mean local Shannon entropy (bits) of the gray image inside the flake
  // Share of the flake's pixels clipped at the camera's top (>= kSaturatedLevel) in a channel where the
  // substrate is not: there the flake is brighter than the camera measures and its contrast only a bound.
  double clipped_share = 0;
  double false_positive_probability = 0;
  std::string origin = kOriginClassifier;
  // What the flake score weighed (score/evidence.hpp, in evidence_names() order); empty without a scoring stage.
  std::vector<float> evidence;
  coco::Rle segmentation;
};

// The per-image result of a detector.
struct Detection {
  std::string image;  // path as given
  int width = 0;
  int height = 0;
  std::array<double, 3> background_bgr{};
  std::string background_note;  // channels left out and why (BackgroundEstimate::explain); empty if none
  std::vector<Flake> flakes;
};

}  // namespace maskterial
