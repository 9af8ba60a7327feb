// libFuzzer target for the COCO readers: everything they get may come from untrusted files, so any input
// must end in a result or a maskterial::Error, never a crash, a sanitizer report or another exception.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/util/error.hpp"

namespace coco = maskterial::coco;

namespace {

// Whatever is accepted must behave like a valid mask in every other function.
void exercise(const coco::Rle& rle) {
  const cv::Mat mask = coco::decode(rle);
  const coco::Rle again = coco::encode(mask);
  if (coco::area(again) != coco::area(rle)) __builtin_trap();
  if (!(coco::from_string(coco::to_string(rle), rle.height, rle.width) == rle)) __builtin_trap();
  coco::to_bbox(rle);
  coco::merge({rle, again});
  coco::merge({rle, again}, true);
  coco::iou({rle}, {again}, {1});
}

// Parsing is nlohmann's business (it throws parse_error and, for number overflow, out_of_range).
std::optional<nlohmann::json> parse(const uint8_t* data, size_t size) {
  try {
    return nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void fuzz_string(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const int h = data[0] % 24, w = data[1] % 24;  // small masks keep runs cheap to check
  const coco::Rle rle = coco::from_string(std::string(reinterpret_cast<const char*>(data + 2), size - 2), h, w);
  exercise(rle);
}

void fuzz_segmentation(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const int h = data[0] % 64, w = data[1] % 64;
  if (const auto json = parse(data + 2, size - 2)) exercise(coco::segmentation_from_json(*json, h, w));
}

// Polygons of any size within one budget: each one is refused or rasterised within the bounds (never slowly),
// and the budget is spent, never overdrawn. Coordinates are 16-bit pairs, the mask up to 2048 a side.
void fuzz_polygons(const uint8_t* data, size_t size) {
  if (size < 4) return;
  const int h = 1 + ((data[0] << 8 | data[1]) % 2048), w = 1 + ((data[2] << 8 | data[3]) % 2048);
  coco::PolygonBudget budget{4000, 400'000};
  std::vector<double> xy;
  for (size_t i = 4; i + 1 < size; i += 2) {
    if (data[i] == 0xff && data[i + 1] == 0xff) {  // ends one polygon
      const coco::PolygonBudget before = budget;
      try {
        exercise(coco::from_polygon(xy, h, w, budget));
      } catch (const maskterial::Error&) {  // refused: the next polygon is tried with what is left
      }
      if (budget.vertices > before.vertices || budget.boundary_steps > before.boundary_steps) __builtin_trap();
      xy.clear();
      continue;
    }
    xy.push_back(static_cast<int16_t>(data[i] << 8 | data[i + 1]) / 16.0);
  }
}

void fuzz_dataset(const uint8_t* data, size_t size) {
  const auto json = parse(data, size);
  if (!json) return;
  const coco::Dataset dataset = coco::dataset_from_json(*json, "fuzz.json");
  const coco::Dataset again = coco::dataset_from_json(coco::dataset_to_json(dataset), "again.json");
  if (again.annotations.size() != dataset.annotations.size()) __builtin_trap();
  nlohmann::json results = nlohmann::json::array();
  for (const coco::Annotation& a : dataset.annotations) {
    results.push_back({{"image_id", a.image_id}, {"category_id", a.category_id},
                       {"segmentation", coco::to_json(a.segmentation)}, {"score", 0.5}});
  }
  coco::results_to_json(coco::results_from_json(results, dataset, "results.json"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  try {
    switch (data[0] % 4) {
      case 0: fuzz_string(data + 1, size - 1); break;
      case 1: fuzz_segmentation(data + 1, size - 1); break;
      case 3: fuzz_polygons(data + 1, size - 1); break;
      default: fuzz_dataset(data + 1, size - 1); break;
    }
  } catch (const maskterial::Error&) {  // the one way to refuse input
  }
  return 0;
}
