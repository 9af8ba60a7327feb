#include "maskterial/classify/pixel_classifier.hpp"

#include <filesystem>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/classify/network_classifier.hpp"
#include "maskterial/classify/registry.hpp"
#include "maskterial/core/embedded_models.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial {

namespace fs = std::filesystem;

const ClassLabel* PixelClassifier::find_class(uint8_t id) const {
  for (const auto& c : classes())
    if (c.id == id) return &c;
  return nullptr;
}

int64_t category_label(const ClassLabel& label) {
  try {
    size_t used = 0;
    const long long v = std::stoll(label.name, &used);
    if (used == label.name.size()) return v;
  } catch (const std::exception&) {
  }
  return label.id;
}

ClassifierPtr load_classifier(const std::string& path) {
  const fs::path p(path);
  if (!fs::exists(p)) throw file_error(path, "no such model file or directory");
  if (fs::is_regular_file(p)) return std::make_shared<GmmClassifier>(GmmClassifier::load(path));
  if (fs::exists(p / "model.json")) {
    const std::string manifest_path = (p / "model.json").string();
    const nlohmann::json meta = read_json(manifest_path);
    if (!meta.is_object()) throw file_error(manifest_path, "must be a JSON object");
    const nlohmann::json type = meta.value("type", nlohmann::json());
    if (!type.is_string()) throw file_error(manifest_path, "'type' must name the classifier type");
    try {
      return classifier_type(type.get<std::string>()).load(path, meta);
    } catch (const Error& e) {
      const std::string what = e.what();
      throw what.find(path) == std::string::npos ? file_error(manifest_path, what) : e;
    }
  }
  if (fs::exists(p / "meta_data.json")) return NetworkClassifier::load(path);
  std::vector<fs::path> json_files;
  for (const auto& entry : fs::directory_iterator(p))
    if (entry.is_regular_file() && entry.path().extension() == ".json") json_files.push_back(entry.path());
  if (json_files.size() == 1) return std::make_shared<GmmClassifier>(GmmClassifier::load(json_files[0].string()));
  throw file_error(path, "not a classifier model directory (no model.json, meta_data.json or single GMM file)");
}

ClassifierPtr default_classifier() {
  static const ClassifierPtr model = std::make_shared<GmmClassifier>(
      GmmClassifier::from_json(nlohmann::ordered_json::parse(default_gmm_json()), kDefaultGmmName));
  return model;
}

}  // namespace maskterial
