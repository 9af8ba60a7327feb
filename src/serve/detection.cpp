#include "detection.hpp"

#include "classification_backend.hpp"
#include "maskterial/serve/http_error.hpp"

namespace maskterial::serve {

const std::vector<RuleSet>& postprocessing_rule_sets() {
  static const std::vector<RuleSet> sets = {
      {"maskterial", "MaskTerial's rules: 3x3 opening, size counted after filling holes; with a segmentation model, "
                     "its masks split into class regions", ExtractionRules::MaskTerial},
      {"2dmatgmm", "the 2DMatGMM detector exactly: 5x5 median blur, disk opening, size before hole filling "
                   "(no segmentation model)", ExtractionRules::TwoDMatGmm}};
  return sets;
}

const RuleSet& postprocessing_rule_set(const std::string& name) {
  for (const RuleSet& set : postprocessing_rule_sets())
    if (set.name == name) return set;
  throw HttpError(400, "form field 'postprocessing': unknown '" + name + "' (see GET /api/models)");
}

nlohmann::json DetectionSettings::to_json(bool with_segmenter) const {
  nlohmann::json j = {{"postprocessing", postprocessing},
                      {"std_threshold", detector.distance_threshold},
                      {"size_threshold", detector.size_threshold},
                      {"min_score", detector.min_score},
                      {"report_unknown", detector.report_unknown}};
  if (with_segmenter) {
    j["score_threshold"] = score_threshold;
    j["majority_vote"] = !detector.split_by_class;
    j["terrace_split"] = detector.split_by_contrast;
    j["faint_regions"] = detector.find_faint_regions;
    j["min_class_occupancy"] = detector.min_class_occupancy;
    j["known_classes_only"] = !detector.unknown_inside_masks;
  }
  return j;
}

Detection run_detection(const ClassificationModel& model, const segment::SegmenterPtr& segmenter,
                        const cv::Mat& bgr8, const std::string& image_name, const DetectionSettings& settings) {
  DetectorOptions options = settings.detector;
  options.rules = postprocessing_rule_set(settings.postprocessing).rules;
  return Detector(model.classifier, options, cv::Mat(), segmenter, model.flake_score).detect(bgr8, image_name);
}

}  // namespace maskterial::serve
