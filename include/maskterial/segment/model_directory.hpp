#pragma once
// The directory every segmentation model type is stored in:
//   model.json  {"format": "maskterial", "kind": "segmentation", "type": TYPE, "options": {...},
//                "files": {"weights": "model.pt"}, "training": {...}}
//   model.pt    the module's parameters and buffers (torch::save, libtorch's serialize archive)
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace maskterial::segment {

struct ModelDirectory {
  std::string meta_path;     // dir/model.json
  nlohmann::json meta;       // its content
  std::string weights_path;  // dir/<files.weights>, an existing file
  const nlohmann::json& options() const;  // meta["options"]; throws Error naming meta_path when absent
};

// Reads and checks model.json (format, kind, type, weights file inside the directory). Throws Error naming
// the file at fault.
ModelDirectory open_model_directory(const std::string& dir, const std::string& type);

// Loads weights into a freshly built `module` of the architecture in model.json; throws Error naming the file
// when they do not fit it (libtorch alone would accept tensors of any shape under a known name).
void load_weights(const std::shared_ptr<torch::nn::Module>& module, const std::string& weights_path);

// The model.json content of a model of `type`.
nlohmann::json model_json(const std::string& type, const nlohmann::json& options, const nlohmann::json& training);

// Writes model.json (model_json) and the weights, atomically (whole or not at all).
void save_model_directory(const std::string& dir, const std::string& type, const nlohmann::json& options,
                          const nlohmann::json& training, const std::shared_ptr<torch::nn::Module>& module);

}  // namespace maskterial::segment
