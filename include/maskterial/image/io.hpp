#pragma once
// Loading microscope images. The library works on 8-bit BGR cv::Mat (CV_8UC3), OpenCV's own layout, which is
// also what the reference Python code gets from cv2.imread. Conversions that happen on load (documented in
// README "Image formats"): 16-bit colour is scaled to 8 bits (v / 257, rounded); a 4th (alpha) channel is
// dropped. Gray images and images smaller than kMinImageSide are refused: contrast needs colour.
//
// Every image the program reads, from a file or an upload, goes through decode_image_as_stored: the format's
// header is read first (image/header.hpp) and an image whose width x height exceeds the pixel limit is refused
// before a single pixel is decoded (a 1 kB JPEG can claim 30000x30000 pixels, 2.7 GB decoded).
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "maskterial/image/header.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {

constexpr int kMinImageSide = 16;
// The largest image decoded by default: 100 megapixels (300 MB as 8-bit BGR), four times a full-frame 24 MP
// camera's picture. The CLI raises it with --max-image-megapixels, the server with its own option.
constexpr uint64_t kDefaultMaxImagePixels = 100'000'000;

// An image refused for its size alone (the server answers 413 to it, other bad images 415 / 400).
class ImageTooLarge : public Error {
 public:
  using Error::Error;
};

// The limit load_image / decode_image apply when given none. Process-wide, set once at start-up by the
// command line (--max-image-megapixels); 0 restores the default.
void set_max_image_pixels(uint64_t pixels);
uint64_t max_image_pixels();

// Reads the header of an in-memory file and refuses (ImageTooLarge) one of more than max_pixels pixels, or
// (Error) one whose header cannot be read or whose format is not decoded.
ImageHeader check_image_header(const std::string& bytes, const std::string& name, uint64_t max_pixels);

// Throws Error naming the file: missing, not a regular file, not an image, truncated (JPEG without end marker,
// PNG without IEND), larger than max_pixels (ImageTooLarge), gray, or too small.
cv::Mat load_image(const std::string& path, uint64_t max_pixels = max_image_pixels());

// Decodes an in-memory file (the server's uploads) as load_image does; `name` is used in error messages.
cv::Mat decode_image(const std::string& bytes, const std::string& name, uint64_t max_pixels = max_image_pixels());

// The same checks, but the pixels as stored (any channel count and depth): label masks.
cv::Mat decode_image_as_stored(const std::string& bytes, const std::string& name,
                               uint64_t max_pixels = max_image_pixels());

}  // namespace maskterial
