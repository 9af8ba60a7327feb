#include "maskterial/core/shipped_models.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "maskterial/core/embedded_models.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial {

std::string models_root() {
  const char* chosen = std::getenv("MASKTERIAL_MODELS");
  if (chosen && *chosen) return chosen;
  // An installed program (the Debian package: /usr/bin/maskterial-cli, /usr/share/maskterial/models) finds
  // its models from its own path, so it works from any folder and in a tree unpacked anywhere (dpkg -x).
  std::error_code ec;
  const fs::path program = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = (program.parent_path() / MASKTERIAL_INSTALLED_MODELS).lexically_normal();
    if (fs::is_directory(installed, ec)) return installed.string();
  }
  return std::string(MASKTERIAL_SOURCE_DIR) + "/models";  // a build tree: the source tree it was built from
}

std::string shipped_segmenter_dir() { return models_root() + "/segmenter/pretrained"; }

std::string default_gmm_hash() { return content_hash({{"gmm.json", default_gmm_json()}}); }

std::string shipped_pretrained_segmenter_dir() { return models_root() + "/segmenter/pretrained"; }

}  // namespace maskterial
