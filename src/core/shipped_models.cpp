#include "maskterial/core/shipped_models.hpp"

#include <cstdlib>

#include "maskterial/core/embedded_models.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial {

std::string models_root() {
  const char* installed = std::getenv("MASKTERIAL_MODELS");
  return installed && *installed ? std::string(installed) : std::string(MASKTERIAL_SOURCE_DIR) + "/models";
}

std::string shipped_segmenter_dir() { return models_root() + "/segmenter/pretrained"; }

std::string default_gmm_hash() { return content_hash({{"gmm.json", default_gmm_json()}}); }

std::string shipped_pretrained_segmenter_dir() { return models_root() + "/segmenter/pretrained"; }

}  // namespace maskterial
