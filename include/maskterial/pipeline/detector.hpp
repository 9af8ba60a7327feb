#pragma once
// The classification-only detector: a per-pixel class map from a classification head (GMM, AMM or MLP) in
// contrast space, then per class a morphological opening, 4-connected components, a size threshold and hole
// filling. Two rule sets:
//  - MaskTerial (default): MaskTerial's classification-only path (no blur, 3x3 opening twice, size counted
//    after filling the outer contour, centre from contour moments); contrast rounded as the model expects.
//  - TwoDMatGmm: the 2DMatGMM detector exactly (5x5 median blur, radius-2 disk opening, size counted before
//    hole filling, centre of the rotated bounding rectangle, float32 contrast), to reproduce published results.
// With an instance segmenter (MaskTerial's full pipeline), flakes come from its masks instead: largest outer
// contour, holes filled, size threshold; the classifier labels only the masks' pixels, and each class's
// connected regions inside a mask become flakes (split_by_class), or, as MaskTerial, each mask becomes one flake
// of its majority class (dropped if that is background or holds less than min_class_occupancy).
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/core/flake.hpp"
#include "maskterial/pipeline/components.hpp"
#include "maskterial/score/flake_score.hpp"
#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial {

enum class ExtractionRules { MaskTerial, TwoDMatGmm };

struct DetectorOptions {
  ExtractionRules rules = ExtractionRules::MaskTerial;
  double distance_threshold = 0;  // pixels farther from every class are unknown; 0 = the classifier's default
  int size_threshold = 200;       // px
  double min_score = 0.0;         // flakes with score (1 - fp probability) below are dropped
  // MaskTerial rules: a flake with more than this share of its pixels clipped where the substrate is not
  // (Flake::clipped_share) is dropped: brighter than the camera measures, it is a thick crystal (or a reflex),
  // never a thin flake, and its contrast, hence its class and score, cannot be measured.
  double max_clipped_share = 0.5;
  // Also report regions unlike every trained class, substrate included, as flakes of class "unknown"
  // (only for classifiers with a background class: AMM, MLP). Unseen thicknesses and materials show up
  // there, next to bulk crystals and dirt. With a segmenter, also its masks that no class claims, ranked
  // below everything else (score x unconfirmed_score_factor squared).
  bool report_unknown = false;
  // With a segmenter (AMM, MLP): the parts of its masks unlike every trained class, substrate included, become
  // flakes of class "unknown", ranked below every known-class flake (score x unconfirmed_score_factor squared).
  // The segmenter says a flake is there and the classifier that it is no thickness it was trained on: an
  // unfamiliar flake is flagged instead of lost. Off: such parts are dropped (--known-classes-only).
  bool unknown_inside_masks = true;
  // With a segmenter: smallest share of a mask's pixels its majority class must hold (MaskTerial's
  // min_class_occupancy); in split mode, a class holding this share is the flake's own thickness and also
  // takes the mask's pixels scattered over other classes outside their regions.
  double min_class_occupancy = 0.5;
  // With a segmenter: instead of one flake per mask, each class's connected regions inside a mask (opened,
  // at least size_threshold) become flakes, so a flake with mono- and bilayer parts gives one of each, as
  // layer-resolved annotations count them. Pixels already given to a better-scoring mask are not reused.
  bool split_by_class = true;
  // With a segmenter: a region of one class whose contrast falls into distinct terraces (pipeline/terraces.hpp)
  // gives one flake per terrace: a flake's mono- and bilayer parts apart even when one classifier class
  // covers both, and a thin flake apart from the thicker crystal its mask leaked into.
  bool split_by_contrast = true;
  // With a segmenter: large faint plateaus of contrast that no mask covers (pipeline/faint_regions.hpp) also
  // become flakes, of the class most of their pixels have, else "unknown" (even for a GMM: the plateau itself
  // shows something is there), with score faint_region_score, not re-scored: listed after every other
  // candidate, never lost. (Scored among the others they pushed true flakes down: benchmark WSe2 0.72 -> 0.67.)
  bool find_faint_regions = true;
  double faint_region_score = 0.01;
  // With a segmenter: the classifier's own flakes (the classifier-only rules) where no segmenter mask lies also
  // become flakes, ranked below the segmenter's (score x unconfirmed_score_factor). A segmenter that misses a
  // flake the colour model sees then costs no recall; the segmenter's part is to find what the colour model
  // fragments or confuses, and to rank.
  bool fill_from_classifier = true;
  double unconfirmed_score_factor = 0.5;
};

