#include "maskterial/image/io.hpp"

#include <atomic>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/image/jpeg.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial {
namespace {

std::atomic<uint64_t> pixel_limit{kDefaultMaxImagePixels};

bool starts_with(const std::string& bytes, const char* magic, size_t n) {
  return bytes.size() >= n && bytes.compare(0, n, magic, n) == 0;
}

// libjpeg and libpng decode a cut-off file into a partially grey image with only a warning on stderr;
// a scanner that is still writing a file must not yield a silently wrong result, so check the end markers.
void check_complete(const std::string& bytes, const std::string& name) {
  if (starts_with(bytes, "\xFF\xD8", 2)) {
    size_t end = bytes.find_last_not_of('\0');  // some cameras pad JPEGs with zeros
    if (end == std::string::npos || end < 1 || static_cast<unsigned char>(bytes[end - 1]) != 0xFF ||
        static_cast<unsigned char>(bytes[end]) != 0xD9)
      throw file_error(name, "truncated JPEG (no end-of-image marker)");
  } else if (starts_with(bytes, "\x89PNG\r\n\x1a\n", 8)) {
    if (bytes.size() < 20 || bytes.rfind("IEND") == std::string::npos)
      throw file_error(name, "truncated PNG (no IEND chunk)");
  }
}

cv::Mat to_bgr8(const cv::Mat& decoded, const std::string& name) {
  if (decoded.channels() == 1)
    throw file_error(name, "gray image; a colour (BGR) image is needed to measure contrast");
  if (decoded.channels() != 3 && decoded.channels() != 4)
    throw file_error(name, "unsupported number of channels: " + std::to_string(decoded.channels()));
  cv::Mat bgr;
  if (decoded.channels() == 4)
    cv::cvtColor(decoded, bgr, cv::COLOR_BGRA2BGR);
  else
    bgr = decoded;
  if (bgr.depth() == CV_16U) {
    cv::Mat eight;
    bgr.convertTo(eight, CV_8U, 1.0 / 257.0);
    bgr = eight;
  } else if (bgr.depth() != CV_8U) {
    throw file_error(name, "unsupported pixel depth (only 8- and 16-bit integer images)");
  }
  if (bgr.rows < kMinImageSide || bgr.cols < kMinImageSide)
    throw file_error(name, "image too small (" + std::to_string(bgr.cols) + "x" + std::to_string(bgr.rows) +
                               "), at least " + std::to_string(kMinImageSide) + " px a side");
  return bgr;
}

}  // namespace

void set_max_image_pixels(uint64_t pixels) { pixel_limit = pixels == 0 ? kDefaultMaxImagePixels : pixels; }
uint64_t max_image_pixels() { return pixel_limit; }

ImageHeader check_image_header(const std::string& bytes, const std::string& name, uint64_t max_pixels) {
  if (bytes.empty()) throw file_error(name, "empty file");
  const ImageHeader header = read_image_header(bytes, name);
  const uint64_t pixels = static_cast<uint64_t>(header.size.width) * static_cast<uint64_t>(header.size.height);
  if (pixels > max_pixels)
    throw ImageTooLarge(name + ": " + std::to_string(header.size.width) + "x" + std::to_string(header.size.height) +
                        " pixels is more than the limit of " + std::to_string(max_pixels / 1000000) +
                        " megapixels (raise it with --max-image-megapixels)");
  return header;
}

cv::Mat decode_image_as_stored(const std::string& bytes, const std::string& name, uint64_t max_pixels) {
  check_image_header(bytes, name, max_pixels);
  check_complete(bytes, name);
  if (starts_with(bytes, "\xFF\xD8", 2)) {
    const cv::Mat colour = decode_colour_jpeg(bytes, name);  // OpenCV's pixels, without its byte swapping
    if (!colour.empty()) return to_bgr8(colour, name);
  }
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
    decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw file_error(name, std::string("cannot decode image: ") + e.what());
  }
  if (decoded.empty()) throw file_error(name, "not a readable image (JPEG, PNG or TIFF expected)");
  return decoded;
}

cv::Mat decode_image(const std::string& bytes, const std::string& name, uint64_t max_pixels) {
  return to_bgr8(decode_image_as_stored(bytes, name, max_pixels), name);
}

cv::Mat load_image(const std::string& path, uint64_t max_pixels) {
  return decode_image(read_file(path), path, max_pixels);
}

}  // namespace maskterial
