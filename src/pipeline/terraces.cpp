#include "maskterial/pipeline/terraces.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace maskterial {
namespace {

constexpr int kMaxSamples = 4000;

struct Clustering {
  cv::Mat centres;          // k x channels, CV_32F
  std::vector<int> group;   // per centre: the terrace it belongs to (centres of one step share a group)
  int groups = 0;           // >= 2: the region holds that many distinct terraces
};

// Whether clusters a and b are two distinct steps: far enough apart, well outside their spread, and with a gap
// between their contrasts (only the blur along their shared edge lies there; a ramp, vignetting or a wedge,
// fills it evenly, about 30% of its pixels in the middle band).
bool distinct_steps(const cv::Mat& samples, const cv::Mat& labels, const cv::Mat& centres,
                    const std::vector<double>& spread, int a, int b, const TerraceOptions& options) {
  const double step = cv::norm(centres.row(a), centres.row(b), cv::NORM_L2);
  const double noise = 0.5 * (spread[static_cast<size_t>(a)] + spread[static_cast<size_t>(b)]);
  if (step < options.min_step || step < options.min_separation * noise) return false;
  const cv::Mat axis = centres.row(b) - centres.row(a);
  const double length2 = axis.dot(axis);
  int pair = 0, middle = 0;
  for (int i = 0; i < samples.rows; ++i) {
    const int c = labels.at<int>(i);
    if (c != a && c != b) continue;
    ++pair;
    const double t = (samples.row(i) - centres.row(a)).dot(axis) / length2;
    middle += t > 0.35 && t < 0.65;
  }
  return middle <= options.max_between_share * pair;
}

// k-means of the samples with OpenCV's generator fixed, so the same region always splits the same way. With
// k above the number of terraces, k-means cuts one terrace (a gradient across it) into clusters that are not
// distinct from each other: those are grouped back, and the split stands when every pair of clusters in
// different groups is distinct.
Clustering cluster(const cv::Mat& samples, int k, const TerraceOptions& options, int min_samples) {
  cv::RNG& rng = cv::theRNG();
  const uint64 saved = rng.state;
  rng.state = 0x5eed;
  cv::Mat labels;
  Clustering out;
  cv::kmeans(samples, k, labels, cv::TermCriteria(cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 20, 1e-4), 3,
             cv::KMEANS_PP_CENTERS, out.centres);
  rng.state = saved;
  std::vector<int> count(static_cast<size_t>(k), 0);
  std::vector<double> spread(static_cast<size_t>(k), 0.0);
  for (int i = 0; i < samples.rows; ++i) {
    const int c = labels.at<int>(i);
    ++count[static_cast<size_t>(c)];
    spread[static_cast<size_t>(c)] += cv::norm(samples.row(i), out.centres.row(c), cv::NORM_L2SQR);
  }
  for (int c = 0; c < k; ++c) {
    if (count[static_cast<size_t>(c)] < min_samples) return out;
    spread[static_cast<size_t>(c)] = std::sqrt(spread[static_cast<size_t>(c)] / count[static_cast<size_t>(c)]);
  }
  std::vector<std::vector<bool>> distinct(static_cast<size_t>(k), std::vector<bool>(static_cast<size_t>(k), false));
  out.group.resize(static_cast<size_t>(k));
  for (int a = 0; a < k; ++a) out.group[static_cast<size_t>(a)] = a;
  for (int a = 0; a < k; ++a)
    for (int b = a + 1; b < k; ++b) {
      distinct[a][b] = distinct[b][a] = distinct_steps(samples, labels, out.centres, spread, a, b, options);
      if (distinct[a][b]) continue;
      const int from = out.group[static_cast<size_t>(b)], to = out.group[static_cast<size_t>(a)];
      for (int& g : out.group) g = g == from ? to : g;
    }
  for (int a = 0; a < k; ++a)
    for (int b = a + 1; b < k; ++b)
      if (out.group[static_cast<size_t>(a)] != out.group[static_cast<size_t>(b)] && !distinct[a][b]) return out;
  // Groups numbered 0.. in order of first appearance.
  std::vector<int> number(static_cast<size_t>(k), -1);
  for (int& g : out.group) {
    if (number[static_cast<size_t>(g)] < 0) number[static_cast<size_t>(g)] = out.groups++;
    g = number[static_cast<size_t>(g)];
  }
  return out;
}

// The region's pixels given to the group of their nearest centre among `use` (rows of centres), one opened
// layer per group in `groups` order.
std::vector<cv::Mat> assign(const cv::Mat& region, const cv::Mat& contrast, const Clustering& clustering,
                            const std::vector<int>& use, const std::vector<int>& groups) {
  const cv::Mat& centres = clustering.centres;
  const int dims = centres.cols;
  std::vector<cv::Mat> layers(groups.size());
  for (auto& layer : layers) layer = cv::Mat::zeros(region.size(), CV_8U);
  std::vector<size_t> layer_of(static_cast<size_t>(centres.rows), 0);
  for (int c : use)
    layer_of[static_cast<size_t>(c)] = static_cast<size_t>(
        std::find(groups.begin(), groups.end(), clustering.group[static_cast<size_t>(c)]) - groups.begin());
  for (int y = 0; y < region.rows; ++y) {
    const uint8_t* m = region.ptr<uint8_t>(y);
    const float* c = contrast.ptr<float>(y);
    for (int x = 0; x < region.cols; ++x) {
      if (!m[x]) continue;
      int nearest = use.front();
      double nearest_d2 = 1e30;
      for (int t : use) {
        const float* centre = centres.ptr<float>(t);
        double d2 = 0;
        for (int d = 0; d < dims; ++d) d2 += (c[x * dims + d] - centre[d]) * (c[x * dims + d] - centre[d]);
        if (d2 < nearest_d2) nearest_d2 = d2, nearest = t;
      }
      layers[layer_of[static_cast<size_t>(nearest)]].at<uint8_t>(y, x) = 255;
    }
  }
  const cv::Mat square3 = cv::Mat::ones(3, 3, CV_8U);
  for (cv::Mat& layer : layers) cv::morphologyEx(layer, layer, cv::MORPH_OPEN, square3, cv::Point(-1, -1), 2);
  return layers;
}

}  // namespace

