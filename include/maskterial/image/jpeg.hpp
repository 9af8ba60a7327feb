#pragma once
// JPEG straight through libjpeg-turbo, in OpenCV's BGR layout. OpenCV 4.6 (Debian 12) has libjpeg produce and
// take RGB and swaps the bytes of every pixel in a scalar loop, on decode and on encode: the largest single
// cost of `detect --segmenter none` in a profile. libjpeg-turbo reads and writes BGR itself (JCS_EXT_BGR).
// The pixels and bytes are OpenCV's: the same library with the same settings (decode: islow DCT, fancy
// upsampling; encode: the library's defaults at the given quality, 4:2:0, standard Huffman tables).
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace maskterial {

// A colour (3-component) JPEG as CV_8UC3 BGR. An empty Mat for the JPEGs OpenCV has to convert (gray, CMYK),
// which callers decode with OpenCV. Throws Error naming `name` when libjpeg cannot decode the file.
cv::Mat decode_colour_jpeg(const std::string& bytes, const std::string& name);

// CV_8UC3 BGR image as JPEG file bytes at `quality` (1-100).
std::vector<uchar> encode_jpeg(const cv::Mat& bgr8, int quality);

}  // namespace maskterial
