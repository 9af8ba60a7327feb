#include "maskterial/segment/segmenter.hpp"

#include <algorithm>
#include <array>
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


cv::Scalar channel_medians(const cv::Mat& bgr8) {
  cv::Scalar medians;
  for (int c = 0; c < 3; ++c) {
    std::array<int64_t, 256> histogram{};
    for (int y = 0; y < bgr8.rows; ++y) {
      const uint8_t* row = bgr8.ptr<uint8_t>(y);
      for (int x = 0; x < bgr8.cols; ++x) ++histogram[row[3 * x + c]];
    }
    const int64_t half = (static_cast<int64_t>(bgr8.total()) + 1) / 2;
    int64_t seen = 0;
    int value = 0;
    while (value < 255 && (seen += histogram[static_cast<size_t>(value)]) < half) ++value;
    medians[c] = value;
  }
  return medians;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Parameter and buffer shapes by name: libtorch's loader takes a tensor of any shape under a known name.
std::map<std::string, std::vector<int64_t>> tensor_shapes(const torch::nn::Module& module) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : module.named_parameters(true)) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : module.named_buffers(true)) shapes[b.key()] = b.value().sizes().vec();
  return shapes;
}

}  // namespace

cv::Mat resample_mask(const cv::Mat& logits, double scale_x, double scale_y, const cv::Size& size, cv::Point2d offset) {
  const cv::Rect box = cv::boundingRect(logits > 0);
  if (box.empty()) return {};
  // Image range whose pixels read logits in [first - 1, end] (columns in the whole image's 1/4 grid).
  const auto span = [](double first, double end, double scale, int limit) {
    const int lo = std::max(0, static_cast<int>(std::floor((first - 0.5) / scale - 0.5)) - 1);
    const int hi = std::min(limit, static_cast<int>(std::ceil((end + 0.5) / scale - 0.5)) + 2);
    return std::make_pair(lo, hi);
  };
  const auto [x0, x1] = span(box.x + offset.x, box.x + box.width + offset.x, scale_x, size.width);
  const auto [y0, y1] = span(box.y + offset.y, box.y + box.height + offset.y, scale_y, size.height);
  if (x1 <= x0 || y1 <= y0) return {};
  const cv::Matx23d to_logits(scale_x, 0, (x0 + 0.5) * scale_x - 0.5 - offset.x, 0, scale_y,
                              (y0 + 0.5) * scale_y - 0.5 - offset.y);
  cv::Mat resampled;
  cv::warpAffine(logits, resampled, to_logits, cv::Size(x1 - x0, y1 - y0), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REPLICATE);
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  mask(cv::Rect(x0, y0, x1 - x0, y1 - y0)).setTo(255, resampled > 0);
  if (cv::countNonZero(mask) == 0) return {};
  return mask;
}

std::vector<InstanceMask> suppress_duplicates(std::vector<InstanceMask> sorted, double max_iou) {
  std::vector<InstanceMask> kept;
  std::vector<cv::Rect> boxes;
  std::vector<int> areas;
  for (InstanceMask& candidate : sorted) {
    const cv::Rect box = cv::boundingRect(candidate.mask);
    const int area = cv::countNonZero(candidate.mask(box));
    bool duplicate = false;
    for (size_t k = 0; k < kept.size() && !duplicate; ++k) {
      const cv::Rect shared = box & boxes[k];
      if (shared.empty()) continue;
      const int overlap = cv::countNonZero(candidate.mask(shared) & kept[k].mask(shared));
      duplicate = overlap > max_iou * static_cast<double>(area + areas[k] - overlap);
    }
    if (duplicate) continue;
    boxes.push_back(box);
    areas.push_back(area);
    kept.push_back(std::move(candidate));
  }
  return kept;
}