std::vector<Component> split_into_terraces(const cv::Mat& region, const cv::Rect& box, const cv::Mat& bgr8,
                                           const Bgr& background, const ChannelMask& usable,
                                           const TerraceOptions& options) {
  const int pixels = cv::countNonZero(region);
  if (pixels < 2 * options.min_pixels) return {};
  if (std::none_of(usable.begin(), usable.end(), [](bool use) { return use; })) return {};

  // Contrast of the smoothed crop (JPEG noise and single-pixel dirt average out; steps stay steps). Channels
  // that are not usable are held at 0, so they add nothing to any distance.
  cv::Mat smooth;
  cv::GaussianBlur(bgr8(box), smooth, cv::Size(5, 5), 1.2);
  const cv::Mat contrast = contrast_image(smooth, background, usable);
  const int dims = contrast.channels();

  // Clusters are fitted away from the outline, where the blur of the edge passes through every contrast
  // between the flake's and the substrate's.
  cv::Mat core;
  cv::erode(region, core, cv::Mat::ones(3, 3, CV_8U), cv::Point(-1, -1), 2);
  const int core_pixels = cv::countNonZero(core);
  if (core_pixels < 2 * options.min_pixels) return {};
  const int stride = std::max(1, core_pixels / kMaxSamples);
  cv::Mat samples(0, dims, CV_32F);
  samples.reserve(static_cast<size_t>(core_pixels / stride + 1));
  int seen = 0;
  for (int y = 0; y < box.height; ++y) {
    const uint8_t* m = core.ptr<uint8_t>(y);
    const float* c = contrast.ptr<float>(y);
    for (int x = 0; x < box.width; ++x)
      if (m[x] && seen++ % stride == 0) samples.push_back(cv::Mat(1, dims, CV_32F, const_cast<float*>(c + x * dims)));
  }
  const int min_samples = std::max(1, options.min_pixels / stride);

  Clustering best;
  for (int k = std::min(options.max_terraces, samples.rows / std::max(1, min_samples)); k >= 2 && best.groups < 2; --k)
    best = cluster(samples, k, options, min_samples);
  if (best.groups < 2) return {};

  // Every pixel of the region to its nearest centre's terrace, each terrace opened as the classifier's regions
  // are. A terrace that the opening leaves under min_pixels is a thin feature (a wrinkle, a crack, the blur
  // along an inner edge), not a terrace: its pixels go to the nearest remaining centre, so it does not cut
  // its neighbour into pieces.
  std::vector<int> centres(static_cast<size_t>(best.centres.rows));
  for (int t = 0; t < best.centres.rows; ++t) centres[static_cast<size_t>(t)] = t;
  std::vector<int> groups(static_cast<size_t>(best.groups));
  for (int g = 0; g < best.groups; ++g) groups[static_cast<size_t>(g)] = g;
  for (;;) {
    std::vector<cv::Mat> layers = assign(region, contrast, best, centres, groups);
    std::vector<Component> terraces;
    std::vector<int> kept;
    for (size_t t = 0; t < layers.size(); ++t) {
      int64_t area = 0;
      for (Component& part : connected_components(layers[t], 4, box.tl()))
        if (part.area >= options.min_pixels) {
          area += part.area;
          terraces.push_back(std::move(part));
        }
      if (area > 0) kept.push_back(groups[t]);
    }
    if (kept.size() < 2) return {};
    if (kept.size() == groups.size()) return terraces;
    groups = kept;
    centres.erase(std::remove_if(centres.begin(), centres.end(),
                                 [&](int c) {
                                   return std::find(groups.begin(), groups.end(),
                                                    best.group[static_cast<size_t>(c)]) == groups.end();
                                 }),
                  centres.end());
  }
}

}  // namespace maskterial
