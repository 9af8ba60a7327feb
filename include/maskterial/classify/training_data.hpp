#pragma once
// Training data for the Gaussian classifier, prepared as MaskTerial's ContrastDataloader does: per image the
// contrast (I / I_bg - 1, background with the training rule) of every annotated pixel that survives a 3x3
// elliptic erosion (x3) of its mask, plus background samples; then per-class resampling, kNN label
// denoising and per-class DBSCAN outlier removal (only core samples are kept).
// Unlike the Python original, evaluation data comes from its own dataset and never replaces the training
// data (the original overwrote X_train with the test set when both were given).
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/image/contrast.hpp"

namespace maskterial {

using Contrast = std::array<float, 3>;  // B, G, R; float32 as the reference stores its samples

// Labelled contrast samples; label = category id, 0 = background.
struct ContrastSamples {
  std::vector<Contrast> contrasts;
  std::vector<int64_t> labels;
  // Per class, the share of its samples that measured each channel (B, G, R) before impute_unmeasured filled
  // the others in; a class absent here measured every channel. Kept by resampling and denoising.
  std::map<int64_t, std::array<double, 3>> channel_coverage;

  size_t size() const { return labels.size(); }
  void add(const Contrast& c, int64_t label) {
    contrasts.push_back(c);
    labels.push_back(label);
  }
  void append(const ContrastSamples& other);  // coverage merged, weighted by each side's class counts
  std::map<int64_t, size_t> class_counts() const;
};

struct TrainingDataOptions {
  BackgroundRule background_rule = BackgroundRule::training();
  int erode_iterations = 3;                   // 3x3 elliptic kernel: flake edges are mixed pixels
  size_t min_mask_pixels = 200;               // annotations smaller than this after erosion are dropped
  size_t background_samples_per_image = 10000;  // drawn with replacement from never-annotated pixels
  size_t samples_per_class = 30000;           // 0: no resampling (the reference's -1)
  size_t knn_neighbors = 25;                  // 0: no kNN label denoising
  bool dbscan = true;
  double dbscan_eps = 0.1;                    // Euclidean, in contrast units
  size_t dbscan_min_samples_divisor = 10;     // min_samples = class size / divisor
  size_t max_eval_samples = 50000;            // evaluation sets are subsampled to this (0: keep all)
  uint64_t seed = 0;
  bool show_progress = true;
  // Called after each image of the extraction step with the fraction of images done (a server's job status).
  std::function<void(double fraction)> on_extract_progress;
};

// Counts per class after one preparation step, and the time it took.
struct TrainingStep {
  std::string name;  // "extract", "resample", "knn", "dbscan", "fit"
  std::map<int64_t, size_t> class_counts;
  double seconds = 0;
};

struct TrainingReport {
  size_t images_total = 0;
  size_t images_used = 0;
  std::vector<std::string> errors;  // "<file>: <problem>" for each image that was skipped
  std::vector<std::string> ignored_channels;  // "<file>: <which channels and why>" for each image used in part
  // "class <id>: ..." for each layer class the classifiers will judge without some channel, and why.
  std::vector<std::string> unmeasured_class_channels;
  std::vector<TrainingStep> steps;
  double total_seconds = 0;
};

struct TrainingData {
  ContrastSamples samples;
  TrainingReport report;
};

// Uniform integer in [0, n) from the raw generator: the same on every standard library (n > 0).
uint64_t uniform_index(std::mt19937_64& rng, uint64_t n);

// Samples of one 8-bit BGR image: eroded annotation pixels with their category ids, then
// background_samples_per_image pixels that lie in no annotation. A channel the image cannot measure
// (BackgroundEstimate::usable), one clipped at 0 or 255 at that pixel, and on an annotated pixel one taken
// against the clip level that is still in the clip band (>= 250), is NaN in the sample. Throws Error
// (saying which channels are saturated or dark and what to do) if no channel is usable, or if an annotation's
// size differs from the image's. background: receives the estimate.
ContrastSamples extract_image_samples(const cv::Mat& bgr8, const std::vector<const coco::Annotation*>& annotations,
                                      const TrainingDataOptions& options, std::mt19937_64& rng,
                                      BackgroundEstimate* background = nullptr);

// Replaces each NaN channel of a sample by its class's mean over the samples that measured it (0 when none
// did): for a Gaussian class this keeps the class's mean in that channel, so an image that measures only
// some channels trains the others with the class as the rest of the data knows it. Records channel_coverage:
// a channel few samples measured has, after imputation, a spread that says nothing (NetworkClassifier).
void impute_unmeasured(ContrastSamples& samples);

// Exactly `per_class` samples of each class: with replacement if the class is smaller, without otherwise.
ContrastSamples resample_classes(const ContrastSamples& samples, size_t per_class, std::mt19937_64& rng);

// New label of each sample: the majority among its k nearest neighbours (itself included), ties going to the
// smallest label. Exact kd-tree search; among equidistant candidates for the last places the tree's order
// decides, except that a sample always counts itself.
std::vector<int64_t> knn_majority_labels(const ContrastSamples& samples, size_t k);

// DBSCAN core flags: a point is core if at least min_samples points (itself included) lie within distance
// eps (<= eps, as scikit-learn). min_samples 0 or 1 makes every point core.
std::vector<uint8_t> dbscan_core_mask(const std::vector<Contrast>& points, double eps, size_t min_samples);

// Keeps the DBSCAN core samples of each class, min_samples = class size / divisor.
ContrastSamples keep_dbscan_core(const ContrastSamples& samples, double eps, size_t min_samples_divisor);

// The full pipeline on a COCO dataset whose file names are relative to images_dir. Unreadable images and
// images without any usable channel are skipped and listed in report.errors (and logged); images with some
// channels ignored are used and listed in report.ignored_channels (and logged); throws Error if no image is
// usable.
TrainingData prepare_training_data(const coco::Dataset& dataset, const std::string& images_dir,
                                   const TrainingDataOptions& options = {});

// Same, from a folder of semantic masks (pixel = class id) next to a folder of images. Each 8-connected region
// is an annotation, so the 200-pixel rule applies per region (the reference's folder loader has no such rule).
TrainingData prepare_training_data_from_masks(const std::string& images_dir, const std::string& masks_dir,
                                              const TrainingDataOptions& options = {});

// Evaluation samples from a separate dataset: extraction only (no resampling, denoising or DBSCAN), then a
// random subset of max_eval_samples if larger.
TrainingData prepare_evaluation_data(const coco::Dataset& dataset, const std::string& images_dir,
                                     const TrainingDataOptions& options = {});

}  // namespace maskterial
