#include "maskterial/segment/segmenter.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <opencv2/imgproc.hpp>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

constexpr char kWeightsFile[] = "model.pt";
int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }


std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Parameter and buffer shapes by name: libtorch's loader takes a tensor of any shape under a known name.
std::map<std::string, std::vector<int64_t>> tensor_shapes(const torch::nn::Module& module) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : module.named_parameters(true)) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : module.named_buffers(true)) shapes[b.key()] = b.value().sizes().vec();
  return shapes;
}

}  // namespace

cv::Mat resample_mask(const cv::Mat& logits, double scale_x, double scale_y, const cv::Size& size) {
  const cv::Rect box = cv::boundingRect(logits > 0);
  if (box.empty()) return {};
  const auto span = [](int first, int end, double scale, int limit) {  // image range reading [first-1, end]
    const int lo = std::max(0, static_cast<int>(std::floor((first - 0.5) / scale - 0.5)) - 1);
    const int hi = std::min(limit, static_cast<int>(std::ceil((end + 0.5) / scale - 0.5)) + 2);
    return std::make_pair(lo, hi);
  };
  const auto [x0, x1] = span(box.x, box.x + box.width, scale_x, size.width);
  const auto [y0, y1] = span(box.y, box.y + box.height, scale_y, size.height);
  if (x1 <= x0 || y1 <= y0) return {};
  const cv::Matx23d to_logits(scale_x, 0, (x0 + 0.5) * scale_x - 0.5, 0, scale_y, (y0 + 0.5) * scale_y - 0.5);
  cv::Mat resampled;
  cv::warpAffine(logits, resampled, to_logits, cv::Size(x1 - x0, y1 - y0), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REPLICATE);
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  mask(cv::Rect(x0, y0, x1 - x0, y1 - y0)).setTo(255, resampled > 0);
  if (cv::countNonZero(mask) == 0) return {};
  return mask;
}

