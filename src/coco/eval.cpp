#include "maskterial/coco/eval.hpp"

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "maskterial/coco/rle.hpp"

namespace maskterial::coco {
namespace {

constexpr double kUndefined = -1.0;

// numpy.linspace: start + i * step with the last point set to stop. COCOeval's thresholds are built this way,
// and both the `iou >= t` tests and the recall lookups depend on their exact bits.
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> values(static_cast<size_t>(num));
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) values[static_cast<size_t>(i)] = i * step + start;
  values.back() = stop;
  return values;
}

// np.argsort(-scores, kind="mergesort"): descending and stable, so equal scores keep their input order.
template <class T, class Score>
void stable_sort_by_score(std::vector<T>& items, Score score) {
  std::stable_sort(items.begin(), items.end(), [&](const T& a, const T& b) { return score(a) > score(b); });
}

struct Detection {
  const Annotation* ann;
  double score;
  int64_t id;   // position in the results + 1, as loadRes numbers them (0 means "no match" in COCOeval)
  double area;  // loadRes takes the area of the mask
};

// Ground truth and detections of one image and category (or all categories without use_categories):
// detections in score order truncated to the largest max-dets setting, IoUs as [dt][gt].
struct Cell {
  std::vector<const Annotation*> gt;
  std::vector<Detection> dt;
  std::vector<std::vector<double>> ious;
};

// COCOeval.evaluateImg for one cell and one area range.
struct ImageEval {
  std::vector<double> dt_scores;
  std::vector<int64_t> dt_matches;  // [T][D]: id of the matched gt, 0 = unmatched
  std::vector<uint8_t> dt_ignore;   // [T][D]
  size_t num_gt_counted = 0;        // gt that are neither crowd nor outside the area range
};

bool outside(double area, const std::array<double, 2>& range) { return area < range[0] || area > range[1]; }

void compute_ious(Cell& cell) {
  if (cell.gt.empty() || cell.dt.empty()) return;
  std::vector<Rle> dt_masks, gt_masks;
  std::vector<uint8_t> crowd;
  for (const Detection& d : cell.dt) dt_masks.push_back(d.ann->segmentation);
  for (const Annotation* g : cell.gt) {
    gt_masks.push_back(g->segmentation);
    crowd.push_back(g->iscrowd != 0);
  }
  cell.ious = iou(dt_masks, gt_masks, crowd);
}

// Builds the cells [image][category] like COCOeval._prepare + computeIoU. Only gt images and gt categories
// take part; within a cell annotations keep their file order.
std::vector<Cell> build_cells(const Dataset& gt, const std::vector<Annotation>& dts,
                              const std::vector<int64_t>& image_ids, const std::vector<int64_t>& category_ids,
                              bool use_categories, size_t max_det) {
  std::unordered_map<int64_t, size_t> image_index, category_index;
  for (size_t i = 0; i < image_ids.size(); ++i) image_index[image_ids[i]] = i;
  for (size_t k = 0; k < category_ids.size(); ++k) category_index[category_ids[k]] = k;
  const size_t num_k = category_ids.size();
  std::vector<Cell> by_category(image_ids.size() * num_k);
  auto cell_of = [&](const Annotation& a) -> Cell* {
    const auto i = image_index.find(a.image_id);
    const auto k = category_index.find(a.category_id);
    if (i == image_index.end() || k == category_index.end()) return nullptr;
    return &by_category[i->second * num_k + k->second];
  };
  for (const Annotation& a : gt.annotations)
    if (Cell* cell = cell_of(a)) cell->gt.push_back(&a);
  for (size_t n = 0; n < dts.size(); ++n)
    if (Cell* cell = cell_of(dts[n]))
      cell->dt.push_back({&dts[n], dts[n].score.value_or(0.0), static_cast<int64_t>(n + 1),
                          static_cast<double>(area(dts[n].segmentation))});

  std::vector<Cell> cells;
  if (use_categories) {
    cells = std::move(by_category);
  } else {  // one cell per image: the categories' annotations concatenated in category id order
    cells.resize(image_ids.size());
    for (size_t i = 0; i < image_ids.size(); ++i)
      for (size_t k = 0; k < num_k; ++k) {
        Cell& from = by_category[i * num_k + k];
        cells[i].gt.insert(cells[i].gt.end(), from.gt.begin(), from.gt.end());
        cells[i].dt.insert(cells[i].dt.end(), from.dt.begin(), from.dt.end());
      }
  }
  for (Cell& cell : cells) {
    stable_sort_by_score(cell.dt, [](const Detection& d) { return d.score; });
    if (cell.dt.size() > max_det) cell.dt.resize(max_det);
    compute_ious(cell);
  }
  return cells;
}

