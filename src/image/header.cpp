#include "maskterial/image/header.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include <webp/decode.h>

#include "jpeg_errors.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

cv::Size size_of(uint64_t width, uint64_t height) {
  constexpr uint64_t kMax = std::numeric_limits<int>::max();
  return {static_cast<int>(std::min(width, kMax)), static_cast<int>(std::min(height, kMax))};
}

bool starts_with(const std::string& b, const char* magic, size_t n) { return b.size() >= n && std::memcmp(b.data(), magic, n) == 0; }

cv::Size jpeg_size(const std::string& bytes, const std::string& name) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_errors_jumping_back(errors);  // warnings (extraneous bytes...) are the decoder's business
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    throw file_error(name, std::string("unreadable JPEG header (") + errors.message + ")");
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  const cv::Size size = size_of(info.image_width, info.image_height);
  jpeg_destroy_decompress(&info);
  return size;
}

struct PngSource {
  const std::string& bytes;
  size_t at = 0;
};

cv::Size png_size(const std::string& bytes, const std::string& name) {
  // Messages are collected here; libpng's error callback jumps back through png_jmpbuf.
  static thread_local std::string png_message;
  png_structp png = png_create_read_struct(
      PNG_LIBPNG_VER_STRING, nullptr,
      [](png_structp p, png_const_charp message) {
        png_message = message;
        png_longjmp(p, 1);
      },
      [](png_structp, png_const_charp) {});
  if (!png) throw file_error(name, "cannot read PNG header (out of memory)");
  png_infop info = png_create_info_struct(png);
  PngSource source{bytes};
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    throw file_error(name, "unreadable PNG header (" + png_message + ")");
  }
  png_set_read_fn(png, &source, [](png_structp p, png_bytep out, png_size_t n) {
    auto* s = static_cast<PngSource*>(png_get_io_ptr(p));
    if (n > s->bytes.size() - s->at) png_error(p, "file ends inside the header");
    std::memcpy(out, s->bytes.data() + s->at, n);
    s->at += n;
  });
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);  // libpng's own 1,000,000 px a side would hide the real size
  png_read_info(png, info);
  const cv::Size size = size_of(png_get_image_width(png, info), png_get_image_height(png, info));
  png_destroy_read_struct(&png, &info, nullptr);
  return size;
}

// libtiff reads through callbacks on this memory file.
struct TiffSource {
  const std::string& bytes;
  toff_t at = 0;
};

cv::Size tiff_size(const std::string& bytes, const std::string& name) {
  static std::once_flag quiet;
  std::call_once(quiet, [] {  // libtiff prints to stderr by default; errors surface as a failed open instead
    TIFFSetErrorHandler(nullptr);
    TIFFSetWarningHandler(nullptr);
  });
  TiffSource source{bytes};
  TIFF* tiff = TIFFClientOpen(
      "memory", "rm", &source,
      [](thandle_t h, tdata_t out, tsize_t n) -> tsize_t {
        auto* s = static_cast<TiffSource*>(h);
        const toff_t left = s->at < s->bytes.size() ? s->bytes.size() - s->at : 0;
        const toff_t count = std::min<toff_t>(static_cast<toff_t>(n), left);
        std::memcpy(out, s->bytes.data() + s->at, count);
        s->at += count;
        return static_cast<tsize_t>(count);
      },
      [](thandle_t, tdata_t, tsize_t) -> tsize_t { return -1; },
      [](thandle_t h, toff_t offset, int whence) -> toff_t {
        auto* s = static_cast<TiffSource*>(h);
        const toff_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->at : s->bytes.size();
        s->at = base + offset;
        return s->at;
      },
      [](thandle_t) { return 0; },
      [](thandle_t h) -> toff_t { return static_cast<TiffSource*>(h)->bytes.size(); },
      [](thandle_t, tdata_t*, toff_t*) { return 0; }, [](thandle_t, tdata_t, toff_t) {});
  if (!tiff) throw file_error(name, "unreadable TIFF header");
  uint32_t width = 0, height = 0;
  const bool ok = TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width) && TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height);
  TIFFClose(tiff);
  if (!ok) throw file_error(name, "TIFF without image width and length");
  return size_of(width, height);
}

cv::Size webp_size(const std::string& bytes, const std::string& name) {
  int width = 0, height = 0;
  if (!WebPGetInfo(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &width, &height))
    throw file_error(name, "unreadable WebP header");
  return {width, height};
}

// BITMAPCOREHEADER (12 bytes, 16-bit sides) or a later info header (32-bit signed sides; negative height:
// rows stored top-down), as OpenCV's BMP decoder reads them.
cv::Size bmp_size(const std::string& b, const std::string& name) {
  const auto le = [&](size_t at, int n) {
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
    return v;
  };
  if (b.size() < 26) throw file_error(name, "BMP header cut short");
  const uint32_t header_size = le(14, 4);
  if (header_size == 12) return size_of(le(18, 2), le(20, 2));
  if (header_size < 40) throw file_error(name, "unreadable BMP header");
  const auto width = static_cast<int32_t>(le(18, 4)), height = static_cast<int32_t>(le(22, 4));
  return size_of(static_cast<uint64_t>(std::llabs(width)), static_cast<uint64_t>(std::llabs(height)));
}

}  // namespace

const char* to_string(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Tiff: return "TIFF";
    case ImageFormat::WebP: return "WebP";
    case ImageFormat::Bmp: return "BMP";
  }
  return "image";
}

ImageHeader read_image_header(const std::string& bytes, const std::string& name) {
  // The signatures OpenCV's decoders check, so the library that sizes a file is the one that decodes it.
  if (starts_with(bytes, "\xff\xd8\xff", 3)) return {ImageFormat::Jpeg, jpeg_size(bytes, name)};
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n", 8)) return {ImageFormat::Png, png_size(bytes, name)};
  if (starts_with(bytes, "II*\0", 4) || starts_with(bytes, "MM\0*", 4) || starts_with(bytes, "II+\0", 4) ||
      starts_with(bytes, "MM\0+", 4))
    return {ImageFormat::Tiff, tiff_size(bytes, name)};
  if (bytes.size() >= 12 && starts_with(bytes, "RIFF", 4) && bytes.compare(8, 4, "WEBP") == 0)
    return {ImageFormat::WebP, webp_size(bytes, name)};
  if (starts_with(bytes, "BM", 2)) return {ImageFormat::Bmp, bmp_size(bytes, name)};
  throw file_error(name, "unsupported image format (JPEG, PNG, TIFF, WebP or BMP expected)");
}

}  // namespace maskterial