// Wall time of each stage, for the benchmark and `detect --timings`.
struct DetectTimings {
  double preprocess_ms = 0;  // flat field, median blur
  double background_ms = 0;
  double segment_ms = 0;     // instance segmentation (with a segmenter)
  double classify_ms = 0;    // per-pixel classification
  double components_ms = 0;  // opening, components, contours and flake measurement
  double score_ms = 0;       // evidence and flake score (with a segmenter)
  double total() const { return preprocess_ms + background_ms + segment_ms + classify_ms + components_ms + score_ms; }
};

class Detector {
 public:
  // segmenter: optional; without it flakes are the classifier's connected regions. It cannot be combined with
  // the 2DMatGMM rules. With a segmenter every candidate's evidence is measured (score/evidence.hpp) and, with
  // a flake score model, its score is that model's probability; without one it keeps the extraction score.
  Detector(ClassifierPtr classifier, DetectorOptions options, cv::Mat flat_field = {},
           segment::SegmenterPtr segmenter = {}, score::FlakeScorePtr flake_score = {});

  // bgr8: 8-bit BGR image. Thread-safe (no mutable state).
  Detection detect(const cv::Mat& bgr8, const std::string& name, DetectTimings* timings = nullptr) const;

  // The per-pixel class map alone (what `maskterial classify` writes); background receives the substrate
  // colour used. Throws Error naming `name` when no substrate background is found.
  PixelClassification classify(const cv::Mat& bgr8, const std::string& name, Bgr* background = nullptr) const;

  const PixelClassifier& classifier() const { return *classifier_; }
  const segment::InstanceSegmenter* segmenter() const { return segmenter_.get(); }
  const DetectorOptions& options() const { return options_; }
  const score::FlakeScoreModel* flake_score() const { return flake_score_.get(); }
  double threshold() const;

 private:
  cv::Mat preprocess(const cv::Mat& bgr8) const;
  ContrastLut lut(const Bgr& background) const;
  void extract_2dmatgmm(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                        Detection& out) const;
  void extract_maskterial(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                          Detection& out) const;
  // covered: CV_8U, non-zero where any of the instances' masks lies.
  void extract_segmented(const std::vector<segment::InstanceMask>& instances,
                         const std::vector<Component>& faint_regions, const cv::Mat& covered, const cv::Mat& labels,
                         const cv::Mat& image, const Bgr& background, const ChannelMask& channels,
                         Detection& out) const;
  void finish_flake(Flake& flake, const ClassLabel& label, const cv::Mat& labels, const cv::Mat& mask,
                    const cv::Rect& roi) const;
  // The scoring stage: evidence of each candidate, then its flake score.
  void score_flakes(const cv::Mat& image, Detection& out) const;
  std::vector<ClassLabel> extracted_classes() const;
  void set_class(Flake& flake, uint8_t id) const;  // class id, name and uncertainty
  // How doubtful the flake's class is, over the given channels (an unknown flake: its nearest class).
  double uncertainty(const Flake& flake, const ChannelMask& channels) const;
  // The substrate and the channels to use; throws Error naming `name` and what to do when none is usable.
  BackgroundEstimate background(const cv::Mat& image, const std::string& name) const;

  ClassifierPtr classifier_;
  DetectorOptions options_;
  cv::Mat flat_field_;
  segment::SegmenterPtr segmenter_;
  score::FlakeScorePtr flake_score_;
};

}  // namespace maskterial
