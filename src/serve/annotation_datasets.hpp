#pragma once
// Annotation datasets made on the annotate page, kept as ROOT/<name>/dataset.json (COCO instances, compressed
// RLE exactly as the official COCO API writes it) and ROOT/<name>/images/<file>. Every write is atomic
// (temporary file renamed into place), names are checked like model names, and whatever a client sends is
// validated and normalised (area and bbox recomputed from the mask) before it replaces what was there.
// Images carry "split": "train" or "test"; test images are held out of training and scored after it.
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"

namespace maskterial::serve {

class AnnotationDatasets {
 public:
  explicit AnnotationDatasets(std::filesystem::path root);  // root is created with the first dataset

  nlohmann::json list() const;  // [{"name", "images", "annotations", "test_images"}], by name
  // HttpError 400 bad name or categories, 409 if it exists. categories: COCO categories (empty: layers 1..4).
  nlohmann::json create(const std::string& name, const nlohmann::json& categories);
  nlohmann::json get(const std::string& name) const;  // the COCO JSON; HttpError 404 if unknown
  // Replaces the splits and annotations of the images it lists, and the categories (HttpError 400 naming the
  // entry at fault). Listed images must have been uploaded; uploaded images it leaves out keep their entry and
  // annotations. Annotation ids are renumbered 1..N.
  nlohmann::json update(const std::string& name, const nlohmann::json& coco);
  void remove(const std::string& name);

  // Stores an image file (HttpError 415 if not an image, 409 if the name is taken by one of another size) and
  // lists it (split "train"). Returns its image entry.
  nlohmann::json put_image(const std::string& name, const std::string& file_name, const std::string& content);
  std::string image(const std::string& name, const std::string& file_name) const;
  void remove_image(const std::string& name, const std::string& file_name);  // with its annotations; 404

  // The images of one split (file name, content) and the COCO JSON restricted to them.
  struct Split {
    std::vector<std::pair<std::string, std::string>> images;
    nlohmann::json coco;
  };
  Split split(const std::string& name, const std::string& which) const;

 private:
  std::filesystem::path dir(const std::string& name) const;  // HttpError 400 bad name
  nlohmann::json read(const std::string& name) const;        // HttpError 404
  void write(const std::string& name, const nlohmann::json& coco) const;

  std::filesystem::path root_;
  mutable std::mutex mutex_;  // one reader or writer at a time: the files are small
};

}  // namespace maskterial::serve
