#pragma once
// Image dimensions read from the file header, before any pixel is decoded: the server refuses images whose
// decoded size would exhaust memory (a few MB of PNG can claim 30000x30000 pixels).
#include <optional>
#include <string>

#include <opencv2/core.hpp>

namespace maskterial::serve {

// Width and height of a PNG, JPEG, TIFF or BMP file; nothing if the header is not one of those or is cut short
// (the decoder then reports the problem).
std::optional<cv::Size> image_size_from_header(const std::string& bytes);

}  // namespace maskterial::serve
