// libFuzzer target for image header reading (image/header.hpp: libjpeg, libpng, libtiff, libwebp, BMP) and,
// for what it sizes as small, decoding: any input must end in a size, a decoded image or a maskterial::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "maskterial/image/header.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const maskterial::ImageHeader header = maskterial::read_image_header(bytes, "fuzz");
    if (header.size.width < 0 || header.size.height < 0) __builtin_trap();
    if (static_cast<double>(header.size.width) * header.size.height <= 1 << 20) maskterial::decode_image(bytes, "fuzz");
  } catch (const maskterial::Error&) {
  }
  return 0;
}
