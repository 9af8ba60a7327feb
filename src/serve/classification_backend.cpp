#include "classification_backend.hpp"

#include "detection.hpp"
#include "maskterial/classify/classifier_training.hpp"
#include "maskterial/classify/gmm.hpp"
#include "maskterial/core/embedded_models.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/score/score_fitting.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr const char* kManifest = "model.json";
constexpr const char* kBuiltinDescription = "Graphene 1-4 layers on 90 nm SiO2, 20x objective (2DMatGMM paper)";

std::shared_ptr<ClassificationModel> wrap(ClassifierPtr classifier, std::string description) {
  auto model = std::make_shared<ClassificationModel>();
  model->type = classifier->type();
  model->description = std::move(description);
  model->classifier = std::move(classifier);
  return model;
}

}  // namespace

std::vector<std::string> ClassificationModel::class_names() const {
  std::vector<std::string> names;
  for (const auto& c : classifier->classes()) names.push_back(c.name);
  return names;
}

std::shared_ptr<const ClassificationModel> load_classification_model(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw file_error(dir.string(), "not a model directory");
  std::string description;
  if (fs::exists(dir / kManifest)) {
    const nlohmann::json manifest = read_json((dir / kManifest).string());
    if (!manifest.is_object()) throw file_error((dir / kManifest).string(), "must be a JSON object");
    if (manifest.value("kind", "classification") != "classification")
      throw file_error((dir / kManifest).string(), "\"kind\" must be \"classification\"");
    if (manifest.contains("description") && manifest["description"].is_string())
      description = manifest["description"].get<std::string>();
  }
  auto model = wrap(load_classifier(dir.string()), description);
  if (const std::string file = score::find_flake_score(dir.string(), ""); !file.empty())
    model->flake_score = std::make_shared<const score::FlakeScoreModel>(score::FlakeScoreModel::load(file));
  return model;
}

std::shared_ptr<const ClassificationModel> builtin_classification_model() {
  return wrap(default_classifier(), kBuiltinDescription);
}

std::vector<std::pair<std::string, std::string>> builtin_classification_model_files() {
  nlohmann::json manifest = default_classifier()->describe();
  manifest["description"] = kBuiltinDescription;
  return {{kManifest, manifest.dump(1) + "\n"}, {"gmm.json", default_gmm_json()}};
}

std::vector<std::string> train_classification_model(const std::string& type, const coco::Dataset& dataset,
                                                    const std::string& images_dir, const fs::path& out_dir,
                                                    const TrainingProgress& progress,
                                                    const segment::SegmenterPtr& segmenter,
                                                    const fs::path& segmenter_dir) {
  // GMM: contrast extraction is most of the time. Networks: the optimisation is; extraction is a sliver.
  const double extract_share = type == "gmm" ? 0.8 : 0.1;
  ClassifierTrainingOptions options = ClassifierTrainingOptions::defaults(type);
  options.data.show_progress = false;
  options.data.on_extract_progress = [&](double fraction) {
    progress(extract_share * fraction, fraction < 1 ? "extracting contrast" : "denoising samples and fitting");
  };
  options.network.on_iteration = [&](int done, int total) {
    progress(extract_share + (0.95 - extract_share) * done / total, "training the network");
  };
  progress(0.0, "extracting contrast");
  const ClassifierTrainingResult result = train_classifier({dataset, images_dir}, nullptr, options);
  progress(0.9, "writing model");
  result.classifier->save(out_dir.string());
  std::vector<std::string> warnings = result.report.errors;
  warnings.insert(warnings.end(), result.report.ignored_channels.begin(), result.report.ignored_channels.end());
  warnings.insert(warnings.end(), result.report.unmeasured_class_channels.begin(),
                  result.report.unmeasured_class_channels.end());
  if (segmenter) {
    progress(0.92, "fitting the flake score");
    const std::string shipped = score::find_flake_score("", segmenter_dir.string());
    const score::FlakeScorePtr prior =
        shipped.empty() ? nullptr : std::make_shared<const score::FlakeScoreModel>(score::FlakeScoreModel::load(shipped));
    const Detector detector(result.classifier, DetectionSettings().detector, cv::Mat(), segmenter, prior);
    score::ScoreFitReport report;
    const score::FlakeScoreModel model = score::fit_flake_score(detector, {dataset, images_dir}, prior.get(), &report);
    if (!model.empty())
      model.save(out_dir / score::kFlakeScoreFile);
    else
      warnings.push_back("flake score: " + std::to_string(report.positives) + " true flakes among " +
                         std::to_string(report.candidates) +
                         " candidates on the training images, too few to fit; detections are ranked by the "
                         "segmentation model's score");
  }
  progress(1.0, "trained");
  return warnings;
}

}  // namespace maskterial::serve