// Greedy matching at every IoU threshold, in COCOeval's exact order: gt not ignored first, a detection takes
// the gt with the highest IoU (the last one on ties), crowd gt can take any number of detections, and once a
// counted gt matched, ignored gt are no longer considered.
std::optional<ImageEval> evaluate_image(const Cell& cell, const std::array<double, 2>& range,
                                        const std::vector<double>& iou_thresholds) {
  if (cell.gt.empty() && cell.dt.empty()) return std::nullopt;
  const size_t num_g = cell.gt.size(), num_d = cell.dt.size(), num_t = iou_thresholds.size();
  std::vector<uint8_t> ignored(num_g);
  for (size_t g = 0; g < num_g; ++g) ignored[g] = cell.gt[g]->iscrowd != 0 || outside(cell.gt[g]->area, range);
  std::vector<size_t> order(num_g);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ignored[a] < ignored[b]; });

  ImageEval out;
  out.num_gt_counted = static_cast<size_t>(std::count(ignored.begin(), ignored.end(), 0));
  out.dt_matches.assign(num_t * num_d, 0);
  out.dt_ignore.assign(num_t * num_d, 0);
  for (const Detection& d : cell.dt) out.dt_scores.push_back(d.score);
  if (!cell.ious.empty()) {
    for (size_t t = 0; t < num_t; ++t) {
      std::vector<int64_t> gt_matched(num_g, 0);  // by position in `order`: id of the matching detection
      for (size_t d = 0; d < num_d; ++d) {
        double best = std::min(iou_thresholds[t], 1 - 1e-10);
        std::ptrdiff_t m = -1;
        for (size_t p = 0; p < num_g; ++p) {
          const size_t g = order[p];
          if (gt_matched[p] > 0 && cell.gt[g]->iscrowd == 0) continue;
          if (m > -1 && !ignored[order[static_cast<size_t>(m)]] && ignored[g]) break;
          if (cell.ious[d][g] < best) continue;
          best = cell.ious[d][g];
          m = static_cast<std::ptrdiff_t>(p);
        }
        if (m == -1) continue;
        const size_t g = order[static_cast<size_t>(m)];
        out.dt_ignore[t * num_d + d] = ignored[g];
        out.dt_matches[t * num_d + d] = cell.gt[g]->id;
        gt_matched[static_cast<size_t>(m)] = cell.dt[d].id;
      }
    }
  }
  // Unmatched detections outside the area range do not count as false positives.
  for (size_t t = 0; t < num_t; ++t)
    for (size_t d = 0; d < num_d; ++d)
      if (out.dt_matches[t * num_d + d] == 0 && outside(cell.dt[d].area, range)) out.dt_ignore[t * num_d + d] = 1;
  return out;
}

// COCOeval.accumulate for one (category, area range, max dets): precision [T][R] and recall [T], or nothing
// (all stay -1) when no image had annotations or no gt counted.
struct Curves {
  std::vector<double> precision;
  std::vector<double> recall;
};

