#pragma once
// One registry of classifier types (gmm, amm, mlp): each registered once with its description and loader, used
// by the CLI, the server and training jobs alike. A model directory names its type in model.json ("type").
// Their trainers are registered by the training library (classify/trainers.hpp).
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/classify/pixel_classifier.hpp"

namespace maskterial {

// What `train-classifier` trains when no type is given.
constexpr const char* kDefaultClassifierType = "amm";

struct ClassifierType {
  std::string name;         // model.json "type", train-classifier --type, the server's job type
  std::string description;  // one line for --help, the API and the web page
  // Loads a maskterial model directory of this type; manifest = its model.json. Throws Error naming the file.
  std::function<ClassifierPtr(const std::string& dir, const nlohmann::json& manifest)> load;
};

const std::vector<ClassifierType>& classifier_types();
std::vector<std::string> classifier_type_names();
// Throws Error listing the known types when `name` is none of them.
const ClassifierType& classifier_type(const std::string& name);

}  // namespace maskterial
