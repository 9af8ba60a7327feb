#include "maskterial/segment/dense/dense_instances.hpp"

#include <algorithm>
#include <cmath>
#include <queue>

#include <opencv2/imgproc.hpp>

#include "maskterial/util/error.hpp"

namespace maskterial::segment {

float calibrated_score(double p, const DenseOptions& o) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  const double z = o.calibration_slope * std::log(p / (1 - p)) + o.calibration_offset;
  return static_cast<float>(1 / (1 + std::exp(-z)));
}

std::pair<double, double> fit_calibration(const std::vector<double>& mean_probabilities, const std::vector<bool>& real) {
  const size_t n = mean_probabilities.size();
  const size_t positives = static_cast<size_t>(std::count(real.begin(), real.end(), true));
  if (n != real.size() || positives < 3 || n - positives < 3) return {1.0, 0.0};
  std::vector<double> z(n);
  for (size_t i = 0; i < n; ++i) {
    const double p = std::clamp(mean_probabilities[i], 1e-6, 1 - 1e-6);
    z[i] = std::log(p / (1 - p));
  }
  // Ridge towards slope 1, offset 0, worth a few instances: on a handful of separable matches (a fine-tuning run
  // sees tens of instances, a few of them real) a weak prior let the fit run away to slope 99, offset 99, which
  // scores every mask ~1.
  constexpr double kPrior = 2.0;
  double a = 1, b = 0;
  for (int iteration = 0; iteration < 50; ++iteration) {
    double ga = kPrior * (a - 1), gb = kPrior * b, haa = kPrior, hab = 0, hbb = kPrior;
    for (size_t i = 0; i < n; ++i) {
      const double q = 1 / (1 + std::exp(-(a * z[i] + b))), r = q - (real[i] ? 1.0 : 0.0), w = q * (1 - q);
      ga += r * z[i];
      gb += r;
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (std::abs(da) + std::abs(db) < 1e-9) break;
  }
  a = std::clamp(a, 0.1, 10.0);  // a calibration sharpens or softens the ranking, never inverts or saturates it
  b = std::clamp(b, -10.0, 10.0);
  return {a, b};
}

DenseInstances extract_instances(const cv::Mat& flake, const cv::Mat& boundary, const cv::Mat& distance,
                                 const DenseOptions& o) {
  if (flake.type() != CV_32F || boundary.size() != flake.size() || distance.size() != flake.size())
    throw Error("dense instances: maps must be CV_32F of one size");
  const cv::Mat foreground = flake > o.flake_threshold;
  const cv::Mat core = foreground & (distance > o.seed_distance) & (boundary <= o.boundary_threshold);
  cv::Mat labels;
  int seeds = cv::connectedComponents(core, labels, 8, CV_32S) - 1;
  // Flake regions that hold no seed (thin slivers) seed themselves.
  cv::Mat regions;
  const int region_count = cv::connectedComponents(foreground, regions, 8, CV_32S);
  std::vector<int> region_label(static_cast<size_t>(region_count), 0);
  for (int y = 0; y < labels.rows; ++y)
    for (int x = 0; x < labels.cols; ++x)
      if (const int l = labels.at<int>(y, x)) region_label[static_cast<size_t>(regions.at<int>(y, x))] = l;
  for (int r = 1; r < region_count; ++r)
    if (!region_label[static_cast<size_t>(r)]) region_label[static_cast<size_t>(r)] = -(++seeds);
  for (int y = 0; y < labels.rows; ++y)
    for (int x = 0; x < labels.cols; ++x) {
      const int r = regions.at<int>(y, x);
      if (r && region_label[static_cast<size_t>(r)] < 0) labels.at<int>(y, x) = -region_label[static_cast<size_t>(r)];
    }

  // Grow the seeds over the flake cells, farthest from the edge first.
  struct Cell { float distance; int y, x, label; };
  const auto later = [](const Cell& a, const Cell& b) { return a.distance < b.distance; };
  std::priority_queue<Cell, std::vector<Cell>, decltype(later)> queue(later);
  const auto push_neighbours = [&](int y, int x, int label) {
    static constexpr int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
    for (int k = 0; k < 4; ++k) {
      const int ny = y + dy[k], nx = x + dx[k];
      if (ny < 0 || nx < 0 || ny >= labels.rows || nx >= labels.cols) continue;
      if (labels.at<int>(ny, nx) || !foreground.at<uint8_t>(ny, nx)) continue;
      queue.push({distance.at<float>(ny, nx), ny, nx, label});
    }
  };
  for (int y = 0; y < labels.rows; ++y)
    for (int x = 0; x < labels.cols; ++x)
      if (const int l = labels.at<int>(y, x)) push_neighbours(y, x, l);
  while (!queue.empty()) {
    const Cell c = queue.top();
    queue.pop();
    if (labels.at<int>(c.y, c.x)) continue;
    labels.at<int>(c.y, c.x) = c.label;
    push_neighbours(c.y, c.x, c.label);
  }

  // Scores, small instances dropped, labels renumbered 1..n.
  std::vector<double> sum(static_cast<size_t>(seeds) + 1, 0.0);
  std::vector<int> cells(static_cast<size_t>(seeds) + 1, 0);
  for (int y = 0; y < labels.rows; ++y)
    for (int x = 0; x < labels.cols; ++x)
      if (const int l = labels.at<int>(y, x)) {
        sum[static_cast<size_t>(l)] += flake.at<float>(y, x);
        ++cells[static_cast<size_t>(l)];
      }
  DenseInstances out;
  std::vector<int> renumber(static_cast<size_t>(seeds) + 1, 0);
  for (int l = 1; l <= seeds; ++l) {
    if (cells[static_cast<size_t>(l)] < o.min_instance_cells) continue;
    out.scores.push_back(calibrated_score(sum[static_cast<size_t>(l)] / cells[static_cast<size_t>(l)], o));
    renumber[static_cast<size_t>(l)] = static_cast<int>(out.scores.size());
  }
  for (int y = 0; y < labels.rows; ++y)
    for (int x = 0; x < labels.cols; ++x) {
      int& l = labels.at<int>(y, x);
      l = renumber[static_cast<size_t>(l)];
    }
  out.labels = labels;
  return out;
}

}  // namespace maskterial::segment
