#pragma once
// Instance-segmentation evaluation. `evaluate` reproduces the official COCOeval (iouType "segm") number for
// number; the flake metrics (flake_metrics.hpp) add what MaskTerial reports on top of it.
#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "maskterial/coco/dataset.hpp"

namespace maskterial::coco {

struct EvalParams {
  std::vector<double> iou_thresholds;     // default 0.50:0.05:0.95
  std::vector<double> recall_thresholds;  // default 0:0.01:1 (101 points)
  std::vector<int> max_dets{1, 10, 100};
  // name -> [min, max] area in px² (both ends inclusive); defaults are COCO's all/small/medium/large.
  // summarize() looks ranges up by these names.
  std::vector<std::pair<std::string, std::array<double, 2>>> area_ranges;
  bool use_categories = true;
  EvalParams();
};

struct EvalResult {
  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (COCOeval.summarize order).
  std::array<double, 12> stats{};
  // Per gt category id over area "all", maxDets 100; -1 where undefined. Without categories: the key -1.
  std::map<int64_t, double> per_category_ap;

  // What accumulate() leaves in COCOeval.eval, row-major: precision[T][R][K][A][M] and recall[T][K][A][M],
  // -1 where undefined. T, R, A, M follow `params` (max_dets sorted), K follows `category_ids`.
  EvalParams params;
  std::vector<int64_t> category_ids;
  std::vector<double> precision;
  std::vector<double> recall;

  // COCOeval._summarize: the mean over entries > -1 (-1 if none) for the area range named `area`, the max-dets
  // setting `max_dets` and, if iou >= 0, only the IoU threshold equal to it.
  double average_precision(const std::string& area, int max_dets, double iou = -1) const;
  double average_recall(const std::string& area, int max_dets, double iou = -1) const;

  nlohmann::json to_json() const;
};

// Images are all gt images, categories all gt categories (sorted by id); detections on other categories or
// images are ignored. Detection areas come from their masks, gt areas from the annotations' `area` field.
EvalResult evaluate(const Dataset& ground_truth, const std::vector<Annotation>& detections,
                    const EvalParams& params = EvalParams());

}  // namespace maskterial::coco
