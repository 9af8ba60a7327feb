#include "maskterial/classify/training_data.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>

#include <nanoflann.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "maskterial/coco/rle.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/util/cancellation.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/progress.hpp"

namespace maskterial {
namespace {

// The reference divides by the float64 background and stores float32; doing the same keeps samples identical.
ContrastLut training_contrast_lut(const Bgr& background) {
  ContrastLut lut{};
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut[c][v] = static_cast<float>(v / background[c] - 1.0);
  return lut;
}

// The lut of one image: NaN for values whose contrast is not measured, in an ignored channel everywhere and in
// a measured one where the pixel is clipped (0 or 255: the contrast there is only a bound). `flakes`: the lut
// for annotated pixels, also NaN in the clip band (>= 250) of a channel taken against the clip level, where a
// flake pixel is no darker than the clip and its contrast unknown; the substrate there is the clip level itself,
// so a background pixel keeps its contrast (about 0).
ContrastLut training_contrast_lut(const BackgroundEstimate& background, bool flakes) {
  ContrastLut lut = training_contrast_lut(background.colour);
  const ChannelMask usable = background.usable();
  const ChannelMask measured = background.measured();
  constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
  for (int c = 0; c < 3; ++c) {
    if (!usable[c]) lut[c].fill(kNaN);
    if (measured[c]) lut[c][0] = lut[c][255] = kNaN;
    if (flakes && usable[c] && !measured[c]) std::fill(lut[c].begin() + kSaturatedLevel, lut[c].end(), kNaN);
  }
  return lut;
}

Contrast contrast_at(const cv::Mat& bgr8, int y, int x, const ContrastLut& lut) {
  const uint8_t* p = bgr8.ptr<uint8_t>(y) + 3 * x;
  return {lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]};
}

// The annotation's bounding box grown by one pixel: everything outside the box is 0, so eroding this window
// gives exactly what eroding the whole image would (the image border is never eroded in either case).
cv::Rect padded_box(const coco::Rle& rle, const cv::Size& size) {
  const auto box = coco::to_bbox(rle);
  const int x0 = static_cast<int>(box[0]) - 1, y0 = static_cast<int>(box[1]) - 1;
  const int x1 = static_cast<int>(box[0] + box[2]) + 1, y1 = static_cast<int>(box[1] + box[3]) + 1;
  return cv::Rect(x0, y0, x1 - x0, y1 - y0) & cv::Rect(0, 0, size.width, size.height);
}

// Marks the annotation in `annotated`; adds its eroded pixels unless fewer than min_mask_pixels remain.
void add_annotation_samples(const cv::Mat& bgr8, const coco::Annotation& annotation, const ContrastLut& lut,
                            const TrainingDataOptions& options, cv::Mat& annotated, ContrastSamples& samples) {
  const coco::Rle& rle = annotation.segmentation;
  if (rle.height != bgr8.rows || rle.width != bgr8.cols)
    throw Error("annotation " + std::to_string(annotation.id) + ": mask is " + std::to_string(rle.width) + "x" +
                std::to_string(rle.height) + ", image is " + std::to_string(bgr8.cols) + "x" +
                std::to_string(bgr8.rows));
  if (coco::area(rle) == 0) return;
  const cv::Rect roi = padded_box(rle, bgr8.size());
  const cv::Mat mask = coco::decode(rle)(roi);
  annotated(roi) |= mask;

  static const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(3, 3));
  cv::Mat eroded;
  cv::erode(mask, eroded, kernel, cv::Point(-1, -1), options.erode_iterations);
  if (static_cast<size_t>(cv::countNonZero(eroded)) < options.min_mask_pixels) return;
  for (int y = 0; y < eroded.rows; ++y) {
    const uint8_t* m = eroded.ptr<uint8_t>(y);
    for (int x = 0; x < eroded.cols; ++x)
      if (m[x]) samples.add(contrast_at(bgr8, roi.y + y, roi.x + x, lut), annotation.category_id);
  }
}

