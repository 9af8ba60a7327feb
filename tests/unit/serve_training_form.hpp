#pragma once
// The form of a training job: the annotated GrapheneH images of the shared data, `copies` times under
// different names (a longer job), and their COCO file.
#include <filesystem>
#include <string>

#include <httplib.h>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/util/files.hpp"
#include "serve_test_client.hpp"

namespace maskterial::serve::test {

inline const std::string kGrapheneImages = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/images/GrapheneH";
inline const std::string kGrapheneMasks = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/instance_masks/GrapheneH";

inline httplib::MultipartFormDataItems training_form(const std::string& model, int copies) {
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
      form.push_back(file_part("images", read_file(kGrapheneImages + "/" + fs::path(image.file_name).filename().string()),
                               renamed.file_name));
    }
  }
  form.push_back(file_part("annotations", coco::dataset_to_json(dataset).dump(), "gt.json"));
  return form;
}

}  // namespace maskterial::serve::test
