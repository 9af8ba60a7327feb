#pragma once
// One prediction as the server runs it: a classification model, optionally a segmentation model, and the
// settings a request may choose, with `maskterial detect`'s defaults (DetectorOptions, the segmenter's score
// threshold), so the API and the CLI find the same flakes for the same settings.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/core/flake.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial::serve {

struct ClassificationModel;

// How detected regions become flakes (GET /api/models lists them as post-processing models).
struct RuleSet {
  std::string name, description;
  ExtractionRules rules;
};
const std::vector<RuleSet>& postprocessing_rule_sets();
// HttpError 400 naming the form field for an unknown name.
const RuleSet& postprocessing_rule_set(const std::string& name);

struct DetectionSettings {
  std::string postprocessing = "maskterial";  // one of postprocessing_rule_sets()
  DetectorOptions detector;                   // rules are set from postprocessing
  double score_threshold = segment::kDefaultScoreThreshold;  // masks of the segmentation model
  nlohmann::json to_json(bool with_segmenter) const;
};

// Runs the detector on one 8-bit BGR image. segmenter: null for flakes from the classifier alone. Thread-safe.
Detection run_detection(const ClassificationModel& model, const segment::SegmenterPtr& segmenter,
                        const cv::Mat& bgr8, const std::string& image_name, const DetectionSettings& settings);

}  // namespace maskterial::serve