// Background class 0: pixels drawn with replacement from those in no annotation (none if there are none).
void add_background_samples(const cv::Mat& bgr8, const cv::Mat& annotated, const ContrastLut& lut, size_t count,
                            std::mt19937_64& rng, ContrastSamples& samples) {
  std::vector<uint32_t> free_pixels;
  free_pixels.reserve(annotated.total());
  for (int y = 0; y < annotated.rows; ++y) {
    const uint8_t* m = annotated.ptr<uint8_t>(y);
    for (int x = 0; x < annotated.cols; ++x)
      if (!m[x]) free_pixels.push_back(static_cast<uint32_t>(y * annotated.cols + x));
  }
  if (free_pixels.empty()) return;
  for (size_t i = 0; i < count; ++i) {
    const uint32_t p = free_pixels[uniform_index(rng, free_pixels.size())];
    samples.add(contrast_at(bgr8, static_cast<int>(p) / annotated.cols, static_cast<int>(p) % annotated.cols, lut), 0);
  }
}

void record_error(std::vector<std::string>& errors, const std::string& message) {
  spdlog::warn("skipping image: {}", message);
  errors.push_back(message);
}

std::optional<ContrastSamples> samples_of_image(const std::string& path,
                                                const std::vector<const coco::Annotation*>& annotations,
                                                const TrainingDataOptions& options, std::mt19937_64& rng,
                                                std::vector<std::string>& errors, std::vector<std::string>& ignored) {
  cv::Mat bgr8;
  try {
    bgr8 = load_image(path);  // its errors already name the file
  } catch (const Error& e) {
    record_error(errors, e.what());
    return std::nullopt;
  }
  try {
    BackgroundEstimate background;
    ContrastSamples samples = extract_image_samples(bgr8, annotations, options, rng, &background);
    const std::string why = background.explain();
    if (!why.empty()) {
      spdlog::warn("{}: {}", path, why);
      ignored.push_back(path + ": " + why);
    }
    return samples;
  } catch (const Error& e) {
    record_error(errors, file_error(path, e.what()).what());
    return std::nullopt;
  }
}

// A layer class whose training samples mostly could not measure a channel is judged without it (measured_channels):
// say so, since a flake of that class is then told apart on fewer colours.
void report_unmeasured_class_channels(const ContrastSamples& samples, TrainingReport& report) {
  for (const auto& [label, coverage] : samples.channel_coverage) {
    const ChannelMask used = measured_channels(coverage);
    if (label == 0 || used == kAllChannels) continue;
    ChannelMask left_out{};
    std::vector<std::string> percent;
    for (int c = 0; c < 3; ++c) {
      left_out[c] = !used[c];
      if (left_out[c]) percent.push_back(std::to_string(static_cast<int>(std::lround(100 * coverage[c]))));
    }
    const bool same = std::all_of(percent.begin(), percent.end(), [&](const std::string& p) { return p == percent[0]; });
    const std::string shares = same ? percent[0] : percent[0] + " and " + percent.back();
    const std::string message = "class " + std::to_string(label) + ": judged on " + channel_list(used) + " only; " +
                                channel_list(left_out) + " measured on " + shares +
                                " % of its training pixels (the rest saturated, clipped or dark)";
    spdlog::warn("training data: {}", message);
    report.unmeasured_class_channels.push_back(message);
  }
}

// Extraction over a whole dataset, images in dataset order (the rng stream depends on it).
ContrastSamples collect_samples(const coco::Dataset& dataset, const std::string& images_dir,
                                const TrainingDataOptions& options, std::mt19937_64& rng, TrainingReport& report) {
  std::map<int64_t, std::vector<const coco::Annotation*>> by_image;
  for (const auto& a : dataset.annotations) by_image[a.image_id].push_back(&a);

  report.images_total = dataset.images.size();
  ContrastSamples samples;
  ProgressBar bar(dataset.images.size(), "contrast samples", options.show_progress);
  size_t done = 0;
  for (const auto& image : dataset.images) {
    const std::string path = (std::filesystem::path(images_dir) / image.file_name).string();
    static const std::vector<const coco::Annotation*> kNone;
    const auto it = by_image.find(image.id);
    const auto found =
        samples_of_image(path, it == by_image.end() ? kNone : it->second, options, rng, report.errors,
                         report.ignored_channels);
    if (found) {
      samples.append(*found);
      ++report.images_used;
    }
    bar.advance(1, image.file_name);
    if (options.on_extract_progress) options.on_extract_progress(static_cast<double>(++done) / dataset.images.size());
  }
  bar.finish();
  if (report.images_used == 0)
    throw Error("no usable training image among " + std::to_string(dataset.images.size()) +
                (report.errors.empty() ? std::string() : " (first problem: " + report.errors.front() + ")"));
  impute_unmeasured(samples);
  return samples;
}

