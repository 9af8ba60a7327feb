#include "maskterial/segment/dense/dense_segmenter.hpp"

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "maskterial/segment/dense/dense_input.hpp"
#include "maskterial/segment/dense/edge_refinement.hpp"
#include "maskterial/segment/dense/dense_instances.hpp"
#include "maskterial/segment/inference.hpp"
#include "maskterial/segment/model_directory.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

int round_up(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

cv::Mat channel_of(const torch::Tensor& maps, int64_t c, int rows, int cols) {
  const torch::Tensor plane = maps[c].contiguous();
  return cv::Mat(static_cast<int>(plane.size(0)), static_cast<int>(plane.size(1)), CV_32F, plane.data_ptr<float>())(
             cv::Rect(0, 0, cols, rows))
      .clone();
}

}  // namespace

DenseSegmenter::DenseSegmenter(DenseNet network, nlohmann::json training, double score_threshold)
    : network_(std::move(network)), training_(std::move(training)), score_threshold_(score_threshold) {
  if (!network_) throw Error("dense segmenter: no network");
  if (!(score_threshold_ >= 0 && score_threshold_ < 1)) throw Error("segmenter: score threshold must be in [0, 1)");
  network_->eval();
}

nlohmann::json DenseSegmenter::describe() const {
  return model_json(kType, network_->options().to_json(), training_);
}

void DenseSegmenter::save(const std::string& dir) const {
  save_model_directory(dir, kType, network_->options().to_json(), training_, network_.ptr());
}

std::shared_ptr<DenseSegmenter> DenseSegmenter::load(const std::string& dir, double score_threshold) {
  const ModelDirectory files = open_model_directory(dir, kType);
  DenseNet network(DenseOptions::from_json(files.options(), files.meta_path));
  load_weights(network.ptr(), files.weights_path);
  return std::make_shared<DenseSegmenter>(network, files.meta.value("training", nlohmann::json::object()),
                                          score_threshold);
}

DenseProbabilities DenseSegmenter::probabilities(const cv::Mat& bgr8) const {
  if (bgr8.empty() || bgr8.type() != CV_8UC3) throw Error("segmenter: expected an 8-bit BGR image");
  const cv::Mat scaled = scale_image(bgr8, network_->options().inference_scale);
  return maps_of(scaled, substrate_colour(scaled));
}

DenseProbabilities DenseSegmenter::maps_of(const cv::Mat& scaled, const Bgr& substrate) const {
  torch::NoGradGuard no_grad;
  const cv::Mat features = dense_features(scaled, substrate, network_->options());
  // Padding reads as bare substrate: contrast 0 (a colour input sees the scan mean there).
  cv::Mat padded;
  cv::copyMakeBorder(features, padded, 0, round_up(scaled.rows, 16) - scaled.rows, 0, round_up(scaled.cols, 16) - scaled.cols,
                     cv::BORDER_CONSTANT, cv::Scalar::all(0));
  const torch::Device device = network_->parameters().front().device();
  const torch::Tensor input = torch::from_blob(padded.data, {1, padded.rows, padded.cols, padded.channels()}, torch::kFloat32)
                                  .permute({0, 3, 1, 2})
                                  .to(device);
  const DenseMaps maps = network_.ptr()->forward(input.contiguous());
  const torch::Tensor probs = torch::cat({maps.flake, maps.boundary, maps.distance}, 1).sigmoid()[0].to(torch::kCPU,
                                                                                                        torch::kFloat32);
  const int rows = (scaled.rows + 1) / 2, cols = (scaled.cols + 1) / 2;
  return {channel_of(probs, 0, rows, cols), channel_of(probs, 1, rows, cols), channel_of(probs, 2, rows, cols)};
}

std::vector<InstanceMask> DenseSegmenter::predict(const cv::Mat& bgr8) const {
  if (bgr8.empty() || bgr8.type() != CV_8UC3) throw Error("segmenter: expected an 8-bit BGR image");
  const DenseOptions& o = network_->options();
  const cv::Mat scaled = scale_image(bgr8, o.inference_scale);
  const Bgr substrate = substrate_colour(scaled);
  const DenseProbabilities p = maps_of(scaled, substrate);
  const DenseInstances found = extract_instances(p.flake, p.boundary, p.distance, o);
  std::vector<InstanceMask> instances;
  if (found.scores.empty()) return instances;
  // Full-resolution masks: the instance's cells, cut to where the smooth flake probability is above threshold,
  // then their edges refined on the image's contrast.
  cv::Mat labels, flake;
  cv::resize(found.labels, labels, bgr8.size(), 0, 0, cv::INTER_NEAREST);
  cv::resize(p.flake, flake, bgr8.size(), 0, 0, cv::INTER_LINEAR);
  const cv::Mat inside = flake > o.flake_threshold;
  std::vector<cv::Rect> boxes(found.scores.size());
  for (int y = 0; y < labels.rows; ++y) {
    const int* row = labels.ptr<int>(y);
    for (int x = 0; x < labels.cols; ++x)
      if (row[x]) {
        cv::Rect& b = boxes[static_cast<size_t>(row[x] - 1)];
        b = b.empty() ? cv::Rect(x, y, 1, 1) : (b | cv::Rect(x, y, 1, 1));
      }
  }
  // Per instance only its box (grown by what the edge refinement reads) is touched, not the whole image.
  const int margin = edge_refinement_margin(o);
  const cv::Rect image(0, 0, bgr8.cols, bgr8.rows);
  for (size_t k = 0; k < found.scores.size(); ++k) {
    const cv::Rect& b = boxes[k];
    if (!(found.scores[k] > score_threshold_) || b.empty()) continue;
    const int id = static_cast<int>(k + 1);
    cv::Mat mask = cv::Mat::zeros(bgr8.size(), CV_8U);
    mask(b).setTo(255, (labels(b) == id) & inside(b));
    if (cv::countNonZero(mask(b)) == 0) continue;
    const cv::Rect reach = cv::Rect(b.x - margin, b.y - margin, b.width + 2 * margin, b.height + 2 * margin) & image;
    cv::Mat others = cv::Mat::zeros(bgr8.size(), CV_8U);
    others(reach).setTo(255, (labels(reach) != 0) & (labels(reach) != id));
    mask = refine_edges(bgr8, substrate, mask, others, o);
    if (cv::countNonZero(mask) == 0) continue;
    instances.push_back({mask, found.scores[k], 0});
  }
  std::stable_sort(instances.begin(), instances.end(),
                   [](const InstanceMask& a, const InstanceMask& b) { return a.score > b.score; });
  return instances;
}

}  // namespace maskterial::segment
