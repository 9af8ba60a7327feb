#include "maskterial/image/jpeg.hpp"

#include <cstdint>
#include <cstdlib>

#include "jpeg_errors.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {

cv::Mat decode_colour_jpeg(const std::string& bytes, const std::string& name) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_errors_jumping_back(errors);
  cv::Mat image;  // before setjmp: a jump back must find it constructed
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    throw file_error(name, std::string("not a readable image (libjpeg: ") + errors.message + ")");
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  if (info.num_components != 3) {
    jpeg_destroy_decompress(&info);
    return cv::Mat();
  }
  // OpenCV's default limit (CV_IO_MAX_IMAGE_PIXELS): a few bytes of header must not claim gigabytes.
  if (static_cast<uint64_t>(info.image_width) * info.image_height > (uint64_t{1} << 30)) {
    jpeg_destroy_decompress(&info);
    throw file_error(name, "JPEG too large (" + std::to_string(info.image_width) + "x" +
                               std::to_string(info.image_height) + " pixels)");
  }
  info.out_color_space = JCS_EXT_BGR;
  jpeg_start_decompress(&info);
  try {
    image.create(static_cast<int>(info.output_height), static_cast<int>(info.output_width), CV_8UC3);
  } catch (...) {
    jpeg_destroy_decompress(&info);
    throw;
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.ptr<uchar>(static_cast<int>(info.output_scanline));
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return image;
}

std::vector<uchar> encode_jpeg(const cv::Mat& bgr8, int quality) {
  if (bgr8.type() != CV_8UC3 || bgr8.empty()) throw Error("JPEG encoding: expected an 8-bit BGR image");
  jpeg_compress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_errors_jumping_back(errors);
  unsigned char* buffer = nullptr;  // grown by libjpeg, freed here
  unsigned long size = 0;
  if (setjmp(errors.jump)) {
    jpeg_destroy_compress(&info);
    free(buffer);
    throw Error(std::string("JPEG encoding failed: ") + errors.message);
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = static_cast<JDIMENSION>(bgr8.cols);
  info.image_height = static_cast<JDIMENSION>(bgr8.rows);
  info.input_components = 3;
  info.in_color_space = JCS_EXT_BGR;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uchar*>(bgr8.ptr<uchar>(static_cast<int>(info.next_scanline)));
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  std::vector<uchar> out(buffer, buffer + size);
  jpeg_destroy_compress(&info);
  free(buffer);
  return out;
}

}  // namespace maskterial