void check_options(const TrainingDataOptions& options) {
  if (options.erode_iterations < 0) throw Error("training options: erode_iterations must be >= 0");
  if (!(options.dbscan_eps > 0)) throw Error("training options: dbscan_eps must be > 0");
  if (options.dbscan_min_samples_divisor == 0) throw Error("training options: dbscan_min_samples_divisor must be > 0");
}

// Runs one step, then records its duration and the class counts it left.
void run_step(TrainingReport& report, const std::string& name, const ContrastSamples& samples,
              const std::function<void()>& step) {
  throw_if_cancelled();
  const auto start = std::chrono::steady_clock::now();
  step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.steps.push_back({name, samples.class_counts(), seconds});
  spdlog::debug("training data: {} took {:.3f} s, {} samples", name, seconds, samples.size());
}

std::map<int64_t, std::vector<size_t>> indices_by_class(const std::vector<int64_t>& labels) {
  std::map<int64_t, std::vector<size_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  return by_class;
}

// m distinct indices of [0, n) by a partial Fisher-Yates shuffle (m <= n).
std::vector<size_t> sample_without_replacement(size_t n, size_t m, std::mt19937_64& rng) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  for (size_t i = 0; i < m; ++i) std::swap(order[i], order[i + uniform_index(rng, n - i)]);
  order.resize(m);
  return order;
}

ContrastSamples subset(const ContrastSamples& samples, const std::vector<size_t>& indices) {
  ContrastSamples out;
  out.channel_coverage = samples.channel_coverage;
  out.contrasts.reserve(indices.size());
  out.labels.reserve(indices.size());
  for (size_t i : indices) out.add(samples.contrasts[i], samples.labels[i]);
  return out;
}

// nanoflann adaptor over contrast points.
struct PointCloud {
  const std::vector<Contrast>& points;
  size_t kdtree_get_point_count() const { return points.size(); }
  float kdtree_get_pt(size_t i, size_t dim) const { return points[i][dim]; }
  template <class Box>
  bool kdtree_get_bbox(Box&) const { return false; }
};

// Squared Euclidean distance accumulated in double, so the eps boundary does not depend on float rounding.
struct L2Double {
  using ElementType = float;
  using DistanceType = double;
  const PointCloud& cloud;
  explicit L2Double(const PointCloud& c) : cloud(c) {}
  template <typename Index>
  double evalMetric(const float* a, Index b, size_t) const {
    const Contrast& p = cloud.points[b];
    double sum = 0;
    for (int d = 0; d < 3; ++d) {
      const double diff = static_cast<double>(a[d]) - static_cast<double>(p[d]);
      sum += diff * diff;
    }
    return sum;
  }
  template <typename U, typename V>
  double accum_dist(U a, V b, size_t) const {
    const double diff = static_cast<double>(a) - static_cast<double>(b);
    return diff * diff;
  }
};

using KdTree = nanoflann::KDTreeSingleIndexAdaptor<L2Double, PointCloud, 3, uint32_t>;

// nanoflann result set that sums point weights within a radius and stops the search once `target` is reached.
class WeightWithinRadius {
 public:
  WeightWithinRadius(double radius, const std::vector<uint32_t>& weights, size_t target)
      : r2_(radius * radius),
        // the tree only offers points strictly closer than worstDist(); this admits distance == radius too
        bound_(std::nextafter(r2_, std::numeric_limits<double>::infinity())),
        weights_(weights),
        target_(target) {}
  bool full() const { return true; }
  double worstDist() const { return bound_; }
  bool addPoint(double d2, uint32_t index) {
    if (d2 <= r2_) total_ += weights_[index];
    return total_ < target_;  // false ends the search early
  }
  bool reached() const { return total_ >= target_; }

