#include "detector_options.hpp"

#include "maskterial/core/embedded_models.hpp"
#include "maskterial/image/io.hpp"

namespace maskterial::cli {

void DetectorCliOptions::add_to(CLI::App& command) {
  command
      .add_option("--classifier,--gmm", classifier_path,
                  "Classifier: model directory (maskterial or MaskTerial AMM/MLP) or 2DMatGMM JSON file; "
                  "default: built-in graphene GMM")
      ->check(CLI::ExistingPath);
  command.add_option("--compat", compat, "Reproduce another detector's rules exactly: 2dmatgmm")
      ->check(CLI::IsMember({"2dmatgmm"}));
  command
      .add_option("--std-threshold", detector.distance_threshold,
                  "Pixels farther than this from every class (standard deviations) are unknown; "
                  "default: the model's (GMM 5, AMM 10)")
      ->check(CLI::PositiveNumber);
  command.add_option("--size-threshold", detector.size_threshold, "Smallest flake, px")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  command.add_option("--min-score", detector.min_score, "Drop flakes scoring below this (score = 1 - fp probability)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command.add_flag("--report-unknown", detector.report_unknown,
                   "Also report regions unlike every trained class (substrate included) as class \"unknown\" "
                   "(AMM / MLP models)");
  command.add_option("--flat-field", flat_field, "Flat-field image to remove vignetting")->check(CLI::ExistingFile);
}

std::unique_ptr<Detector> DetectorCliOptions::build() const {
  ClassifierPtr classifier = classifier_path.empty() ? default_classifier() : load_classifier(classifier_path);
  DetectorOptions options = detector;
  options.rules = compat == "2dmatgmm" ? ExtractionRules::TwoDMatGmm : ExtractionRules::MaskTerial;
  cv::Mat flat = flat_field.empty() ? cv::Mat() : load_image(flat_field);
  return std::make_unique<Detector>(std::move(classifier), options, flat);
}

std::string DetectorCliOptions::model_name() const {
  return (classifier_path.empty() ? std::string(kDefaultGmmName) : classifier_path) +
         (compat.empty() ? "" : " [" + compat + " rules]");
}

}  // namespace maskterial::cli