cv::Mat scale_image(const cv::Mat& bgr8, double scale) {
  if (scale == 1.0) return bgr8;
  const cv::Size size(std::max(1, static_cast<int>(std::lround(bgr8.cols * scale))),
                      std::max(1, static_cast<int>(std::lround(bgr8.rows * scale))));
  cv::Mat out;
  cv::resize(bgr8, out, size, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

Segmenter::Segmenter(Mask2Former model, nlohmann::json training, double score_threshold)
    : model_(std::move(model)), training_(std::move(training)), score_threshold_(score_threshold) {
  if (!model_) throw Error("segmenter: no model");
  if (!(score_threshold_ >= 0 && score_threshold_ < 1)) throw Error("segmenter: score threshold must be in [0, 1)");
  model_->eval();
}

nlohmann::json Segmenter::describe() const {
  return {{"format", "maskterial"},
          {"kind", "segmentation"},
          {"type", "mask2former"},
          {"options", model_->options().to_json()},
          {"files", {{"weights", kWeightsFile}}},
          {"training", training_}};
}

void Segmenter::save(const std::string& dir) const {
  write_directory_atomic(dir, [&](const std::string& tmp) {
    torch::save(model_, (fs::path(tmp) / kWeightsFile).string());
    write_json_atomic((fs::path(tmp) / "model.json").string(), describe(), 2);
  });
}

std::shared_ptr<Segmenter> Segmenter::load(const std::string& dir, double score_threshold) {
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw file_error(dir, "not a model directory");
  const std::string meta_path = (root / "model.json").string();
  const nlohmann::json meta = read_json(meta_path);
  if (!meta.is_object()) throw file_error(meta_path, "expected a JSON object");
  const auto expect = [&](const char* key, const char* value) {
    if (meta.value(key, nlohmann::json()) != value)
      throw file_error(meta_path, std::string("'") + key + "' must be \"" + value + "\" (not a Mask2Former model)");
  };
  expect("format", "maskterial");
  expect("kind", "segmentation");
  expect("type", "mask2former");
  if (!meta.contains("options")) throw file_error(meta_path, "no 'options'");
  const SegmenterOptions options = SegmenterOptions::from_json(meta.at("options"), meta_path);
  std::string weights = kWeightsFile;
  if (meta.contains("files")) {
    const auto& files = meta.at("files");
    if (!files.is_object() || !files.value("weights", nlohmann::json(weights)).is_string())
      throw file_error(meta_path, "'files.weights' must be a file name");
    weights = files.value("weights", weights);
  }
  if (weights.empty() || weights.find('/') != std::string::npos || weights.find("..") != std::string::npos)
    throw file_error(meta_path, "file names must stay inside the model directory: " + weights);
  const std::string weights_path = (root / weights).string();
  if (!fs::is_regular_file(weights_path)) throw file_error(weights_path, "missing (the model's weights)");

  Mask2Former model(options);
  const auto expected = tensor_shapes(*model);
  try {
    torch::load(model, weights_path);
  } catch (const std::exception& e) {
    throw file_error(weights_path, "not weights of the model in model.json: " + first_line(e.what()));
  }
  for (const auto& [name, shape] : tensor_shapes(*model))
    if (expected.at(name) != shape)
      throw file_error(weights_path, "tensor '" + name + "' does not fit the architecture in model.json");
  return std::make_shared<Segmenter>(model, meta.value("training", nlohmann::json::object()), score_threshold);
}

std::vector<InstanceMask> Segmenter::predict(const cv::Mat& bgr8) const {
  if (bgr8.empty() || bgr8.type() != CV_8UC3) throw Error("segmenter: expected an 8-bit BGR image");
  torch::NoGradGuard no_grad;
  const SegmenterOptions& o = model_->options();
  const cv::Mat scaled = scale_image(bgr8, o.inference_scale);
  const int64_t sh = scaled.rows, sw = scaled.cols;
  const int64_t ph = round_up(sh, 32), pw = round_up(sw, 32);
  cv::Mat padded;  // always a fresh continuous buffer
  cv::copyMakeBorder(scaled, padded, 0, static_cast<int>(ph - sh), 0, static_cast<int>(pw - sw), cv::BORDER_CONSTANT,
                     cv::Scalar(o.pixel_mean[0], o.pixel_mean[1], o.pixel_mean[2]));
  const torch::Device device = model_->parameters().front().device();
  const torch::Tensor images = torch::from_blob(padded.data, {1, ph, pw, 3}, torch::kUInt8)
                                   .to(device)
                                   .permute({0, 3, 1, 2})
                                   .to(torch::kFloat32);
  const SegmenterOutput out = model_.ptr()->forward(images);

  const torch::Tensor logits = out.logits[0];  // [Q, C + 1]
  const torch::Tensor masks = out.masks[0];    // [Q, ph/4, pw/4]
  const auto [class_score, category] = torch::softmax(logits, -1).slice(1, 0, o.num_classes).max(1);
  // Mask quality over the part of the 1/4-resolution map that covers the image (not the padding).
  const torch::Tensor valid = masks.slice(1, 0, (sh + 3) / 4).slice(2, 0, (sw + 3) / 4).flatten(1);
  const torch::Tensor inside = (valid > 0).to(torch::kFloat32);
  const torch::Tensor mask_score = (valid.sigmoid() * inside).sum(1) / (inside.sum(1) + 1e-6);
  const torch::Tensor score = (class_score * mask_score).to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor categories = category.to(torch::kCPU).contiguous();
  const auto score_of = score.accessor<float, 1>();
  const auto category_of = categories.accessor<int64_t, 1>();

  std::vector<int64_t> kept;
  for (int64_t q = 0; q < score.size(0); ++q)
    if (score_of[q] > score_threshold_) kept.push_back(q);
  std::stable_sort(kept.begin(), kept.end(), [&](int64_t a, int64_t b) { return score_of[a] > score_of[b]; });

  const torch::Tensor low_res = masks.to(torch::kCPU, torch::kFloat32).contiguous();
  const int rows = static_cast<int>(low_res.size(1)), cols = static_cast<int>(low_res.size(2));
  std::vector<InstanceMask> instances;
  for (int64_t q : kept) {
    cv::Mat mask = resample_mask(cv::Mat(rows, cols, CV_32F, low_res[q].data_ptr<float>()),
                                 static_cast<double>(sw) / (4.0 * bgr8.cols), static_cast<double>(sh) / (4.0 * bgr8.rows),
                                 bgr8.size());
    if (!mask.empty()) instances.push_back({mask, score_of[q], static_cast<int>(category_of[q])});
  }
  return instances;
}

}  // namespace maskterial::segment
