#pragma once
// The form of a training job: the annotated GrapheneH images of the shared data, `copies` times under
// different names (a longer job), and their COCO file. gain != 1: each image x gain, clipped at 255 as a camera
// does, re-encoded as JPEG (an overexposed scan).
#include <filesystem>
#include <string>

#include <httplib.h>
#include <opencv2/imgcodecs.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/util/files.hpp"
#include "serve_test_client.hpp"

namespace maskterial::serve::test {

inline const std::string kGrapheneImages = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/images/GrapheneH";
inline const std::string kGrapheneMasks = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/instance_masks/GrapheneH";

inline std::string image_bytes(const std::string& path, double gain) {
  if (gain == 1.0) return read_file(path);
  cv::Mat brighter;
  cv::imread(path).convertTo(brighter, CV_8UC3, gain);
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", brighter, jpeg, {cv::IMWRITE_JPEG_QUALITY, 95});
  return std::string(jpeg.begin(), jpeg.end());
}

inline httplib::MultipartFormDataItems training_form(const std::string& model, int copies, double gain = 1.0) {
  namespace fs = std::filesystem;
  const coco::Dataset annotated = coco::read_instance_mask_folder(kGrapheneImages, kGrapheneMasks);
  coco::Dataset dataset;
  dataset.categories = annotated.categories;
  httplib::MultipartFormDataItems form{text_part("model", model)};
  for (int copy = 0; copy < copies; ++copy) {
    for (const auto& image : annotated.images) {
      coco::ImageInfo renamed = image;
      renamed.id = static_cast<int64_t>(dataset.images.size()) + 1;
      renamed.file_name = std::to_string(copy) + "_" + fs::path(image.file_name).filename().string();
      for (const auto* a : annotated.annotations_of(image.id)) {
        coco::Annotation moved = *a;
        moved.id = static_cast<int64_t>(dataset.annotations.size()) + 1;
        moved.image_id = renamed.id;
        dataset.annotations.push_back(moved);
      }
      dataset.images.push_back(renamed);
      form.push_back(file_part("images", image_bytes(kGrapheneImages + "/" + fs::path(image.file_name).filename().string(), gain),
                               renamed.file_name));
    }
  }
  form.push_back(file_part("annotations", coco::dataset_to_json(dataset).dump(), "gt.json"));
  return form;
}

}  // namespace maskterial::serve::test
