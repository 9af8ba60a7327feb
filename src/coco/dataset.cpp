#include "maskterial/coco/dataset.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <opencv2/imgproc.hpp>

#include "maskterial/image/io.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace maskterial::coco {

const ImageInfo* Dataset::find_image(int64_t image_id) const {
  for (const ImageInfo& image : images) {
    if (image.id == image_id) return &image;
  }
  return nullptr;
}

const ImageInfo* Dataset::find_image_by_file(const std::string& file_name) const {
  for (const ImageInfo& image : images) {
    if (image.file_name == file_name) return &image;
  }
  const std::string base = fs::path(file_name).filename().string();
  for (const ImageInfo& image : images) {
    if (fs::path(image.file_name).filename().string() == base) return &image;
  }
  return nullptr;
}

std::vector<const Annotation*> Dataset::annotations_of(int64_t image_id) const {
  std::vector<const Annotation*> result;
  for (const Annotation& a : annotations) {
    if (a.image_id == image_id) result.push_back(&a);
  }
  return result;
}

namespace {

// One JSON object being read; every error it raises reads "<file>: <entry>.<field>: <problem>".
class Entry {
 public:
  Entry(const json& object, const std::string& source, std::string where)
      : object_(object), source_(source), where_(std::move(where)) {
    if (!object_.is_object()) throw file_error(source_, where_ + ": must be an object, got " + object_.type_name());
  }

  std::string where(const std::string& field) const { return source_ + ": " + where_ + "." + field; }

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw file_error(source_, where_ + (field.empty() ? "" : "." + field) + ": " + problem);
  }

  const json* find(const char* key) const {
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  const json& require(const char* key) const {
    if (const json* v = find(key)) return *v;
    fail(key, "missing");
  }

  int64_t integer(const char* key, int64_t lo = std::numeric_limits<int64_t>::min(),
                  int64_t hi = std::numeric_limits<int64_t>::max()) const {
    const json& v = require(key);
    int64_t x = 0;
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) {
      fail(key, v.dump() + " is out of range");
    } else if (v.is_number_integer()) {
      x = v.get<int64_t>();
    } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
               std::abs(v.get<double>()) < 9e15) {  // integral floats, as some Python writers emit
      x = static_cast<int64_t>(v.get<double>());
    } else {  // only numbers are dumped: an arbitrary value could be huge or deeply nested
      fail(key, "must be an integer, got " + (v.is_number() ? v.dump() : std::string(v.type_name())));
    }
    if (x < lo || x > hi) fail(key, v.dump() + " is out of range");
    return x;
  }

  double number(const char* key) const {
    const json& v = require(key);
    if (!v.is_number()) fail(key, std::string("must be a number, got ") + v.type_name());
    return v.get<double>();
  }

  std::string string(const char* key) const {
    const json& v = require(key);
    if (!v.is_string()) fail(key, std::string("must be a string, got ") + v.type_name());
    return v.get<std::string>();
  }

  std::array<double, 4> box(const char* key) const {
    const json& v = require(key);
    if (!v.is_array() || v.size() != 4) fail(key, "must be [x, y, width, height]");
    std::array<double, 4> result{};
    for (size_t i = 0; i < 4; ++i) {
      if (!v[i].is_number()) fail(key, "must hold 4 numbers, got a " + std::string(v[i].type_name()));
      result[i] = v[i].get<double>();
    }
    return result;
  }

  Rle segmentation(const ImageInfo& image, PolygonBudget& budget) const {
    try {
      return segmentation_from_json(require("segmentation"), image.height, image.width, budget);
    } catch (const Error& e) {
      fail("segmentation", e.what());
    }
  }

 private:
  const json& object_;
  const std::string& source_;
  std::string where_;
};

const json& array_member(const json& root, const char* key, const std::string& source, bool required) {
  static const json empty = json::array();
  const auto it = root.find(key);
  if (it == root.end()) {
    if (required) throw file_error(source, std::string("no \"") + key + "\" list");
    return empty;
  }
  if (!it->is_array()) throw file_error(source, std::string("\"") + key + "\" must be a list");
  return *it;
}

std::string item(const char* list, size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; }

