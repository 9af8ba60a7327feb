#include "maskterial/coco/flake_metrics.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "maskterial/coco/rle.hpp"

namespace maskterial::coco {
namespace {

constexpr int kUnmatched = -1;
constexpr int kIgnored = -2;  // covers a crowd region: neither TP nor FP

struct Group {
  std::vector<const Annotation*> gt;
  std::vector<const Annotation*> dt;
};

// The group's detection indices by descending score, ties in input order: the order they are matched in.
std::vector<size_t> by_score(const Group& group) {
  std::vector<size_t> order(group.dt.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return group.dt[a]->score.value_or(0.0) > group.dt[b]->score.value_or(0.0);
  });
  return order;
}

// For each detection (input order): index of the gt it matched, kUnmatched or kIgnored. Detections take turns
// by descending score (ties in input order) and each takes the unmatched non-crowd gt of highest IoU >= thr
// (the first on ties).
std::vector<int> greedy_match(const Group& group, double thr) {
  std::vector<int> match(group.dt.size(), kUnmatched);
  if (group.dt.empty() || group.gt.empty()) return match;
  std::vector<Rle> dt_masks, gt_masks;
  std::vector<uint8_t> crowd;
  for (const Annotation* d : group.dt) dt_masks.push_back(d->segmentation);
  for (const Annotation* g : group.gt) {
    gt_masks.push_back(g->segmentation);
    crowd.push_back(g->iscrowd != 0);
  }
  const auto ious = iou(dt_masks, gt_masks, crowd);

  std::vector<uint8_t> taken(group.gt.size(), 0);
  for (size_t d : by_score(group)) {
    double best = thr;
    bool on_crowd = false;
    for (size_t g = 0; g < group.gt.size(); ++g) {
      if (ious[d][g] < thr) continue;
      if (crowd[g]) {
        on_crowd = true;
      } else if (!taken[g] && (match[d] == kUnmatched || ious[d][g] > best)) {
        best = ious[d][g];
        match[d] = static_cast<int>(g);
      }
    }
    if (match[d] >= 0)
      taken[static_cast<size_t>(match[d])] = 1;
    else if (on_crowd)
      match[d] = kIgnored;
  }
  return match;
}

// Calls visit(group, matches) per image, or per (image, category) if by_category.
template <class Visit>
void for_each_matched_group(const Dataset& gt, const std::vector<Annotation>& dts, bool by_category, double thr,
                            Visit visit) {
  std::map<std::pair<int64_t, int64_t>, Group> groups;
  for (const Annotation& a : gt.annotations) groups[{a.image_id, by_category ? a.category_id : 0}].gt.push_back(&a);
  for (const Annotation& a : dts) groups[{a.image_id, by_category ? a.category_id : 0}].dt.push_back(&a);
  for (const auto& [key, group] : groups) visit(group, greedy_match(group, thr));
}

std::vector<AreaBinMetrics> area_bins(const EvalResult& coco, const FlakeMetricsParams& params) {
  std::vector<AreaBinMetrics> bins;
  for (const auto& [name, range] : params.area_bins_um2)
    bins.push_back({name, range, coco.average_precision(name, 100), coco.average_recall(name, 100)});
  return bins;
}

double ratio(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }

std::vector<ClassMetrics> per_class(const Dataset& gt, const std::vector<Annotation>& dts,
                                    const std::vector<int64_t>& classes, const std::vector<std::string>& names,
                                    double thr) {
  std::map<int64_t, ClassMetrics> by_id;
  for (size_t i = 0; i < classes.size(); ++i) by_id[classes[i]] = {classes[i], names[i]};
  for_each_matched_group(gt, dts, true, thr, [&](const Group& group, const std::vector<int>& match) {
    std::vector<uint8_t> found(group.gt.size(), 0);
    for (size_t d = 0; d < group.dt.size(); ++d) {
      ClassMetrics& m = by_id[group.dt[d]->category_id];
      if (match[d] >= 0) {
        ++m.tp;
        found[static_cast<size_t>(match[d])] = 1;
      } else if (match[d] == kUnmatched) {
        ++m.fp;
      }
    }
    for (size_t g = 0; g < group.gt.size(); ++g)
      if (!found[g] && group.gt[g]->iscrowd == 0) ++by_id[group.gt[g]->category_id].fn;
  });
  std::vector<ClassMetrics> out;
  for (auto& [id, m] : by_id) {
    m.precision = ratio(m.tp, m.tp + m.fp);
    m.recall = ratio(m.tp, m.tp + m.fn);
    m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
    out.push_back(m);
  }
  return out;
}

ConfusionMatrix confusion(const Dataset& gt, const std::vector<Annotation>& dts, const std::vector<int64_t>& classes,
                          const std::vector<std::string>& names, double thr) {
  const size_t n = classes.size();
  ConfusionMatrix cm{classes, names, std::vector<std::vector<int64_t>>(n + 1, std::vector<int64_t>(n + 1, 0))};
  auto index = [&](int64_t id) {
    return static_cast<size_t>(std::lower_bound(classes.begin(), classes.end(), id) - classes.begin());
  };
  for_each_matched_group(gt, dts, false, thr, [&](const Group& group, const std::vector<int>& match) {
    std::vector<uint8_t> found(group.gt.size(), 0);
    for (size_t d = 0; d < group.dt.size(); ++d) {
      const size_t col = index(group.dt[d]->category_id);
      if (match[d] >= 0) {
        found[static_cast<size_t>(match[d])] = 1;
        ++cm.counts[index(group.gt[static_cast<size_t>(match[d])]->category_id)][col];
      } else if (match[d] == kUnmatched) {
        ++cm.counts[n][col];
      }
    }
    for (size_t g = 0; g < group.gt.size(); ++g)
      if (!found[g] && group.gt[g]->iscrowd == 0) ++cm.counts[index(group.gt[g]->category_id)][n];
  });
  return cm;
}

// Per image, as a lab reviews the list: the k best-scored detections (FlakeMetricsParams::top_k).
TopKPrecision top_k_precision(const Dataset& gt, const std::vector<Annotation>& dts, int k, double thr) {
  TopKPrecision out{k};
  double sum = 0;
  for_each_matched_group(gt, dts, false, thr, [&](const Group& group, const std::vector<int>& match) {
    std::vector<size_t> ranked;
    for (size_t d : by_score(group))
      if (match[d] != kIgnored) ranked.push_back(d);
    if (ranked.empty()) {
      const bool holds_flake =
          std::any_of(group.gt.begin(), group.gt.end(), [](const Annotation* g) { return g->iscrowd == 0; });
      if (holds_flake) ++out.images;  // a precision of 0: nothing to review where there was something to find
      return;
    }
    const size_t reviewed = std::min(ranked.size(), static_cast<size_t>(std::max(k, 1)));
    const auto true_flakes = std::count_if(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(reviewed),
                                           [&](size_t d) { return match[d] >= 0; });
    sum += static_cast<double>(true_flakes) / static_cast<double>(reviewed);
    ++out.images;
  });
  out.precision = out.images ? sum / static_cast<double>(out.images) : 0.0;
  return out;
}

std::vector<ReliabilityBin> reliability(const Dataset& gt, const std::vector<Annotation>& dts, double thr) {
  constexpr int kBins = 10;
  std::vector<ReliabilityBin> bins(kBins);
  for (int b = 0; b < kBins; ++b) bins[b].low = b / double(kBins), bins[b].high = (b + 1) / double(kBins);
  for_each_matched_group(gt, dts, false, thr, [&](const Group& group, const std::vector<int>& match) {
    for (size_t d = 0; d < group.dt.size(); ++d) {
      if (match[d] == kIgnored) continue;
      const double score = std::clamp(group.dt[d]->score.value_or(0.0), 0.0, 1.0);
      ReliabilityBin& bin = bins[std::min(kBins - 1, static_cast<int>(score * kBins))];
      ++bin.detections;
      bin.mean_score += score;
      bin.true_share += match[d] >= 0;
    }
  });
  for (ReliabilityBin& bin : bins)
    if (bin.detections) bin.mean_score /= bin.detections, bin.true_share /= bin.detections;
  return bins;
}

}  // namespace

