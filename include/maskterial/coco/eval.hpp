#pragma once
// Instance-segmentation evaluation. `evaluate` reproduces the official COCOeval (iouType "segm") number for
// number; the flake metrics add what MaskTerial reports: area bins in µm², per-class precision / recall / F1
// and a confusion matrix.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"

namespace maskterial::coco {

struct EvalParams {
  std::vector<double> iou_thresholds;     // default 0.50:0.05:0.95
  std::vector<double> recall_thresholds;  // default 0:0.01:1 (101 points)
  std::vector<int> max_dets{1, 10, 100};
  // name -> [min, max] area in px²; defaults are COCO's all/small/medium/large
  std::vector<std::pair<std::string, std::array<double, 2>>> area_ranges;
  bool use_categories = true;
  EvalParams();
};

struct EvalResult {
  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl (COCOeval.summarize order).
  std::array<double, 12> stats{};
  std::map<int64_t, double> per_category_ap;  // over all areas, maxDets 100; -1 where undefined
  nlohmann::json to_json() const;
};

EvalResult evaluate(const Dataset& ground_truth, const std::vector<Annotation>& detections,
                    const EvalParams& params = EvalParams());

}  // namespace maskterial::coco
