#include "maskterial/classify/registry.hpp"

#include <filesystem>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/classify/gmm_fit.hpp"
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

// AMM and MLP: the same network, with a Gaussian (GDA) or a softmax head.
ClassifierType network_type(const std::string& name, const std::string& description, NetworkClassifier::Head head) {
  return {name, description,
          [](const std::string& dir, const nlohmann::json&) -> ClassifierPtr { return NetworkClassifier::load(dir); },
          [head](const ContrastSamples& train, const ContrastSamples* test, const NetworkTrainingOptions& network,
                 const TrainingDataOptions& data, TrainingCurves* curves) -> std::shared_ptr<PixelClassifier> {
            return train_network(head, train, test, network, data, curves);
          },
          [head] { return NetworkTrainingOptions::defaults(head); }};
}

}  // namespace

const std::vector<ClassifierType>& classifier_types() {
  static const std::vector<ClassifierType> types = {
      network_type("amm", "MaskTerial's AMM head: spectral-norm network + Gaussian per class, flags unseen classes",
                   NetworkClassifier::Head::Gda),
      network_type("mlp", "the same network with a softmax head (the ablation baseline)", NetworkClassifier::Head::Softmax),
      {"gmm", "2DMatGMM's Gaussian per class in contrast space; trains in seconds", load_gmm_directory,
       [](const ContrastSamples& train, const ContrastSamples*, const NetworkTrainingOptions&, const TrainingDataOptions&,
          TrainingCurves*) -> std::shared_ptr<PixelClassifier> { return std::make_shared<GmmClassifier>(fit_gmm(train)); },
       [] { return NetworkTrainingOptions::defaults(NetworkClassifier::Head::Gda); }},
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
