#include "maskterial/classify/registry.hpp"

#include <filesystem>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/classify/network_classifier.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {
namespace fs = std::filesystem;

namespace {

ClassifierPtr load_gmm_directory(const std::string& dir, const nlohmann::json& manifest) {
  const fs::path manifest_path = fs::path(dir) / "model.json";
  const nlohmann::json files = manifest.value("files", nlohmann::json::object());
  const nlohmann::json file = files.is_object() ? files.value("parameters", nlohmann::json("gmm.json")) : nlohmann::json();
  if (!file.is_string()) throw file_error(manifest_path.string(), "files.parameters must be a file name");
  const std::string name = file.get<std::string>();
  if (name.empty() || name.find('/') != std::string::npos || name == "..")
    throw file_error(manifest_path.string(), "files.parameters must name a file inside the model directory, not '" + name + "'");
  return std::make_shared<GmmClassifier>(GmmClassifier::load((fs::path(dir) / name).string()));
}

// AMM and MLP: the same network, with a Gaussian (GDA) or a softmax head; the directory says which.
ClassifierPtr load_network_directory(const std::string& dir, const nlohmann::json&) { return NetworkClassifier::load(dir); }

}  // namespace

const std::vector<ClassifierType>& classifier_types() {
  static const std::vector<ClassifierType> types = {
      {"amm", "MaskTerial's AMM head: spectral-norm network + Gaussian per class, flags unseen classes",
       load_network_directory},
      {"mlp", "the same network with a softmax head (the ablation baseline)", load_network_directory},
      {"gmm", "2DMatGMM's Gaussian per class in contrast space; trains in seconds", load_gmm_directory},
  };
  return types;
}

std::vector<std::string> classifier_type_names() {
  std::vector<std::string> names;
  for (const ClassifierType& t : classifier_types()) names.push_back(t.name);
  return names;
}

const ClassifierType& classifier_type(const std::string& name) {
  std::string known;
  for (const ClassifierType& t : classifier_types()) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error("unknown classifier type '" + name + "' (known: " + known + ")");
}

}  // namespace maskterial
