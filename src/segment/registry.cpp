#include "maskterial/segment/registry.hpp"

#include <filesystem>

#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::segment {
namespace fs = std::filesystem;

const std::vector<SegmenterType>& segmenter_types() {
  static const std::vector<SegmenterType> types = {
      {DenseSegmenter::kType, "dense contrast-domain encoder-decoder with watershed instances; trains on a CPU",
       [](const std::string& dir, double threshold) -> SegmenterPtr { return DenseSegmenter::load(dir, threshold); }},
      {"mask2former", "Mask2Former (query-based set prediction); MaskTerial's GPU model",
       [](const std::string& dir, double threshold) -> SegmenterPtr { return Segmenter::load(dir, threshold); }},
  };
  return types;
}

const SegmenterType& segmenter_type(const std::string& name) {
  std::string known;
  for (const SegmenterType& t : segmenter_types()) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error("unknown segmentation model type '" + name + "' (known: " + known + ")");
}

std::string segmenter_type_of(const std::string& dir) {
  if (!fs::is_directory(dir)) throw file_error(dir, "not a model directory");
  const std::string meta_path = (fs::path(dir) / "model.json").string();
  const nlohmann::json meta = read_json(meta_path);
  if (!meta.is_object() || meta.value("kind", nlohmann::json()) != "segmentation")
    throw file_error(meta_path, "not a segmentation model ('kind' must be \"segmentation\")");
  const nlohmann::json type = meta.value("type", nlohmann::json());
  if (!type.is_string()) throw file_error(meta_path, "'type' must name the segmentation model type");
  try {
    return segmenter_type(type.get<std::string>()).name;
  } catch (const Error& e) {
    throw file_error(meta_path, e.what());
  }
}

SegmenterPtr load_segmenter(const std::string& dir, double score_threshold) {
  return segmenter_type(segmenter_type_of(dir)).load(dir, score_threshold);
}

}  // namespace maskterial::segment