std::vector<ImageInfo> images_from_json(const json& list, const std::string& source) {
  std::vector<ImageInfo> images;
  std::unordered_set<int64_t> ids;
  for (size_t i = 0; i < list.size(); ++i) {
    const Entry e(list[i], source, item("images", i));
    ImageInfo image;
    image.id = e.integer("id");
    image.file_name = e.string("file_name");
    image.width = static_cast<int>(e.integer("width", 1, std::numeric_limits<int>::max()));
    image.height = static_cast<int>(e.integer("height", 1, std::numeric_limits<int>::max()));
    if (!ids.insert(image.id).second) e.fail("id", "duplicate image id " + std::to_string(image.id));
    images.push_back(std::move(image));
  }
  return images;
}

std::vector<Category> categories_from_json(const json& list, const std::string& source) {
  std::vector<Category> categories;
  std::unordered_set<int64_t> ids;
  for (size_t i = 0; i < list.size(); ++i) {
    const Entry e(list[i], source, item("categories", i));
    Category category;
    category.id = e.integer("id");
    category.name = e.string("name");
    if (e.find("supercategory")) category.supercategory = e.string("supercategory");
    if (!ids.insert(category.id).second) e.fail("id", "duplicate category id " + std::to_string(category.id));
    categories.push_back(std::move(category));
  }
  return categories;
}

std::unordered_map<int64_t, const ImageInfo*> index_images(const std::vector<ImageInfo>& images) {
  std::unordered_map<int64_t, const ImageInfo*> index;
  for (const ImageInfo& image : images) index.emplace(image.id, &image);
  return index;
}

std::unordered_set<int64_t> category_ids(const std::vector<Category>& categories) {
  std::unordered_set<int64_t> ids;
  for (const Category& c : categories) ids.insert(c.id);
  return ids;
}

// The image and category an annotation or result refers to must exist: evaluation would otherwise drop it.
const ImageInfo& referenced_image(const Entry& e, const std::unordered_map<int64_t, const ImageInfo*>& images,
                                  int64_t image_id, const char* where_from) {
  const auto it = images.find(image_id);
  if (it == images.end()) e.fail("image_id", std::to_string(image_id) + " is not an image of " + where_from);
  return *it->second;
}

// COCO's loader accepts annotations and results on categories it does not list, and COCOeval then skips
// them per category but counts them class-agnostically; do the same, but say so for ground truth.
void warn_unknown_category(const Entry& e, const std::unordered_set<int64_t>& categories, int64_t category_id) {
  if (!categories.count(category_id))
    spdlog::warn("{}: category_id {} is not listed in \"categories\"", e.where("category_id"), category_id);
}

Annotation annotation_from_json(const Entry& e, const std::unordered_map<int64_t, const ImageInfo*>& images,
                                 const std::unordered_set<int64_t>& categories, PolygonBudget& budget) {
  Annotation a;
  a.id = e.integer("id");
  a.image_id = e.integer("image_id");
  a.category_id = e.integer("category_id");
  const ImageInfo& image = referenced_image(e, images, a.image_id, "the dataset");
  warn_unknown_category(e, categories, a.category_id);
  a.segmentation = e.segmentation(image, budget);
  if (const json* crowd = e.find("iscrowd")) {
    a.iscrowd = crowd->is_boolean() ? crowd->get<bool>() : static_cast<int>(e.integer("iscrowd", 0, 1));
  }
  // Area and box are kept as given: COCOeval bins ground truth by the stored area, not the mask's.
  a.area = e.find("area") ? e.number("area") : static_cast<double>(area(a.segmentation));
  a.bbox = e.find("bbox") ? e.box("bbox") : to_bbox(a.segmentation);
  return a;
}

json box_json(const std::array<double, 4>& b) { return json::array({b[0], b[1], b[2], b[3]}); }

}  // namespace

Dataset dataset_from_json(const json& root, const std::string& source_name, PolygonBudget budget) {
  if (!root.is_object()) throw file_error(source_name, "a COCO dataset must be a JSON object");
  Dataset dataset;
  dataset.images = images_from_json(array_member(root, "images", source_name, true), source_name);
  dataset.categories = categories_from_json(array_member(root, "categories", source_name, false), source_name);
  const auto images = index_images(dataset.images);
  const auto categories = category_ids(dataset.categories);
  const json& list = array_member(root, "annotations", source_name, false);
  std::unordered_set<int64_t> ids;
  for (size_t i = 0; i < list.size(); ++i) {
    const Entry e(list[i], source_name, item("annotations", i));
    Annotation a = annotation_from_json(e, images, categories, budget);
    if (!ids.insert(a.id).second) e.fail("id", "duplicate annotation id " + std::to_string(a.id));
    dataset.annotations.push_back(std::move(a));
  }
  return dataset;
}