 private:
  double r2_, bound_;
  const std::vector<uint32_t>& weights_;
  size_t target_;
  size_t total_ = 0;
};

// Distinct points with multiplicities; of[i] is the distinct index of input point i.
struct DistinctPoints {
  std::vector<Contrast> points;
  std::vector<uint32_t> weights;
  std::vector<uint32_t> of;
};

DistinctPoints distinct_points(const std::vector<Contrast>& points) {
  std::vector<uint32_t> order(points.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return points[a] < points[b]; });
  DistinctPoints d;
  d.of.resize(points.size());
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || points[order[i]] != points[order[i - 1]]) {
      d.points.push_back(points[order[i]]);
      d.weights.push_back(0);
    }
    ++d.weights.back();
    d.of[order[i]] = static_cast<uint32_t>(d.points.size() - 1);
  }
  return d;
}

// Smallest label among those with the most votes.
int64_t majority(const std::vector<uint32_t>& neighbours, const std::vector<uint32_t>& label_index,
                 const std::vector<int64_t>& distinct_labels, std::vector<uint32_t>& votes) {
  std::fill(votes.begin(), votes.end(), 0u);
  for (uint32_t n : neighbours) ++votes[label_index[n]];
  return distinct_labels[std::max_element(votes.begin(), votes.end()) - votes.begin()];
}

void warn_vanished_classes(const TrainingReport& report) {
  const auto& first = report.steps.front().class_counts;
  const auto& last = report.steps.back().class_counts;
  for (const auto& [label, count] : first)
    if (count > 0 && !last.count(label))
      spdlog::warn("training data: class {} has no samples left after denoising and DBSCAN", label);
}

}  // namespace

void ContrastSamples::append(const ContrastSamples& other) {
  if (!channel_coverage.empty() || !other.channel_coverage.empty()) {
    const auto mine = class_counts(), theirs = other.class_counts();
    auto coverage = [](const ContrastSamples& s, int64_t label) {
      const auto it = s.channel_coverage.find(label);
      return it == s.channel_coverage.end() ? std::array<double, 3>{1, 1, 1} : it->second;
    };
    std::map<int64_t, std::array<double, 3>> merged;
    for (const auto* counts : {&mine, &theirs})
      for (const auto& entry : *counts) {
        const int64_t label = entry.first;
        const auto a = mine.find(label), b = theirs.find(label);
        const double na = a == mine.end() ? 0.0 : static_cast<double>(a->second);
        const double nb = b == theirs.end() ? 0.0 : static_cast<double>(b->second);
        for (int c = 0; c < 3; ++c)
          merged[label][c] = (na * coverage(*this, label)[c] + nb * coverage(other, label)[c]) / (na + nb);
      }
    channel_coverage = std::move(merged);
  }
  contrasts.insert(contrasts.end(), other.contrasts.begin(), other.contrasts.end());
  labels.insert(labels.end(), other.labels.begin(), other.labels.end());
}

std::map<int64_t, size_t> ContrastSamples::class_counts() const {
  std::map<int64_t, size_t> counts;
  for (int64_t label : labels) ++counts[label];
  return counts;
}

uint64_t uniform_index(std::mt19937_64& rng, uint64_t n) {
  // Values below 2^64 mod n would make the low residues more likely: reject them.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t x = rng();
    if (x >= threshold) return x % n;
  }
}

ContrastSamples extract_image_samples(const cv::Mat& bgr8, const std::vector<const coco::Annotation*>& annotations,
                                      const TrainingDataOptions& options, std::mt19937_64& rng,
                                      BackgroundEstimate* background_out) {
  if (bgr8.type() != CV_8UC3) throw Error("expected an 8-bit BGR image");
  const BackgroundEstimate background = measure_background(bgr8, options.background_rule);
  if (background_out) *background_out = background;
  if (!background.any_usable()) throw Error("the substrate colour cannot be measured: " + background.explain());
  const ContrastLut flake_lut = training_contrast_lut(background, true);
  cv::Mat annotated = cv::Mat::zeros(bgr8.size(), CV_8U);
  ContrastSamples samples;
  for (const auto* annotation : annotations)
    add_annotation_samples(bgr8, *annotation, flake_lut, options, annotated, samples);
  add_background_samples(bgr8, annotated, training_contrast_lut(background, false), options.background_samples_per_image,
                         rng, samples);
  return samples;
}

