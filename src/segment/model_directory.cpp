#include "maskterial/segment/model_directory.hpp"

#include <filesystem>
#include <map>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

constexpr char kWeightsFile[] = "model.pt";

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::map<std::string, std::vector<int64_t>> tensor_shapes(const torch::nn::Module& module) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : module.named_parameters(true)) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : module.named_buffers(true)) shapes[b.key()] = b.value().sizes().vec();
  return shapes;
}

}  // namespace

const nlohmann::json& ModelDirectory::options() const {
  if (!meta.contains("options")) throw file_error(meta_path, "no 'options'");
  return meta.at("options");
}

ModelDirectory open_model_directory(const std::string& dir, const std::string& type) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw file_error(dir, "not a model directory");
  ModelDirectory out;
  out.meta_path = (root / "model.json").string();
  out.meta = read_json(out.meta_path);
  if (!out.meta.is_object()) throw file_error(out.meta_path, "expected a JSON object");
  const auto expect = [&](const char* key, const std::string& value) {
    if (out.meta.value(key, nlohmann::json()) != value)
      throw file_error(out.meta_path, std::string("'") + key + "' must be \"" + value + "\" (not a " + type + " model)");
  };
  expect("format", "maskterial");
  expect("kind", "segmentation");
  expect("type", type);
  std::string weights = kWeightsFile;
  if (out.meta.contains("files")) {
    const auto& files = out.meta.at("files");
    if (!files.is_object() || !files.value("weights", nlohmann::json(weights)).is_string())
      throw file_error(out.meta_path, "'files.weights' must be a file name");
    weights = files.value("weights", weights);
  }
  if (weights.empty() || weights.find('/') != std::string::npos || weights.find("..") != std::string::npos)
    throw file_error(out.meta_path, "file names must stay inside the model directory: " + weights);
  out.weights_path = (root / weights).string();
  if (!fs::is_regular_file(out.weights_path)) throw file_error(out.weights_path, "missing (the model's weights)");
  return out;
}

void load_weights(const std::shared_ptr<torch::nn::Module>& module, const std::string& weights_path) {
  const auto expected = tensor_shapes(*module);
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(weights_path);
    module->load(archive);
  } catch (const std::exception& e) {
    throw file_error(weights_path, "not weights of the model in model.json: " + first_line(e.what()));
  }
  for (const auto& [name, shape] : tensor_shapes(*module))
    if (expected.at(name) != shape)
      throw file_error(weights_path, "tensor '" + name + "' does not fit the architecture in model.json");
}

nlohmann::json model_json(const std::string& type, const nlohmann::json& options, const nlohmann::json& training) {
  return {{"format", "maskterial"}, {"kind", "segmentation"}, {"type", type},
          {"options", options},     {"files", {{"weights", kWeightsFile}}}, {"training", training}};
}

void save_model_directory(const std::string& dir, const std::string& type, const nlohmann::json& options,
                          const nlohmann::json& training, const std::shared_ptr<torch::nn::Module>& module) {
  const nlohmann::json meta = model_json(type, options, training);
  write_directory_atomic(dir, [&](const std::string& tmp) {
    torch::serialize::OutputArchive archive;
    module->save(archive);
    archive.save_to((fs::path(tmp) / kWeightsFile).string());
    write_json_atomic((fs::path(tmp) / "model.json").string(), meta, 2);
  });
}

}  // namespace maskterial::segment
