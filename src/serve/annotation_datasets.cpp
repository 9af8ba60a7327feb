#include "annotation_datasets.hpp"

#include <algorithm>
#include <set>

#include "maskterial/coco/rle.hpp"
#include "maskterial/image/header.hpp"
#include "maskterial/serve/http_error.hpp"
#include "maskterial/serve/model_store.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr const char* kDatasetFile = "dataset.json";
constexpr const char* kImagesFolder = "images";

nlohmann::json default_categories() {
  nlohmann::json categories = nlohmann::json::array();
  for (int layers = 1; layers <= 4; ++layers)
    categories.push_back({{"id", layers}, {"name", std::to_string(layers)}, {"supercategory", "flake"}});
  return categories;
}

// Categories as COCO wants them: unique positive ids, a name each.
nlohmann::json checked_categories(const nlohmann::json& categories) {
  if (!categories.is_array()) throw HttpError(400, "\"categories\" must be a list");
  nlohmann::json out = nlohmann::json::array();
  std::set<int64_t> ids;
  for (const auto& c : categories) {
    if (!c.is_object() || !c.contains("id") || !c["id"].is_number_integer() || c["id"].get<int64_t>() <= 0 ||
        !c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty())
      throw HttpError(400, "categories: each needs a positive integer \"id\" and a \"name\": " + c.dump());
    if (!ids.insert(c["id"].get<int64_t>()).second)
      throw HttpError(400, "categories: id " + c["id"].dump() + " appears twice");
    out.push_back({{"id", c["id"]}, {"name", c["name"]}, {"supercategory", c.value("supercategory", "flake")}});
  }
  return out;
}

std::string split_of(const nlohmann::json& image) {
  const nlohmann::json split = image.value("split", nlohmann::json("train"));
  if (split != "train" && split != "test")
    throw HttpError(400, "image '" + image.value("file_name", std::string()) + "': \"split\" must be \"train\" or "
                         "\"test\", not " + split.dump());
  return split;
}

}  // namespace

AnnotationDatasets::AnnotationDatasets(fs::path root) : root_(std::move(root)) {}

fs::path AnnotationDatasets::dir(const std::string& name) const {
  check_model_name(name);
  return root_ / name;
}

nlohmann::json AnnotationDatasets::read(const std::string& name) const {
  const fs::path file = dir(name) / kDatasetFile;
  if (!fs::exists(file)) throw HttpError(404, "no annotation dataset '" + name + "'");
  return read_json(file.string());
}

void AnnotationDatasets::write(const std::string& name, const nlohmann::json& coco) const {
  write_json_atomic((dir(name) / kDatasetFile).string(), coco, -1);
}

nlohmann::json AnnotationDatasets::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> names;
  if (!fs::is_directory(root_)) return nlohmann::json::array();  // no dataset made yet
  for (const auto& entry : fs::directory_iterator(root_))
    if (entry.is_directory() && fs::exists(entry.path() / kDatasetFile) && entry.path().filename().string()[0] != '.' &&
        entry.path().filename().string().find(".tmp-") == std::string::npos)  // not one being written or deleted
      names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& name : names) {
    try {
      const nlohmann::json coco = read(name);
      const auto& images = coco["images"];
      const auto tests = std::count_if(images.begin(), images.end(), [](const auto& i) { return i.value("split", "") == "test"; });
      out.push_back({{"name", name}, {"images", images.size()}, {"annotations", coco["annotations"].size()},
                     {"test_images", tests}});
    } catch (const std::exception& e) {
      out.push_back({{"name", name}, {"error", e.what()}});
    }
  }
  return out;
}

nlohmann::json AnnotationDatasets::create(const std::string& name, const nlohmann::json& categories) {
  const fs::path target = dir(name);
  const nlohmann::json coco = {{"info", {{"description", "maskterial annotation dataset " + name}}},
                               {"images", nlohmann::json::array()},
                               {"annotations", nlohmann::json::array()},
                               {"categories", categories.empty() ? default_categories() : checked_categories(categories)}};
  std::lock_guard<std::mutex> lock(mutex_);
  if (fs::exists(target)) throw HttpError(409, "annotation dataset '" + name + "' exists");
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) throw Error(root_.string() + ": cannot create the datasets folder: " + ec.message());
  write_directory_atomic(target.string(), [&](const std::string& tmp) {
    fs::create_directories(fs::path(tmp) / kImagesFolder);
    write_json_atomic((fs::path(tmp) / kDatasetFile).string(), coco, -1);
  });
  return coco;
}

