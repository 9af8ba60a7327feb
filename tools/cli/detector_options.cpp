#include "detector_options.hpp"

#include "maskterial/core/embedded_models.hpp"
#include "maskterial/image/io.hpp"

namespace maskterial::cli {

void DetectorOptions::add_to(CLI::App& command) {
  command.add_option("--gmm", gmm_path, "GMM parameter file (2DMatGMM JSON); default: built-in graphene model")
      ->check(CLI::ExistingFile);
  command.add_option("--compat", compat, "Reproduce another detector's rules exactly: 2dmatgmm")
      ->check(CLI::IsMember({"2dmatgmm"}));
  command.add_option("--std-threshold", gmm.std_threshold, "GMM distance limit in standard deviations")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command.add_option("--size-threshold", gmm.size_threshold, "Smallest flake, px")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  command.add_option("--min-score", gmm.min_score, "Drop flakes scoring below this (score = 1 - fp probability)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command.add_option("--flat-field", flat_field, "Flat-field image to remove vignetting")->check(CLI::ExistingFile);
}

std::unique_ptr<GmmDetector> DetectorOptions::build() const {
  GmmClassifier classifier = gmm_path.empty()
                                 ? GmmClassifier::from_json(nlohmann::ordered_json::parse(default_gmm_json()), kDefaultGmmName)
                                 : GmmClassifier::load(gmm_path);
  GmmDetectorOptions options = gmm;
  options.rules = compat == "2dmatgmm" ? GmmRules::TwoDMatGmm : GmmRules::MaskTerial;
  cv::Mat flat = flat_field.empty() ? cv::Mat() : load_image(flat_field);
  return std::make_unique<GmmDetector>(std::move(classifier), options, flat);
}

std::string DetectorOptions::model_name() const {
  return (gmm_path.empty() ? std::string(kDefaultGmmName) : gmm_path) +
         (compat.empty() ? "" : " [" + compat + " rules]");
}

}  // namespace maskterial::cli