std::optional<Curves> accumulate(const std::vector<const ImageEval*>& evals, size_t max_det, const EvalParams& params) {
  struct Entry {
    const ImageEval* eval;
    size_t d;
    double score;
  };
  std::vector<Entry> entries;
  size_t num_gt = 0;
  for (const ImageEval* e : evals) {
    const size_t n = std::min(max_det, e->dt_scores.size());
    for (size_t d = 0; d < n; ++d) entries.push_back({e, d, e->dt_scores[d]});
    num_gt += e->num_gt_counted;
  }
  if (evals.empty() || num_gt == 0) return std::nullopt;
  stable_sort_by_score(entries, [](const Entry& x) { return x.score; });

  const size_t num_r = params.recall_thresholds.size();
  Curves out{std::vector<double>(params.iou_thresholds.size() * num_r, 0.0), {}};
  for (size_t t = 0; t < params.iou_thresholds.size(); ++t) {
    std::vector<double> rc, pr;
    double tp = 0, fp = 0;
    for (const Entry& x : entries) {
      const size_t at = t * x.eval->dt_scores.size() + x.d;
      if (!x.eval->dt_ignore[at]) (x.eval->dt_matches[at] != 0 ? tp : fp) += 1;
      rc.push_back(tp / static_cast<double>(num_gt));
      pr.push_back(tp / (fp + tp + 2.220446049250313e-16));  // np.spacing(1)
    }
    out.recall.push_back(rc.empty() ? 0 : rc.back());
    // Precision envelope: each point takes the best precision at any higher recall.
    for (size_t i = pr.size(); i-- > 1;) pr[i - 1] = std::max(pr[i - 1], pr[i]);
    for (size_t r = 0; r < num_r; ++r) {
      // np.searchsorted(rc, thr, side="left"); beyond the highest recall reached, precision stays 0.
      const auto it = std::lower_bound(rc.begin(), rc.end(), params.recall_thresholds[r]);
      if (it == rc.end()) break;
      out.precision[t * num_r + r] = pr[static_cast<size_t>(it - rc.begin())];
    }
  }
  return out;
}

std::vector<int64_t> sorted_unique(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::ptrdiff_t find_area(const EvalParams& params, const std::string& name) {
  for (size_t a = 0; a < params.area_ranges.size(); ++a)
    if (params.area_ranges[a].first == name) return static_cast<std::ptrdiff_t>(a);
  return -1;
}

std::ptrdiff_t find_max_dets(const EvalParams& params, int max_dets) {
  const auto it = std::find(params.max_dets.begin(), params.max_dets.end(), max_dets);
  return it == params.max_dets.end() ? -1 : it - params.max_dets.begin();
}

// Mean of the values > -1, -1 if there are none (COCOeval._summarize).
struct ValidMean {
  double sum = 0;
  size_t count = 0;
  void add(double v) {
    if (v > kUndefined) sum += v, ++count;
  }
  double value() const { return count ? sum / static_cast<double>(count) : kUndefined; }
};

// Mean of precision[t][r][k][a][m] over the IoU thresholds equal to `iou` (all if iou < 0) and category k
// (all if k < 0); -1 if a or m is missing.
double mean_precision(const EvalResult& result, std::ptrdiff_t a, std::ptrdiff_t m, double iou, std::ptrdiff_t k) {
  if (a < 0 || m < 0) return kUndefined;
  const EvalParams& p = result.params;
  const size_t num_r = p.recall_thresholds.size(), num_k = result.category_ids.size();
  const size_t num_a = p.area_ranges.size(), num_m = p.max_dets.size();
  ValidMean mean;
  for (size_t t = 0; t < p.iou_thresholds.size(); ++t) {
    if (iou >= 0 && p.iou_thresholds[t] != iou) continue;
    for (size_t r = 0; r < num_r; ++r)
      for (size_t kk = 0; kk < num_k; ++kk)
        if (k < 0 || kk == static_cast<size_t>(k))
          mean.add(result.precision[(((t * num_r + r) * num_k + kk) * num_a + static_cast<size_t>(a)) * num_m +
                                    static_cast<size_t>(m)]);
  }
  return mean.value();
}

}  // namespace

EvalParams::EvalParams()
    : iou_thresholds(linspace(0.5, 0.95, 10)),
      recall_thresholds(linspace(0.0, 1.0, 101)),
      area_ranges{{"all", {0, 1e10}}, {"small", {0, 1024}}, {"medium", {1024, 9216}}, {"large", {9216, 1e10}}} {}

double EvalResult::average_precision(const std::string& area, int max_dets, double iou) const {
  return mean_precision(*this, find_area(params, area), find_max_dets(params, max_dets), iou, -1);
}

double EvalResult::average_recall(const std::string& area, int max_dets, double iou) const {
  const std::ptrdiff_t a = find_area(params, area), m = find_max_dets(params, max_dets);
  if (a < 0 || m < 0) return kUndefined;
  const size_t num_k = category_ids.size(), num_a = params.area_ranges.size(), num_m = params.max_dets.size();
  ValidMean mean;
  for (size_t t = 0; t < params.iou_thresholds.size(); ++t) {
    if (iou >= 0 && params.iou_thresholds[t] != iou) continue;
    for (size_t k = 0; k < num_k; ++k)
      mean.add(recall[((t * num_k + k) * num_a + static_cast<size_t>(a)) * num_m + static_cast<size_t>(m)]);
  }
  return mean.value();
}

