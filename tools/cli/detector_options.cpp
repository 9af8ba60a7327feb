#include "detector_options.hpp"

#include <filesystem>

#include "maskterial/core/defaults.hpp"
#include "maskterial/core/embedded_models.hpp"
#include "maskterial/core/shipped_models.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::cli {

void DetectorCliOptions::add_to(CLI::App& command, bool with_segmenter) {
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
                   "(AMM / MLP models), and segmenter masks that no class claims, ranked last");
  command.add_option("--flat-field", flat_field, "Flat-field image to remove vignetting")->check(CLI::ExistingFile);
  offers_segmenter_ = with_segmenter;
  if (!with_segmenter) return;
  command.add_flag("--known-classes-only{false}", detector.unknown_inside_masks,
                   "Segmenter: drop the parts of its masks unlike every trained class (default: they become "
                   "flakes of class \"unknown\", ranked last; AMM / MLP models)");
  command
      .add_option("--segmenter", segmenter_path,
                  "Segmentation model directory (dense or mask2former): flakes are its masks, split by the "
                  "classifier's classes; default: models/segmenter/pretrained; none: flakes from the classifier "
                  "alone (the 2DMatGMM way)")
      ->check(CLI::ExistingDirectory | CLI::IsMember({"none"}));
  command
      .add_option("--flake-score", flake_score_path,
                  "Segmenter: flake score model (flake_score.json) that ranks the candidates; default: the one "
                  "train-classifier kept in the classifier's directory, else the segmentation model's; none: "
                  "the segmenter's own mask score")
      ->check(CLI::ExistingFile | CLI::IsMember({"none"}));
  command
      .add_option("--score-threshold", score_threshold,
                  "Segmenter: keep masks scoring above this (class probability x mean mask probability)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  command
      .add_option("--min-class-occupancy", detector.min_class_occupancy,
                  "Segmenter with --majority-vote: drop flakes whose majority class holds less than this share of the mask")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  command.add_flag("--no-classifier-fill{false}", detector.fill_from_classifier,
                   "Segmenter: only its masks become flakes (default: the classifier's own flakes where no mask lies "
                   "are added, ranked below)");
  command.add_flag("--majority-vote{false}", detector.split_by_class,
                   "Segmenter: one flake per mask, of its majority class (MaskTerial), instead of one flake per "
                   "class region inside each mask (a flake with mono- and bilayer parts gives one of each)");
  command.add_flag("--no-terrace-split{false}", detector.split_by_contrast,
                   "Segmenter: keep a region whose contrast falls into distinct terraces as one flake (default: one "
                   "flake per terrace, as layer-resolved annotations count them)");
  command.add_flag("--no-faint-regions{false}", detector.find_faint_regions,
                   "Segmenter: do not add large faint plateaus of contrast that no mask covers (default: they are "
                   "listed last, of their class or \"unknown\")");
}

std::unique_ptr<Detector> DetectorCliOptions::build() const {
  ClassifierPtr classifier = classifier_path.empty() ? default_classifier() : load_classifier(classifier_path);
  DetectorOptions options = detector;
  options.rules = compat == "2dmatgmm" ? ExtractionRules::TwoDMatGmm : ExtractionRules::MaskTerial;
  cv::Mat flat = flat_field.empty() ? cv::Mat() : load_image(flat_field);
  segment::SegmenterPtr segmenter;
  score::FlakeScorePtr flake_score;
  if (const std::string dir = segmenter_dir(); !dir.empty()) {
    segmenter = segment::load_segmenter(dir, score_threshold);
    if (const std::string file = flake_score_file(); !file.empty())
      flake_score = std::make_shared<const score::FlakeScoreModel>(score::FlakeScoreModel::load(file));
  }
  return std::make_unique<Detector>(std::move(classifier), options, flat, std::move(segmenter), std::move(flake_score));
}

std::string DetectorCliOptions::flake_score_file() const {
  if (flake_score_path == "none") return "";
  if (!flake_score_path.empty()) return flake_score_path;
  return score::find_flake_score(classifier_path, segmenter_dir());
}

DetectorCliOptions DetectorCliOptions::default_pipeline(const std::string& classifier_dir) {
  DetectorCliOptions options;
  options.classifier_path = classifier_dir;
  options.offers_segmenter_ = true;
  return options;
}

std::string DetectorCliOptions::segmenter_dir() const {
  if (!offers_segmenter_ || segmenter_path == "none") return "";
  if (!segmenter_path.empty()) return segmenter_path;
  if (!compat.empty()) return "";  // 2DMatGMM had no segmentation model
  const std::string shipped = shipped_segmenter_dir();
  if (std::filesystem::is_directory(shipped)) return shipped;
  // Dropping silently to the classifier's pixels would give other flakes than the user asked for.
  throw file_error(shipped, "the default segmentation model is missing (set MASKTERIAL_MODELS to the models "
                            "folder, pass --segmenter DIR, or --segmenter none for flakes from the classifier alone)");
}

nlohmann::json DetectorCliOptions::provenance() const {
  const std::string segmenter = segmenter_dir();
  const nlohmann::json classification =
      classifier_path.empty() ? nlohmann::json{{"name", kDefaultGmmName}, {"hash", default_gmm_hash()}}
                              : nlohmann::json{{"path", classifier_path}, {"hash", content_hash(classifier_path)}};
  nlohmann::json settings = {{"postprocessing", compat.empty() ? "maskterial" : compat},
                             {"std_threshold", detector.distance_threshold},
                             {"size_threshold", detector.size_threshold},
                             {"min_score", detector.min_score},
                             {"report_unknown", detector.report_unknown}};
  if (!segmenter.empty()) {
    settings["score_threshold"] = score_threshold;
    settings["majority_vote"] = !detector.split_by_class;
    settings["terrace_split"] = detector.split_by_contrast;
    settings["faint_regions"] = detector.find_faint_regions;
    settings["min_class_occupancy"] = detector.min_class_occupancy;
    settings["known_classes_only"] = !detector.unknown_inside_masks;
  }
  const std::string flake_score = segmenter.empty() ? "" : flake_score_file();
  return {{"models", {{"classification", classification},
                      {"segmentation", segmenter.empty() ? nlohmann::json()
                                                         : nlohmann::json{{"path", segmenter}, {"hash", content_hash(segmenter)}}},
                      {"flake_score", flake_score.empty() ? nlohmann::json()
                                                          : nlohmann::json{{"path", flake_score}, {"hash", content_hash(flake_score)}}}}},
          {"settings", settings},
          {"version", kVersion}};
}

std::string DetectorCliOptions::model_name() const {
  const std::string segmenter = segmenter_dir();
  return (segmenter.empty() ? "" : "segmenter " + segmenter + " + ") +
         (classifier_path.empty() ? std::string(kDefaultGmmName) : classifier_path) +
         (compat.empty() ? "" : " [" + compat + " rules]");
}

}  // namespace maskterial::cli