nlohmann::json AnnotationDatasets::get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return read(name);
}

nlohmann::json AnnotationDatasets::update(const std::string& name, const nlohmann::json& coco) {
  if (!coco.is_object() || !coco.contains("images") || !coco["images"].is_array() || !coco.contains("annotations") ||
      !coco["annotations"].is_array())
    throw HttpError(400, "a dataset update is a COCO object with \"images\" and \"annotations\" lists");
  coco::Dataset parsed;
  try {
    parsed = coco::dataset_from_json(coco, "dataset '" + name + "'", coco::kUploadPolygonBudget);
  } catch (const Error& e) {
    throw HttpError(400, e.what());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json stored = read(name);
  const nlohmann::json categories = coco.contains("categories") ? checked_categories(coco["categories"]) : stored["categories"];
  std::set<int64_t> category_ids;
  for (const auto& c : categories) category_ids.insert(c["id"].get<int64_t>());

  std::map<std::string, nlohmann::json> uploaded;  // file name -> stored image entry
  for (const auto& image : stored["images"]) uploaded[image["file_name"]] = image;
  nlohmann::json images = nlohmann::json::array();
  std::map<int64_t, std::pair<int64_t, cv::Size>> listed;  // the update's image id -> stored id, size
  std::set<std::string> kept;
  for (const auto& image : coco["images"]) {
    const std::string file = image.value("file_name", std::string());
    const auto it = uploaded.find(file);
    if (it == uploaded.end()) throw HttpError(400, "image '" + file + "' has not been uploaded to dataset '" + name + "'");
    if (!kept.insert(file).second) throw HttpError(400, "image '" + file + "' is listed twice");
    const nlohmann::json& known = it->second;
    if (image.value("width", 0) != known["width"] || image.value("height", 0) != known["height"])
      throw HttpError(400, "image '" + file + "' is " + known["width"].dump() + "x" + known["height"].dump() + " pixels");
    const int64_t id = image.value("id", int64_t{0});
    if (listed.count(id)) throw HttpError(400, "image id " + std::to_string(id) + " appears twice");
    listed[id] = {known["id"].get<int64_t>(), {known["width"].get<int>(), known["height"].get<int>()}};
    images.push_back({{"id", known["id"]}, {"file_name", file}, {"width", known["width"]}, {"height", known["height"]},
                      {"split", split_of(image)}});
  }
  // Images the update does not list keep their entry and annotations (an upload may have raced the update).
  std::set<int64_t> unlisted;
  for (const auto& [file, entry] : uploaded)
    if (!kept.count(file)) {
      images.push_back(entry);
      unlisted.insert(entry["id"].get<int64_t>());
    }
  std::sort(images.begin(), images.end(), [](const auto& a, const auto& b) { return a["id"] < b["id"]; });
  nlohmann::json annotations = nlohmann::json::array();
  for (const auto& a : stored["annotations"])
    if (unlisted.count(a["image_id"].get<int64_t>())) annotations.push_back(a);
  std::set<int64_t> annotation_ids;
  for (const coco::Annotation& a : parsed.annotations) {
    const std::string which = "annotation " + std::to_string(a.id);
    const auto image = listed.find(a.image_id);
    if (image == listed.end()) throw HttpError(400, which + ": no image with id " + std::to_string(a.image_id));
    const cv::Size size = image->second.second;
    if (!category_ids.count(a.category_id))
      throw HttpError(400, which + ": no category with id " + std::to_string(a.category_id));
    if (a.segmentation.width != size.width || a.segmentation.height != size.height)
      throw HttpError(400, which + ": its mask is not the size of its image");
    if (!annotation_ids.insert(a.id).second) throw HttpError(400, which + ": id appears twice");
    const uint64_t area = coco::area(a.segmentation);
    if (area == 0) continue;  // everything erased: nothing to keep
    const auto bbox = coco::to_bbox(a.segmentation);
    annotations.push_back({{"image_id", image->second.first}, {"category_id", a.category_id},
                           {"segmentation", coco::to_json(a.segmentation)}, {"area", area},
                           {"bbox", {bbox[0], bbox[1], bbox[2], bbox[3]}}, {"iscrowd", a.iscrowd}});
  }
  int64_t next_id = 1;  // ids are renumbered: kept and updated annotations never collide
  for (auto& a : annotations) a["id"] = next_id++;
  stored["images"] = images;
  stored["annotations"] = annotations;
  stored["categories"] = categories;
  write(name, stored);
  return stored;
}

void AnnotationDatasets::remove(const std::string& name) {
  const fs::path target = dir(name);
  std::lock_guard<std::mutex> lock(mutex_);
  if (!fs::exists(target / kDatasetFile)) throw HttpError(404, "no annotation dataset '" + name + "'");
  // Renamed away first, so the name is free at once and a crash leaves no half-deleted dataset under it.
  const fs::path doomed = root_ / ("." + name + ".deleting");
  fs::remove_all(doomed);
  fs::rename(target, doomed);
  fs::remove_all(doomed);
}

nlohmann::json AnnotationDatasets::put_image(const std::string& name, const std::string& file_name,
                                             const std::string& content) {
  check_file_name(file_name);
  cv::Size size;
  try {
    size = read_image_header(content, file_name).size;
  } catch (const Error& e) {
    throw HttpError(415, e.what());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json coco = read(name);
  int64_t next_id = 1;
  for (const auto& image : coco["images"]) {
    next_id = std::max(next_id, image["id"].get<int64_t>() + 1);
    if (image["file_name"] != file_name) continue;
    if (image["width"] != size.width || image["height"] != size.height)
      throw HttpError(409, "dataset '" + name + "' has an image '" + file_name + "' of another size");
    write_file_atomic((dir(name) / kImagesFolder / file_name).string(), content);
    return image;
  }
  const nlohmann::json entry = {{"id", next_id}, {"file_name", file_name}, {"width", size.width},
                                {"height", size.height}, {"split", "train"}};
  write_file_atomic((dir(name) / kImagesFolder / file_name).string(), content);
  coco["images"].push_back(entry);
  write(name, coco);
  return entry;
}

void AnnotationDatasets::remove_image(const std::string& name, const std::string& file_name) {
  check_file_name(file_name);
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json coco = read(name);
  nlohmann::json images = nlohmann::json::array(), annotations = nlohmann::json::array();
  int64_t id = -1;
  for (const auto& image : coco["images"])
    if (image["file_name"] == file_name) id = image["id"];
    else images.push_back(image);
  if (id < 0) throw HttpError(404, "dataset '" + name + "' has no image '" + file_name + "'");
  for (const auto& a : coco["annotations"])
    if (a["image_id"] != id) annotations.push_back(a);
  coco["images"] = images;
  coco["annotations"] = annotations;
  write(name, coco);  // first the listing, so a crash leaves a stray file rather than a listed missing one
  fs::remove(dir(name) / kImagesFolder / file_name);
}

std::string AnnotationDatasets::image(const std::string& name, const std::string& file_name) const {
  check_file_name(file_name);
  std::lock_guard<std::mutex> lock(mutex_);
  read(name);
  const fs::path file = dir(name) / kImagesFolder / file_name;
  if (!fs::exists(file)) throw HttpError(404, "dataset '" + name + "' has no image '" + file_name + "'");
  return read_file(file.string());
}

AnnotationDatasets::Split AnnotationDatasets::split(const std::string& name, const std::string& which) const {
  std::lock_guard<std::mutex> lock(mutex_);
  Split out;
  out.coco = read(name);
  std::set<int64_t> ids;
  nlohmann::json images = nlohmann::json::array(), annotations = nlohmann::json::array();
  for (const auto& image : out.coco["images"]) {
    if (image.value("split", "train") != which) continue;
    const std::string file = image["file_name"];
    images.push_back(image);
    ids.insert(image["id"].get<int64_t>());
    out.images.emplace_back(file, read_file((dir(name) / kImagesFolder / file).string()));
  }
  for (const auto& a : out.coco["annotations"])
    if (ids.count(a["image_id"].get<int64_t>())) annotations.push_back(a);
  out.coco["images"] = images;
  out.coco["annotations"] = annotations;
  return out;
}

}  // namespace maskterial::serve