Dataset read_dataset(const std::string& path) { return dataset_from_json(read_json(path), path); }

json dataset_to_json(const Dataset& dataset) {
  json images = json::array(), annotations = json::array(), categories = json::array();
  for (const ImageInfo& i : dataset.images) {
    images.push_back({{"id", i.id}, {"file_name", i.file_name}, {"width", i.width}, {"height", i.height}});
  }
  for (const Annotation& a : dataset.annotations) {
    annotations.push_back({{"id", a.id},
                           {"image_id", a.image_id},
                           {"category_id", a.category_id},
                           {"segmentation", to_json(a.segmentation)},
                           {"area", a.area},
                           {"bbox", box_json(a.bbox)},
                           {"iscrowd", a.iscrowd}});
  }
  for (const Category& c : dataset.categories) {
    categories.push_back({{"id", c.id}, {"name", c.name}, {"supercategory", c.supercategory}});
  }
  return {{"images", std::move(images)}, {"annotations", std::move(annotations)}, {"categories", std::move(categories)}};
}

void write_dataset(const std::string& path, const Dataset& dataset) { write_json_atomic(path, dataset_to_json(dataset)); }

std::vector<Annotation> results_from_json(const json& root, const Dataset& ground_truth,
                                          const std::string& source_name) {
  if (!root.is_array()) throw file_error(source_name, "a COCO results file must be a JSON list");
  const auto images = index_images(ground_truth.images);
  const auto categories = category_ids(ground_truth.categories);
  std::vector<Annotation> results;
  results.reserve(root.size());
  PolygonBudget budget;
  for (size_t i = 0; i < root.size(); ++i) {
    const Entry e(root[i], source_name, "[" + std::to_string(i) + "]");
    Annotation r;
    r.id = static_cast<int64_t>(i) + 1;  // numbered like COCO.loadRes
    r.image_id = e.integer("image_id");
    r.category_id = e.integer("category_id");
    const ImageInfo& image = referenced_image(e, images, r.image_id, "the ground truth");
    r.segmentation = e.segmentation(image, budget);
    r.score = e.number("score");
    // As COCO.loadRes does for segmentation results: area and box always come from the mask.
    r.area = static_cast<double>(area(r.segmentation));
    r.bbox = to_bbox(r.segmentation);
    results.push_back(std::move(r));
  }
  return results;
}

std::vector<Annotation> read_results(const std::string& path, const Dataset& ground_truth) {
  return results_from_json(read_json(path), ground_truth, path);
}

json results_to_json(const std::vector<Annotation>& results) {
  json list = json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const Annotation& r = results[i];
    if (!r.score) throw Error("result " + std::to_string(i) + " (image " + std::to_string(r.image_id) + ") has no score");
    list.push_back({{"image_id", r.image_id},
                    {"category_id", r.category_id},
                    {"segmentation", to_json(r.segmentation)},
                    {"score", *r.score},
                    {"bbox", box_json(r.bbox)},
                    {"area", r.area}});
  }
  return list;
}

void write_results(const std::string& path, const std::vector<Annotation>& results) {
  write_json_atomic(path, results_to_json(results));
}

