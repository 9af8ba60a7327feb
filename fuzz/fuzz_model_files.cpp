// libFuzzer target for the readers of model files a user uploads: .npy arrays, torch.save state dicts (zip +
// pickle), a 2DMatGMM parameter file (gmm.json), a segmentation model's model.json with the options of its
// type (dense, mask2former) and the network architecture of an AMM / MLP classifier's meta data
// (meta_data.json's train_config.model_arch, model.json's model_arch). The first byte picks the reader. Any input must end in a result or a
// maskterial::Error, never another exception, a crash or a sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "maskterial/classify/fcresnet.hpp"
#include "maskterial/classify/gmm.hpp"
#include "maskterial/segment/dense/dense_options.hpp"
#include "maskterial/segment/mask2former/options.hpp"
#include "maskterial/segment/model_directory.hpp"
#include "maskterial/serialize/npy.hpp"
#include "maskterial/serialize/state_dict.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace {

// One scratch folder per fuzzing process (the state dict and model directory readers take paths).
const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("fuzz_model_files_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// A plain write: the atomic writer's fsyncs would cost more than the parsing under test.
std::string write_scratch(const std::string& name, const std::string& bytes) {
  const std::string path = (scratch() / name).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// model.json of a segmentation model directory, then the options of its type, as the type's loader reads them.
void segmentation_model_json(const std::string& bytes, bool dense) {
  write_scratch("model.json", bytes);
  write_scratch("model.pt", "");
  const auto files = maskterial::segment::open_model_directory(scratch().string(), dense ? "dense" : "mask2former");
  if (dense)
    maskterial::segment::DenseOptions::from_json(files.options(), files.meta_path).to_json();
  else
    maskterial::segment::SegmenterOptions::from_json(files.options(), files.meta_path).to_json();
}

// A classifier's architecture as NetworkClassifier::load reads it: whatever it accepts stays within the bounds
// that keep the network small (a meta data file claiming embedding_dim 8192 once cost a server a gigabyte).
void classifier_architecture(const std::string& bytes) {
  const nlohmann::json meta = maskterial::read_json(write_scratch("meta_data.json", bytes));
  const bool nested = meta.is_object() && meta.contains("train_config") && meta["train_config"].is_object() &&
                      meta["train_config"].contains("model_arch");
  const nlohmann::json& arch = nested ? meta["train_config"]["model_arch"] : meta;
  const auto options = maskterial::FCResNetOptions::from_json(arch, "meta_data.json");
  const double parameters = (static_cast<double>(options.depth) + 1) * options.embedding_dim *
                            (options.embedding_dim + options.input_dim + options.num_classes);
  if (parameters > 1e8) __builtin_trap();  // the bounds let through a network of over 400 MB
  options.to_json();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 6) {
      case 0:
        maskterial::npy::parse(bytes, "fuzz.npy");
        break;
      case 1:
        maskterial::load_state_dict(write_scratch("model.pth", bytes));
        break;
      case 2:
        maskterial::GmmClassifier::load(write_scratch("gmm.json", bytes)).to_json();
        break;
      case 5:
        classifier_architecture(bytes);
        break;
      default:
        segmentation_model_json(bytes, data[0] % 6 == 3);
    }
  } catch (const maskterial::Error&) {  // the one way to refuse input
  }
  return 0;
}
