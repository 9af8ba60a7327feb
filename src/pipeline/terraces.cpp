#include "maskterial/pipeline/terraces.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace maskterial {
namespace {

constexpr int kMaxSamples = 4000;

struct Clustering {
  cv::Mat centres;  // k x channels, CV_32F
  bool distinct = false;
};

// k-means of the samples with OpenCV's generator fixed, so the same region always splits the same way.
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
  for (int a = 0; a < k; ++a)
    for (int b = a + 1; b < k; ++b) {
      const double step = cv::norm(out.centres.row(a), out.centres.row(b), cv::NORM_L2);
      const double noise = 0.5 * (spread[static_cast<size_t>(a)] + spread[static_cast<size_t>(b)]);
      if (step < options.min_step || step < options.min_separation * noise) return out;
      // Steps leave a gap between two terraces' contrasts (only the blur along their shared edge lies
      // between); a ramp (vignetting, a wedge) fills it evenly, about 30% of its pixels in the middle band.
      const cv::Mat axis = out.centres.row(b) - out.centres.row(a);
      const double length2 = axis.dot(axis);
      int pair = 0, middle = 0;
      for (int i = 0; i < samples.rows; ++i) {
        const int c = labels.at<int>(i);
        if (c != a && c != b) continue;
        ++pair;
        const double t = (samples.row(i) - out.centres.row(a)).dot(axis) / length2;
        middle += t > 0.35 && t < 0.65;
      }
      if (middle > options.max_between_share * pair) return out;
    }
  out.distinct = true;
  return out;
}

// The region's pixels given to their nearest centre among `use` (rows of centres), one opened layer each.
std::vector<cv::Mat> assign(const cv::Mat& region, const cv::Mat& contrast, const cv::Mat& centres,
                            const std::vector<int>& use) {
  const int dims = centres.cols;
  std::vector<cv::Mat> layers(use.size());
  for (auto& layer : layers) layer = cv::Mat::zeros(region.size(), CV_8U);
  for (int y = 0; y < region.rows; ++y) {
    const uint8_t* m = region.ptr<uint8_t>(y);
    const float* c = contrast.ptr<float>(y);
    for (int x = 0; x < region.cols; ++x) {
      if (!m[x]) continue;
      size_t nearest = 0;
      double nearest_d2 = 1e30;
      for (size_t t = 0; t < use.size(); ++t) {
        const float* centre = centres.ptr<float>(use[t]);
        double d2 = 0;
        for (int d = 0; d < dims; ++d) d2 += (c[x * dims + d] - centre[d]) * (c[x * dims + d] - centre[d]);
        if (d2 < nearest_d2) nearest_d2 = d2, nearest = t;
      }
      layers[nearest].at<uint8_t>(y, x) = 255;
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
  cv::Mat contrast = contrast_image(smooth, background);
  cv::multiply(contrast, cv::Scalar(usable[0], usable[1], usable[2]), contrast);
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
  for (int k = std::min(options.max_terraces, samples.rows / std::max(1, min_samples)); k >= 2 && !best.distinct; --k)
    best = cluster(samples, k, options, min_samples);
  if (!best.distinct) return {};

  // Every pixel of the region to its nearest centre, each terrace opened as the classifier's regions are. A
  // cluster that the opening leaves under min_pixels is a thin feature (a wrinkle, a crack, the blur along an
  // inner edge), not a terrace: its pixels go to the nearest remaining centre, so it does not cut its
  // terrace into pieces.
  std::vector<int> centres(static_cast<size_t>(best.centres.rows));
  for (int t = 0; t < best.centres.rows; ++t) centres[static_cast<size_t>(t)] = t;
  for (;;) {
    std::vector<cv::Mat> layers = assign(region, contrast, best.centres, centres);
    std::vector<Component> terraces;
    std::vector<int> kept;
    for (size_t t = 0; t < layers.size(); ++t) {
      int64_t area = 0;
      for (Component& part : connected_components(layers[t], 4, box.tl()))
        if (part.area >= options.min_pixels) {
          area += part.area;
          terraces.push_back(std::move(part));
        }
      if (area > 0) kept.push_back(centres[t]);
    }
    if (kept.size() < 2) return {};
    if (kept.size() == centres.size()) return terraces;
    centres = kept;
  }
}

}  // namespace maskterial
