#include "classification_backend.hpp"

#include "maskterial/classify/gmm_fit.hpp"
#include "maskterial/core/embedded_models.hpp"
#include "maskterial/pipeline/gmm_detector.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr const char* kManifest = "model.json";
constexpr const char* kGmmParameters = "gmm.json";
constexpr const char* kBuiltinDescription = "Graphene 1-4 layers on 90 nm SiO2, 20x objective (2DMatGMM paper)";

nlohmann::json gmm_manifest(const std::string& description) {
  return {{"format", "maskterial"},
          {"kind", "classification"},
          {"type", "gmm"},
          {"parameters", kGmmParameters},
          {"description", description}};
}

std::string manifest_string(const nlohmann::json& manifest, const std::string& key, const std::string& fallback,
                            const fs::path& file) {
  if (!manifest.contains(key)) return fallback;
  if (!manifest[key].is_string()) throw file_error(file.string(), "\"" + key + "\" must be a string");
  return manifest[key].get<std::string>();
}

// A parameter file named in a manifest must stay inside the model directory.
fs::path parameter_file(const fs::path& dir, const std::string& name, const fs::path& manifest) {
  const fs::path relative(name);
  if (name.empty() || relative.is_absolute() || relative.has_parent_path() || name == "." || name == "..")
    throw file_error(manifest.string(), "\"parameters\" must name a file in the model directory, not '" + name + "'");
  return dir / relative;
}

std::shared_ptr<ClassificationModel> load_manifest_model(const fs::path& dir) {
  const fs::path manifest_path = dir / kManifest;
  const nlohmann::json manifest = read_json(manifest_path.string());
  if (!manifest.is_object()) throw file_error(manifest_path.string(), "must be a JSON object");
  if (manifest_string(manifest, "format", "maskterial", manifest_path) != "maskterial")
    throw file_error(manifest_path.string(), "\"format\" must be \"maskterial\"");
  const std::string kind = manifest_string(manifest, "kind", "classification", manifest_path);
  if (kind != "classification")
    throw file_error(manifest_path.string(), "\"kind\" is \"" + kind + "\", expected \"classification\"");
  auto model = std::make_shared<ClassificationModel>();
  model->type = manifest_string(manifest, "type", "", manifest_path);
  if (model->type != "gmm")
    throw file_error(manifest_path.string(), "unsupported classifier type \"" + model->type + "\" (supported: gmm)");
  model->description = manifest_string(manifest, "description", "", manifest_path);
  model->gmm = GmmClassifier::load(
      parameter_file(dir, manifest_string(manifest, "parameters", kGmmParameters, manifest_path), manifest_path).string());
  return model;
}

}  // namespace

std::vector<std::string> ClassificationModel::class_names() const {
  std::vector<std::string> names;
  for (const auto& c : gmm.classes()) names.push_back(c.name);
  return names;
}

std::shared_ptr<const ClassificationModel> load_classification_model(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw file_error(dir.string(), "not a model directory");
  if (fs::exists(dir / kManifest)) return load_manifest_model(dir);
  std::vector<fs::path> json_files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".json") json_files.push_back(entry.path());
  if (json_files.size() != 1)
    throw file_error(dir.string(), "a model directory holds model.json and its parameter file, or exactly one "
                                   "2DMatGMM parameter file (found " + std::to_string(json_files.size()) +
                                   " JSON files)");
  auto model = std::make_shared<ClassificationModel>();
  model->type = "gmm";
  model->gmm = GmmClassifier::load(json_files.front().string());
  return model;
}

std::shared_ptr<const ClassificationModel> builtin_classification_model() {
  auto model = std::make_shared<ClassificationModel>();
  model->type = "gmm";
  model->description = kBuiltinDescription;
  model->gmm = GmmClassifier::from_json(nlohmann::ordered_json::parse(default_gmm_json()), kDefaultGmmName);
  return model;
}

std::vector<std::pair<std::string, std::string>> builtin_classification_model_files() {
  return {{kManifest, gmm_manifest(kBuiltinDescription).dump(1) + "\n"}, {kGmmParameters, default_gmm_json()}};
}

const std::vector<RuleSet>& postprocessing_rule_sets() {
  static const std::vector<RuleSet> sets = {
      {"maskterial", "MaskTerial's classification path: 3x3 opening, size counted after filling holes"},
      {"2dmatgmm", "the 2DMatGMM detector exactly: 5x5 median blur, disk opening, size before hole filling"}};
  return sets;
}

Detection detect_with_classification_model(const ClassificationModel& model, const cv::Mat& bgr8,
                                           const std::string& image_name, const DetectionSettings& settings) {
  GmmDetectorOptions options;
  if (settings.postprocessing == "maskterial")
    options.rules = GmmRules::MaskTerial;
  else if (settings.postprocessing == "2dmatgmm")
    options.rules = GmmRules::TwoDMatGmm;
  else
    throw Error("unknown post-processing '" + settings.postprocessing + "'");
  options.std_threshold = settings.std_threshold;
  options.size_threshold = settings.size_threshold;
  options.min_score = settings.min_score;
  const GmmDetector detector(model.gmm, options);
  return detector.detect(bgr8, image_name);
}

std::vector<std::string> train_classification_model(const coco::Dataset& dataset, const std::string& images_dir,
                                                    const fs::path& out_dir, const TrainingProgress& progress) {
  // Contrast extraction is most of the time; denoising and the fit take the rest.
  constexpr double kExtractShare = 0.8;
  TrainingDataOptions options;
  options.show_progress = false;
  options.on_extract_progress = [&](double fraction) {
    progress(kExtractShare * fraction, fraction < 1 ? "extracting contrast" : "denoising samples and fitting");
  };
  progress(0.0, "extracting contrast");
  TrainingReport report;
  const GmmClassifier gmm = train_gmm(dataset, images_dir, options, &report);
  progress(0.95, "writing model");
  gmm.save((out_dir / kGmmParameters).string());
  write_json_atomic((out_dir / kManifest).string(),
                    gmm_manifest("GMM trained on " + std::to_string(report.images_used) + " image(s)"));
  progress(1.0, "trained");
  return report.errors;
}

}  // namespace maskterial::serve
