#pragma once
// Format and dimensions of an image file, read from its header by the format's own library (libjpeg,
// libpng, libtiff, libwebp; BMP's fixed header) before any pixel is decoded, so the server can refuse images
// whose decoded size would exhaust memory (a few hundred bytes of JPEG can claim 30000x30000 pixels) and
// decode only what it has sized. The libraries parse exactly as the decoders OpenCV runs afterwards do:
// stray bytes between JPEG markers, for instance, are skipped by both.
#include <string>

#include <opencv2/core.hpp>

namespace maskterial {

enum class ImageFormat { Jpeg, Png, Tiff, WebP, Bmp };

struct ImageHeader {
  ImageFormat format;
  cv::Size size;  // dimensions beyond int read as INT_MAX, which every limit refuses
};

// Throws Error naming `name`: "unsupported image format" for anything but the formats above (JPEG 2000,
// PPM, ...: their size is not read, so they are never decoded), or the library's complaint about a header
// it cannot read.
ImageHeader read_image_header(const std::string& bytes, const std::string& name);

// "JPEG", "PNG", ...
const char* to_string(ImageFormat format);

}  // namespace maskterial
