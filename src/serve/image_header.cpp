#include "image_header.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace maskterial::serve {
namespace {

uint32_t read_be(const std::string& b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

uint32_t read_le(const std::string& b, size_t at, int n) {
  uint32_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

std::optional<cv::Size> size_of(uint64_t width, uint64_t height) {
  // Dimensions beyond int are reported as the largest int, which every limit refuses.
  constexpr uint64_t kMax = 0x7fffffff;
  return cv::Size(static_cast<int>(std::min(width, kMax)), static_cast<int>(std::min(height, kMax)));
}

std::optional<cv::Size> png_size(const std::string& b) {
  if (b.size() < 24 || b.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || b.compare(12, 4, "IHDR") != 0) return std::nullopt;
  return size_of(read_be(b, 16, 4), read_be(b, 20, 4));
}

// Walks the JPEG markers up to the first start-of-frame, which holds the dimensions.
std::optional<cv::Size> jpeg_size(const std::string& b) {
  if (b.size() < 4 || static_cast<uint8_t>(b[0]) != 0xff || static_cast<uint8_t>(b[1]) != 0xd8) return std::nullopt;
  size_t at = 2;
  while (at + 4 <= b.size()) {
    if (static_cast<uint8_t>(b[at]) != 0xff) return std::nullopt;
    const uint8_t marker = static_cast<uint8_t>(b[at + 1]);
    if (marker == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // markers without a length
      at += 2;
      continue;
    }
    const size_t length = read_be(b, at + 2, 2);
    const bool start_of_frame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (start_of_frame) {
      if (at + 9 > b.size()) return std::nullopt;
      return size_of(read_be(b, at + 7, 2), read_be(b, at + 5, 2));
    }
    at += 2 + length;
  }
  return std::nullopt;
}

// Image width and length tags of the first image file directory.
std::optional<cv::Size> tiff_size(const std::string& b) {
  if (b.size() < 8) return std::nullopt;
  const bool little = b.compare(0, 4, std::string("II*\0", 4)) == 0;
  if (!little && b.compare(0, 4, std::string("MM\0*", 4)) != 0) return std::nullopt;
  const auto read = [&](size_t at, int n) { return little ? read_le(b, at, n) : read_be(b, at, n); };
  const size_t ifd = read(4, 4);
  if (ifd + 2 > b.size()) return std::nullopt;
  const size_t entries = read(ifd, 2);
  uint64_t width = 0, height = 0;
  for (size_t i = 0; i < entries && ifd + 2 + 12 * (i + 1) <= b.size(); ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    const uint32_t tag = read(entry, 2), type = read(entry + 2, 2);
    const uint32_t value = type == 3 ? read(entry + 8, 2) : read(entry + 8, 4);  // SHORT or LONG
    if (tag == 256) width = value;
    if (tag == 257) height = value;
  }
  if (width == 0 || height == 0) return std::nullopt;
  return size_of(width, height);
}

std::optional<cv::Size> bmp_size(const std::string& b) {
  if (b.size() < 26 || b.compare(0, 2, "BM") != 0) return std::nullopt;
  const int32_t width = static_cast<int32_t>(read_le(b, 18, 4));
  const int32_t height = static_cast<int32_t>(read_le(b, 22, 4));  // negative: rows stored top-down
  return size_of(static_cast<uint64_t>(std::abs(static_cast<int64_t>(width))),
                 static_cast<uint64_t>(std::abs(static_cast<int64_t>(height))));
}

}  // namespace

std::optional<cv::Size> image_size_from_header(const std::string& bytes) {
  for (const auto reader : {png_size, jpeg_size, tiff_size, bmp_size})
    if (const auto size = reader(bytes)) return size;
  return std::nullopt;
}

}  // namespace maskterial::serve
