#pragma once
// MaskTerial's evaluation report on top of COCOeval: AP/AR per flake-area bin in µm², per-class precision /
// recall / F1 at one IoU threshold, and a confusion matrix between gt and predicted classes.
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/eval.hpp"

namespace maskterial::coco {

struct FlakeMetricsParams {
  double pixel_size_um = 0.3844;  // µm per pixel: area µm² = px * pixel_size_um²
  double iou_threshold = 0.5;     // for precision / recall / F1, the confusion matrix and precision at k
  int top_k = 5;                  // precision at k: how many of each image's best detections a lab reviews (>= 1)
  // name -> [min, max] in µm², both ends inclusive (COCOeval's area-range rule)
  std::vector<std::pair<std::string, std::array<double, 2>>> area_bins_um2{
      {"0-100", {0, 100}}, {"100-200", {100, 200}}, {"200-400", {200, 400}}, {"400+", {400, 1e10}}};
};

struct AreaBinMetrics {
  std::string name;
  std::array<double, 2> range_um2{};
  double ap = -1;  // COCO AP@[.50:.95] for maxDets 100, -1 if undefined
  double ar = -1;  // COCO AR@[.50:.95] for maxDets 100, -1 if undefined
};

// Greedy matching by score within (image, class). Ratios with a zero denominator are 0.
struct ClassMetrics {
  int64_t category_id = 0;
  std::string name;
  int64_t tp = 0, fp = 0, fn = 0;
  double precision = 0, recall = 0, f1 = 0;
};

// Class-agnostic greedy matching by score. counts[row][col]: rows are the classes then "false positive"
// (detections that matched no gt, by predicted class); columns are the classes then "missed" (gt that no
// detection matched, by gt class).
struct ConfusionMatrix {
  std::vector<int64_t> category_ids;  // classes of gt and detections, sorted
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> counts;  // (n + 1) x (n + 1)
};

// Precision of each image's top_k best-scored detections, averaged over images: per image, the detections that
// match a flake (class-agnostic greedy matching) among its min(top_k, #detections) best, divided by that number.
// An image without detections counts 0 if it holds a flake and is left out if it holds none; detections on
// crowd regions are left out of the ranking.
struct TopKPrecision {
  int k = 0;
  double precision = 0;  // mean over the images counted; 0 if there are none
  int64_t images = 0;    // images counted
};

// Calibration: detections binned by score (ten equal bins over [0, 1]); per bin the mean score and the share that
// matches a flake (class-agnostic greedy matching at iou_threshold, crowd matches left out). A calibrated score
// puts every bin on the diagonal.
struct ReliabilityBin {
  double low = 0, high = 0;
  int64_t detections = 0;
  double mean_score = 0, true_share = 0;  // 0 for an empty bin
};

struct FlakeMetrics {
  FlakeMetricsParams params;
  EvalResult coco;  // the standard COCO numbers (stats, per-category AP) from the same evaluation
  std::vector<AreaBinMetrics> area_bins;
  std::vector<ClassMetrics> per_class;
  ConfusionMatrix confusion;
  TopKPrecision top_k;
  std::vector<ReliabilityBin> reliability;
  nlohmann::json to_json() const;
};

// Crowd gt are regions to ignore here: they are never counted as missed, and a detection that matches no
// counted gt but covers a crowd region (IoU over its own area >= threshold) is neither TP nor FP.
FlakeMetrics compute_flake_metrics(const Dataset& ground_truth, const std::vector<Annotation>& detections,
                                   const FlakeMetricsParams& params = FlakeMetricsParams());

nlohmann::json flake_metrics_json(const Dataset& ground_truth, const std::vector<Annotation>& detections,
                                  const FlakeMetricsParams& params = FlakeMetricsParams());

}  // namespace maskterial::coco