nlohmann::json EvalResult::to_json() const {
  static const char* const kNames[12] = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                         "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  nlohmann::json out;
  for (size_t i = 0; i < stats.size(); ++i) out["stats"][kNames[i]] = stats[i];
  out["per_category_AP"] = nlohmann::json::object();
  for (const auto& [id, ap] : per_category_ap) out["per_category_AP"][std::to_string(id)] = ap;
  return out;
}

EvalResult evaluate(const Dataset& ground_truth, const std::vector<Annotation>& detections, const EvalParams& params) {
  EvalResult result;
  result.params = params;
  std::sort(result.params.max_dets.begin(), result.params.max_dets.end());
  const EvalParams& p = result.params;

  std::vector<int64_t> image_ids, gt_categories;
  for (const ImageInfo& image : ground_truth.images) image_ids.push_back(image.id);
  for (const Category& category : ground_truth.categories) gt_categories.push_back(category.id);
  image_ids = sorted_unique(image_ids);
  gt_categories = sorted_unique(gt_categories);
  result.category_ids = p.use_categories ? gt_categories : std::vector<int64_t>{-1};

  const size_t max_det = p.max_dets.empty() ? 0 : static_cast<size_t>(std::max(0, p.max_dets.back()));
  const std::vector<Cell> cells =
      build_cells(ground_truth, detections, image_ids, gt_categories, p.use_categories, max_det);

  const size_t num_i = image_ids.size(), num_k = result.category_ids.size(), num_a = p.area_ranges.size();
  const size_t num_t = p.iou_thresholds.size(), num_r = p.recall_thresholds.size(), num_m = p.max_dets.size();
  result.precision.assign(num_t * num_r * num_k * num_a * num_m, kUndefined);
  result.recall.assign(num_t * num_k * num_a * num_m, kUndefined);
  for (size_t k = 0; k < num_k; ++k)
    for (size_t a = 0; a < num_a; ++a) {
      std::vector<ImageEval> evals;
      for (size_t i = 0; i < num_i; ++i)
        if (auto e = evaluate_image(cells[i * num_k + k], p.area_ranges[a].second, p.iou_thresholds))
          evals.push_back(std::move(*e));
      std::vector<const ImageEval*> present;
      for (const ImageEval& e : evals) present.push_back(&e);
      for (size_t m = 0; m < num_m; ++m) {
        const auto curves = accumulate(present, static_cast<size_t>(std::max(0, p.max_dets[m])), p);
        if (!curves) continue;
        const size_t kam = (k * num_a + a) * num_m + m;  // offset of (k, a, m) in the [T][R][K][A][M] layout
        for (size_t t = 0; t < num_t; ++t) {
          result.recall[t * num_k * num_a * num_m + kam] = curves->recall[t];
          for (size_t r = 0; r < num_r; ++r)
            result.precision[(t * num_r + r) * num_k * num_a * num_m + kam] = curves->precision[t * num_r + r];
        }
      }
    }

  // COCOeval.summarize: stats[0] asks for maxDets 100 literally, the others for the sorted settings.
  auto max_dets_at = [&](size_t i) { return i < p.max_dets.size() ? p.max_dets[i] : -1; };
  const int md0 = max_dets_at(0), md1 = max_dets_at(1), md2 = max_dets_at(2);
  result.stats = {result.average_precision("all", 100),       result.average_precision("all", md2, 0.5),
                  result.average_precision("all", md2, 0.75), result.average_precision("small", md2),
                  result.average_precision("medium", md2),    result.average_precision("large", md2),
                  result.average_recall("all", md0),          result.average_recall("all", md1),
                  result.average_recall("all", md2),          result.average_recall("small", md2),
                  result.average_recall("medium", md2),       result.average_recall("large", md2)};

  const std::ptrdiff_t all = find_area(p, "all"), m100 = find_max_dets(p, 100);
  for (size_t k = 0; k < num_k; ++k)
    result.per_category_ap[result.category_ids[k]] =
        mean_precision(result, all, m100, -1, static_cast<std::ptrdiff_t>(k));
  return result;
}

}  // namespace maskterial::coco