FlakeMetrics compute_flake_metrics(const Dataset& ground_truth, const std::vector<Annotation>& detections,
                                   const FlakeMetricsParams& params) {
  FlakeMetrics out;
  out.params = params;
  // One COCO evaluation gives both the standard numbers and the µm² bins (converted to px²).
  EvalParams eval_params;
  const double px_area_um2 = params.pixel_size_um * params.pixel_size_um;
  for (const auto& [name, range] : params.area_bins_um2)
    eval_params.area_ranges.push_back({name, {range[0] / px_area_um2, range[1] / px_area_um2}});
  out.coco = evaluate(ground_truth, detections, eval_params);
  out.area_bins = area_bins(out.coco, params);

  std::set<int64_t> ids;
  for (const Category& c : ground_truth.categories) ids.insert(c.id);
  for (const Annotation& a : ground_truth.annotations) ids.insert(a.category_id);
  for (const Annotation& a : detections) ids.insert(a.category_id);
  const std::vector<int64_t> classes(ids.begin(), ids.end());
  std::vector<std::string> names;
  for (int64_t id : classes) {
    const auto it = std::find_if(ground_truth.categories.begin(), ground_truth.categories.end(),
                                 [&](const Category& c) { return c.id == id; });
    names.push_back(it != ground_truth.categories.end() ? it->name : std::to_string(id));
  }
  out.per_class = per_class(ground_truth, detections, classes, names, params.iou_threshold);
  out.confusion = confusion(ground_truth, detections, classes, names, params.iou_threshold);
  out.top_k = top_k_precision(ground_truth, detections, params.top_k, params.iou_threshold);
  out.reliability = reliability(ground_truth, detections, params.iou_threshold);
  return out;
}

