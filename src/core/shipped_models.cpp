#include "maskterial/core/shipped_models.hpp"

#include <cstdlib>

namespace maskterial {

std::string models_root() {
  const char* installed = std::getenv("MASKTERIAL_MODELS");
  return installed && *installed ? std::string(installed) : std::string(MASKTERIAL_SOURCE_DIR) + "/models";
}

std::string shipped_segmenter_dir() { return models_root() + "/segmenter/pretrained"; }

std::string shipped_pretrained_segmenter_dir() { return models_root() + "/segmenter/pretrained"; }

}  // namespace maskterial