namespace {

struct MaskFile {
  std::string mask_path;
  std::string image_name;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void require_directory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw file_error(dir, "no such folder");
}

// Regular files of a folder, sorted by name so ids are stable across runs and file systems.
std::vector<fs::path> sorted_files(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file()) files.push_back(it->path());
  }
  if (ec) throw file_error(dir, "cannot list folder: " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

// Pairs each PNG mask with the image of the same stem; the extension order decides between several.
std::vector<MaskFile> pair_masks_with_images(const std::string& images_dir, const std::string& masks_dir) {
  require_directory(images_dir);
  require_directory(masks_dir);
  static const std::vector<std::string> kImageExtensions = {".jpg", ".jpeg", ".png", ".tif", ".tiff"};
  std::map<std::string, std::pair<size_t, std::string>> image_by_stem;  // stem -> (extension rank, file name)
  for (const fs::path& p : sorted_files(images_dir)) {
    const auto ext = std::find(kImageExtensions.begin(), kImageExtensions.end(), lower(p.extension().string()));
    if (ext == kImageExtensions.end()) continue;
    const size_t rank = static_cast<size_t>(ext - kImageExtensions.begin());
    auto [it, inserted] = image_by_stem.try_emplace(p.stem().string(), rank, p.filename().string());
    if (!inserted && rank < it->second.first) it->second = {rank, p.filename().string()};
  }
  std::vector<MaskFile> pairs;
  for (const fs::path& p : sorted_files(masks_dir)) {
    if (lower(p.extension().string()) != ".png") continue;
    const auto it = image_by_stem.find(p.stem().string());
    if (it == image_by_stem.end()) {
      throw file_error(p.string(), "no image " + p.stem().string() + ".{jpg,jpeg,png,tif,tiff} in " + images_dir);
    }
    pairs.push_back({p.string(), it->second.second});
  }
  if (pairs.empty()) throw file_error(masks_dir, "no PNG masks in this folder");
  return pairs;
}

cv::Mat read_label_png(const std::string& path) {
  const cv::Mat mask = decode_image_as_stored(read_file(path), path);
  if (mask.type() != CV_8UC1 && mask.type() != CV_16UC1) {
    throw file_error(path, "expected a single-channel 8- or 16-bit mask, got " + std::to_string(mask.channels()) +
                               " channel(s) of depth " + std::to_string(mask.depth()));
  }
  return mask;
}

std::vector<int> nonzero_values(const cv::Mat& mask) {
  std::vector<bool> seen(1 << 16, false);
  for (int y = 0; y < mask.rows; ++y) {
    for (int x = 0; x < mask.cols; ++x) {
      seen[mask.type() == CV_8UC1 ? mask.at<uint8_t>(y, x) : mask.at<uint16_t>(y, x)] = true;
    }
  }
  std::vector<int> values;
  for (int v = 1; v < static_cast<int>(seen.size()); ++v) {
    if (seen[v]) values.push_back(v);
  }
  return values;
}

void add_annotation(Dataset& dataset, int64_t image_id, int64_t category_id, Rle rle) {
  Annotation a;
  a.id = static_cast<int64_t>(dataset.annotations.size()) + 1;
  a.image_id = image_id;
  a.category_id = category_id;
  a.area = static_cast<double>(area(rle));
  a.bbox = to_bbox(rle);
  a.segmentation = std::move(rle);
  dataset.annotations.push_back(std::move(a));
}

// Reads every mask of a folder pair; add_instances turns one mask into annotations of the given image.
template <typename AddInstances>
Dataset read_mask_folder(const std::string& images_dir, const std::string& masks_dir, AddInstances add_instances) {
  Dataset dataset;
  for (const MaskFile& file : pair_masks_with_images(images_dir, masks_dir)) {
    const cv::Mat mask = read_label_png(file.mask_path);
    ImageInfo image;
    image.id = static_cast<int64_t>(dataset.images.size()) + 1;
    image.file_name = file.image_name;
    image.width = mask.cols;
    image.height = mask.rows;
    dataset.images.push_back(image);
    add_instances(dataset, image.id, mask);
  }
  return dataset;
}

}  // namespace

Dataset read_semantic_mask_folder(const std::string& images_dir, const std::string& masks_dir) {
  std::set<int> classes;
  Dataset dataset = read_mask_folder(images_dir, masks_dir, [&](Dataset& d, int64_t image_id, const cv::Mat& mask) {
    for (int class_id : nonzero_values(mask)) {
      classes.insert(class_id);
      cv::Mat components;
      cv::connectedComponents(mask == class_id, components, 8, CV_32S);
      for (auto& [label, rle] : encode_labels(components)) add_annotation(d, image_id, class_id, std::move(rle));
    }
  });
  for (int class_id : classes) dataset.categories.push_back({class_id, std::to_string(class_id), ""});
  return dataset;
}

Dataset read_instance_mask_folder(const std::string& images_dir, const std::string& masks_dir) {
  Dataset dataset = read_mask_folder(images_dir, masks_dir, [](Dataset& d, int64_t image_id, const cv::Mat& mask) {
    for (auto& [instance, rle] : encode_labels(mask)) add_annotation(d, image_id, 1, std::move(rle));
  });
  dataset.categories.push_back({1, "flake", ""});
  return dataset;
}

}  // namespace maskterial::coco