nlohmann::json FlakeMetrics::to_json() const {
  nlohmann::json out;
  out["pixel_size_um"] = params.pixel_size_um;
  out["iou_threshold"] = params.iou_threshold;
  out["coco"] = coco.to_json();
  out["area_bins_um2"] = nlohmann::json::array();
  for (const AreaBinMetrics& bin : area_bins)
    out["area_bins_um2"].push_back(
        {{"name", bin.name}, {"min", bin.range_um2[0]}, {"max", bin.range_um2[1]}, {"AP", bin.ap}, {"AR", bin.ar}});
  out["per_class"] = nlohmann::json::array();
  for (const ClassMetrics& m : per_class)
    out["per_class"].push_back({{"category_id", m.category_id},
                                {"name", m.name},
                                {"tp", m.tp},
                                {"fp", m.fp},
                                {"fn", m.fn},
                                {"precision", m.precision},
                                {"recall", m.recall},
                                {"f1", m.f1}});
  nlohmann::json rows = confusion.names, columns = confusion.names;
  rows.push_back("false positive");
  columns.push_back("missed");
  out["precision_at_k"] = {{"k", top_k.k}, {"precision", top_k.precision}, {"images", top_k.images}};
  out["reliability"] = nlohmann::json::array();
  for (const ReliabilityBin& bin : reliability)
    out["reliability"].push_back({{"low", bin.low}, {"high", bin.high}, {"detections", bin.detections},
                                  {"mean_score", bin.mean_score}, {"true_share", bin.true_share}});
  out["confusion_matrix"] = {
      {"category_ids", confusion.category_ids}, {"rows", rows}, {"columns", columns}, {"counts", confusion.counts}};
  return out;
}

nlohmann::json flake_metrics_json(const Dataset& ground_truth, const std::vector<Annotation>& detections,
                                  const FlakeMetricsParams& params) {
  return compute_flake_metrics(ground_truth, detections, params).to_json();
}

}  // namespace maskterial::coco
