#pragma once
// Re-fitting the flake score from a lab's annotated images: the detector's own candidates on those images,
// labelled by the annotations (a candidate matching an annotation at IoU >= 0.5 is a true flake; every other
// candidate on an annotated image is not, since annotations mark every flake of the annotated classes).
#include <vector>

#include "maskterial/classify/classifier_training.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/core/flake.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/score/flake_score.hpp"

namespace maskterial::score {

constexpr double kMatchIou = 0.5;

// Examples from one image's candidates (each with evidence) against its annotated masks.
std::vector<Example> label_candidates(const std::vector<Flake>& candidates, const std::vector<coco::Rle>& truth,
                                      double match_iou = kMatchIou);

struct ScoreFitReport {
  int images = 0, candidates = 0, positives = 0, annotations = 0;
  std::vector<std::string> skipped;  // "image: why"
};

// Runs `detector` (it must measure evidence: a segmenter and a flake score model, see Detector) on every
// annotated image, labels its candidates and fits the score; prior: the model the detector scored with.
FlakeScoreModel fit_flake_score(const Detector& detector, const AnnotatedImages& images,
                                const FlakeScoreModel* prior, ScoreFitReport* report = nullptr,
                                bool show_progress = false);

}  // namespace maskterial::score
