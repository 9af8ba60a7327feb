// --max-image-megapixels, shared by every command that reads images.
#include <cmath>

#include "commands.hpp"
#include "maskterial/image/io.hpp"

namespace maskterial::cli {

void add_image_limit(CLI::App& cmd) {
  cmd.add_option_function<double>(
         "--max-image-megapixels",
         [](double megapixels) { set_max_image_pixels(static_cast<uint64_t>(std::llround(megapixels * 1e6))); },
         "Largest image decoded, megapixels (width x height, read from the file header before decoding; default " +
             std::to_string(kDefaultMaxImagePixels / 1000000) + ")")
      ->check(CLI::Range(0.0001, 1e5));
}

}  // namespace maskterial::cli