std::vector<Tile> plan_tiles(cv::Size image, int tile, int overlap) {
  // Along one axis: evenly spread origins, the last flush with the end, neighbours overlapping by at least
  // `overlap`; each tile owns up to the middle of its overlaps.
  struct Span { int origin, length; double owned_lo, owned_hi; };
  const auto spans = [&](int extent) {
    const int length = tile > 0 ? std::min(tile, extent) : extent;
    const int n = length >= extent ? 1 : 1 + (extent - length + (length - overlap) - 1) / (length - overlap);
    std::vector<Span> out;
    for (int i = 0; i < n; ++i)
      out.push_back({n == 1 ? 0 : static_cast<int>(std::lround(static_cast<double>(i) * (extent - length) / (n - 1))),
                     length, -HUGE_VAL, HUGE_VAL});
    for (int i = 0; i + 1 < n; ++i)
      out[i].owned_hi = out[i + 1].owned_lo = 0.5 * (out[i + 1].origin + out[i].origin + length);
    return out;
  };
  std::vector<Tile> tiles;
  for (const Span& y : spans(image.height))
    for (const Span& x : spans(image.width))
      tiles.push_back({cv::Rect(x.origin, y.origin, x.length, y.length), x.owned_lo, x.owned_hi, y.owned_lo, y.owned_hi});
  return tiles;
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
  const std::vector<Tile> tiles = plan_tiles(scaled.size(), o.inference_tile, o.inference_tile_overlap);
  const int th = static_cast<int>(round_up(tiles.front().region.height, 32));
  const int tw = static_cast<int>(round_up(tiles.front().region.width, 32));
  const double scale_x = static_cast<double>(scaled.cols) / (4.0 * bgr8.cols);
  const double scale_y = static_cast<double>(scaled.rows) / (4.0 * bgr8.rows);
  const torch::Device device = model_->parameters().front().device();
  constexpr size_t kTilesPerPass = 4;
  // Padding reads as bare substrate: the pixel mean, or the image's own substrate colour when normalising by it.
  const cv::Scalar padding = o.normalisation == "substrate" ? channel_medians(scaled)
                                                            : cv::Scalar(o.pixel_mean[0], o.pixel_mean[1], o.pixel_mean[2]);
  // A tile's region in the original image's pixels (image edges stay exact).
  const auto image_region = [&](const cv::Rect& r) {
    const auto edge = [](int at, int scaled_extent, int extent) {
      return at >= scaled_extent ? extent : static_cast<int>(std::lround(at * static_cast<double>(extent) / scaled_extent));
    };
    const int x0 = edge(r.x, scaled.cols, bgr8.cols), x1 = edge(r.br().x, scaled.cols, bgr8.cols);
    const int y0 = edge(r.y, scaled.rows, bgr8.rows), y1 = edge(r.br().y, scaled.rows, bgr8.rows);
    return cv::Rect(x0, y0, x1 - x0, y1 - y0);
  };

  std::vector<InstanceMask> instances;
  for (size_t first = 0; first < tiles.size(); first += kTilesPerPass) {
    const size_t count = std::min(kTilesPerPass, tiles.size() - first);
    // Tiles padded to multiples of 32 with the pixel mean, in one fresh continuous buffer.
    cv::Mat batch(static_cast<int>(count) * th, tw, CV_8UC3, padding);
    for (size_t t = 0; t < count; ++t) {
      const cv::Rect& r = tiles[first + t].region;
      scaled(r).copyTo(batch(cv::Rect(0, static_cast<int>(t) * th, r.width, r.height)));
    }
    const torch::Tensor images = torch::from_blob(batch.data, {static_cast<int64_t>(count), th, tw, 3}, torch::kUInt8)
                                     .to(device)
                                     .permute({0, 3, 1, 2})
                                     .to(torch::kFloat32);
    const SegmenterOutput out = model_.ptr()->forward(images);
    const torch::Tensor logits_all = out.logits.to(torch::kCPU, torch::kFloat32);
    const torch::Tensor masks_all = out.masks.to(torch::kCPU, torch::kFloat32).contiguous();

    for (size_t t = 0; t < count; ++t) {
      const Tile& tile = tiles[first + t];
      const int rows = (tile.region.height + 3) / 4, cols = (tile.region.width + 3) / 4;  // the image, not padding
      const auto [class_score, category] =
          torch::softmax(logits_all[static_cast<int64_t>(t)], -1).slice(1, 0, o.num_classes).max(1);
      const torch::Tensor masks = masks_all[static_cast<int64_t>(t)];  // [Q, th/4, tw/4]
      const torch::Tensor valid = masks.slice(1, 0, rows).slice(2, 0, cols).flatten(1);
      const torch::Tensor inside = (valid > 0).to(torch::kFloat32);
      const torch::Tensor mask_score = (valid.sigmoid() * inside).sum(1) / (inside.sum(1) + 1e-6);
      const torch::Tensor score = (class_score * mask_score).contiguous();
      const auto score_of = score.accessor<float, 1>();
      const auto category_of = category.accessor<int64_t, 1>();
      for (int64_t q = 0; q < score.size(0); ++q) {
        if (!(score_of[q] > score_threshold_)) continue;
        const cv::Mat logits = cv::Mat(static_cast<int>(masks.size(1)), static_cast<int>(masks.size(2)), CV_32F,
                                        masks[q].data_ptr<float>())(cv::Rect(0, 0, cols, rows));
        const cv::Rect box = cv::boundingRect(logits > 0);
        if (box.empty()) continue;
        // Owned by the tile that holds the mask's centre, so overlapping tiles report it once.
        const double cx = tile.region.x + 4.0 * (box.x + 0.5 * box.width);
        const double cy = tile.region.y + 4.0 * (box.y + 0.5 * box.height);
        if (cx < tile.owned_x_lo || cx >= tile.owned_x_hi || cy < tile.owned_y_lo || cy >= tile.owned_y_hi) continue;
        cv::Mat mask = resample_mask(logits, scale_x, scale_y, bgr8.size(),
                                     cv::Point2d(tile.region.x / 4.0, tile.region.y / 4.0));
        if (tiles.size() > 1 && !mask.empty()) {  // the tile saw nothing beyond its edges
          const cv::Rect seen = image_region(tile.region);
          cv::Mat clipped = cv::Mat::zeros(mask.size(), CV_8U);
          mask(seen).copyTo(clipped(seen));
          mask = cv::countNonZero(clipped) > 0 ? clipped : cv::Mat();
        }
        if (!mask.empty()) instances.push_back({mask, score_of[q], static_cast<int>(category_of[q])});
      }
    }
  }
  std::stable_sort(instances.begin(), instances.end(),
                   [](const InstanceMask& a, const InstanceMask& b) { return a.score > b.score; });
  return o.inference_mask_nms > 0 ? suppress_duplicates(std::move(instances), o.inference_mask_nms) : instances;
}

}  // namespace maskterial::segment
