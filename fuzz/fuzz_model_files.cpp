// libFuzzer target for the readers of model files a user uploads: .npy arrays, torch.save state dicts (zip +
// pickle) and model directories (model.json and its files, through the classifier and segmentation model
// registries). The first byte picks the reader. Any input must end in a result or a maskterial::Error (or,
// for a model directory, any std::exception, as the server catches), never a crash or a sanitizer report.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/serialize/npy.hpp"
#include "maskterial/serialize/state_dict.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace {

// One scratch folder per fuzzing process.
const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("fuzz_model_files_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0:
        maskterial::npy::parse(bytes, "fuzz.npy");
        break;
      case 1:
        maskterial::write_file_atomic((scratch() / "model.pth").string(), bytes);
        maskterial::load_state_dict((scratch() / "model.pth").string());
        break;
      case 2: {  // a classifier directory: model.json + gmm.json
        const fs::path dir = scratch() / "classifier";
        fs::create_directories(dir);
        const size_t split = bytes.find('\0');
        maskterial::write_file_atomic((dir / "model.json").string(), bytes.substr(0, split));
        maskterial::write_file_atomic((dir / "gmm.json").string(), split == std::string::npos ? "" : bytes.substr(split + 1));
        maskterial::load_classifier(dir.string());
        break;
      }
      default: {  // a segmentation model directory's model.json
        const fs::path dir = scratch() / "segmenter";
        fs::create_directories(dir);
        maskterial::write_file_atomic((dir / "model.json").string(), bytes);
        maskterial::segment::load_segmenter(dir.string());
      }
    }
  } catch (const maskterial::Error&) {
  } catch (const std::exception&) {
    if (data[0] % 4 < 2) __builtin_trap();  // the file readers promise maskterial::Error
  }
  return 0;
}