void impute_unmeasured(ContrastSamples& samples) {
  std::map<int64_t, std::array<std::pair<double, size_t>, 3>> sums;  // per class and channel: sum, count
  for (size_t i = 0; i < samples.size(); ++i)
    for (int c = 0; c < 3; ++c)
      if (!std::isnan(samples.contrasts[i][c])) {
        auto& [sum, count] = sums[samples.labels[i]][c];
        sum += samples.contrasts[i][c];
        ++count;
      }
  const auto counts = samples.class_counts();
  samples.channel_coverage.clear();
  for (const auto& [label, channels] : sums)
    for (int c = 0; c < 3; ++c)
      samples.channel_coverage[label][c] =
          static_cast<double>(channels[c].second) / static_cast<double>(counts.at(label));
  for (const auto& [label, count] : counts)  // a class that measured nothing at all
    if (!sums.count(label)) samples.channel_coverage[label] = {0, 0, 0};
  for (size_t i = 0; i < samples.size(); ++i)
    for (int c = 0; c < 3; ++c)
      if (std::isnan(samples.contrasts[i][c])) {
        const auto& [sum, count] = sums[samples.labels[i]][c];
        samples.contrasts[i][c] = count ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
      }
}

ContrastSamples resample_classes(const ContrastSamples& samples, size_t per_class, std::mt19937_64& rng) {
  std::vector<size_t> chosen;
  for (const auto& [label, members] : indices_by_class(samples.labels)) {
    if (members.size() < per_class) {
      for (size_t i = 0; i < per_class; ++i) chosen.push_back(members[uniform_index(rng, members.size())]);
    } else {
      for (size_t i : sample_without_replacement(members.size(), per_class, rng)) chosen.push_back(members[i]);
    }
  }
  return subset(samples, chosen);
}

std::vector<int64_t> knn_majority_labels(const ContrastSamples& samples, size_t k) {
  const size_t n = samples.size();
  k = std::min(k, n);
  if (k == 0) return samples.labels;

  std::vector<int64_t> distinct_labels = samples.labels;
  std::sort(distinct_labels.begin(), distinct_labels.end());
  distinct_labels.erase(std::unique(distinct_labels.begin(), distinct_labels.end()), distinct_labels.end());
  std::vector<uint32_t> label_index(n);
  for (size_t i = 0; i < n; ++i)
    label_index[i] = static_cast<uint32_t>(
        std::lower_bound(distinct_labels.begin(), distinct_labels.end(), samples.labels[i]) - distinct_labels.begin());

  const PointCloud cloud{samples.contrasts};
  const KdTree tree(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16));
  std::vector<uint32_t> neighbours(k), votes(distinct_labels.size());
  std::vector<double> distances(k);
  std::vector<int64_t> labels(n);
  for (size_t i = 0; i < n; ++i) {
    if (i % 4096 == 0) throw_if_cancelled();
    nanoflann::KNNResultSet<double, uint32_t> result(k);
    result.init(neighbours.data(), distances.data());
    tree.findNeighbors(result, samples.contrasts[i].data(), nanoflann::SearchParams());
    // With duplicate points the sample itself may lose the tie at distance 0; it always counts itself.
    if (std::find(neighbours.begin(), neighbours.end(), static_cast<uint32_t>(i)) == neighbours.end())
      neighbours.back() = static_cast<uint32_t>(i);
    labels[i] = majority(neighbours, label_index, distinct_labels, votes);
  }
  return labels;
}

std::vector<uint8_t> dbscan_core_mask(const std::vector<Contrast>& points, double eps, size_t min_samples) {
  if (min_samples <= 1) return std::vector<uint8_t>(points.size(), 1);
  // Identical contrasts are common (8-bit pixels, resampling with replacement) and share core-ness, so the
  // search runs over distinct points weighted by their multiplicity.
  const DistinctPoints distinct = distinct_points(points);
  const PointCloud cloud{distinct.points};
  const KdTree tree(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(16));
  std::vector<uint8_t> distinct_core(distinct.points.size());
  for (size_t i = 0; i < distinct.points.size(); ++i) {
    WeightWithinRadius count(eps, distinct.weights, min_samples);
    tree.findNeighbors(count, distinct.points[i].data(), nanoflann::SearchParams());
    distinct_core[i] = count.reached();
  }
  std::vector<uint8_t> core(points.size());
  for (size_t i = 0; i < points.size(); ++i) core[i] = distinct_core[distinct.of[i]];
  return core;
}

ContrastSamples keep_dbscan_core(const ContrastSamples& samples, double eps, size_t min_samples_divisor) {
  std::vector<size_t> kept;
  for (const auto& [label, members] : indices_by_class(samples.labels)) {
    throw_if_cancelled();
    std::vector<Contrast> points;
    points.reserve(members.size());
    for (size_t i : members) points.push_back(samples.contrasts[i]);
    const auto core = dbscan_core_mask(points, eps, members.size() / min_samples_divisor);
    for (size_t j = 0; j < members.size(); ++j)
      if (core[j]) kept.push_back(members[j]);
  }
  return subset(samples, kept);
}

namespace {

// Training needs pixels of at least one annotated flake; say why there are none in a physicist's words.
void require_flake_samples(const ContrastSamples& samples, const coco::Dataset& dataset,
                           const TrainingDataOptions& options) {
  for (int64_t label : samples.labels)
    if (label != 0) return;
  if (dataset.annotations.empty()) throw Error("the annotations hold no flake to train on");
  throw Error("no annotated flake is large enough to train on: none of the " +
              std::to_string(dataset.annotations.size()) + " annotation(s) keeps " +
              std::to_string(options.min_mask_pixels) + " pixels once its edge is trimmed (" +
              std::to_string(options.erode_iterations) +
              " pixels all round); annotate larger flakes, or scan at a higher magnification (the models expect "
              "about 0.38 um per pixel, a 20x objective)");
}

// Shared by training and evaluation data: extraction, then `refine` (the steps that differ), timed.
template <typename Refine>
TrainingData prepare(const coco::Dataset& dataset, const std::string& images_dir,
                     const TrainingDataOptions& options, Refine refine) {
  check_options(options);
  const auto start = std::chrono::steady_clock::now();
  std::mt19937_64 rng(options.seed);
  TrainingData data;
  ContrastSamples& s = data.samples;
  TrainingReport& report = data.report;
  run_step(report, "extract", s, [&] { s = collect_samples(dataset, images_dir, options, rng, report); });
  refine(s, report, rng);
  report.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return data;
}

}  // namespace

TrainingData prepare_training_data(const coco::Dataset& dataset, const std::string& images_dir,
                                   const TrainingDataOptions& options) {
  return prepare(dataset, images_dir, options, [&](ContrastSamples& s, TrainingReport& report, std::mt19937_64& rng) {
    require_flake_samples(s, dataset, options);
    report_unmeasured_class_channels(s, report);
    if (options.samples_per_class > 0)
      run_step(report, "resample", s, [&] { s = resample_classes(s, options.samples_per_class, rng); });
    if (options.knn_neighbors > 0)
      run_step(report, "knn", s, [&] { s.labels = knn_majority_labels(s, options.knn_neighbors); });
    if (options.dbscan)
      run_step(report, "dbscan", s,
               [&] { s = keep_dbscan_core(s, options.dbscan_eps, options.dbscan_min_samples_divisor); });
    warn_vanished_classes(report);
  });
}

TrainingData prepare_training_data_from_masks(const std::string& images_dir, const std::string& masks_dir,
                                              const TrainingDataOptions& options) {
  return prepare_training_data(coco::read_semantic_mask_folder(images_dir, masks_dir), images_dir, options);
}

TrainingData prepare_evaluation_data(const coco::Dataset& dataset, const std::string& images_dir,
                                     const TrainingDataOptions& options) {
  return prepare(dataset, images_dir, options, [&](ContrastSamples& s, TrainingReport& report, std::mt19937_64& rng) {
    if (options.max_eval_samples > 0 && s.size() > options.max_eval_samples)
      run_step(report, "subsample", s, [&] {
        s = subset(s, sample_without_replacement(s.size(), options.max_eval_samples, rng));
      });
  });
}

}  // namespace maskterial
