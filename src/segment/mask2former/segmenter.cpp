#include "maskterial/segment/mask2former/segmenter.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/segment/model_directory.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

constexpr char kType[] = "mask2former";
int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

cv::Scalar to_scalar(const Bgr& bgr) { return cv::Scalar(bgr[0], bgr[1], bgr[2]); }

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

Segmenter::Segmenter(Mask2Former model, nlohmann::json training, double score_threshold)
    : model_(std::move(model)), training_(std::move(training)), score_threshold_(score_threshold) {
  if (!model_) throw Error("segmenter: no model");
  if (!(score_threshold_ >= 0 && score_threshold_ < 1)) throw Error("segmenter: score threshold must be in [0, 1)");
  model_->eval();
}

nlohmann::json Segmenter::describe() const {
  return model_json(kType, model_->options().to_json(), training_);
}

void Segmenter::save(const std::string& dir) const {
  save_model_directory(dir, kType, model_->options().to_json(), training_, model_.ptr());
}

std::shared_ptr<Segmenter> Segmenter::load(const std::string& dir, double score_threshold) {
  const ModelDirectory files = open_model_directory(dir, kType);
  Mask2Former model(SegmenterOptions::from_json(files.options(), files.meta_path));
  load_weights(model.ptr(), files.weights_path);
  return std::make_shared<Segmenter>(model, files.meta.value("training", nlohmann::json::object()), score_threshold);
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
  const cv::Scalar padding = o.normalisation == "substrate" ? to_scalar(channel_medians(scaled))
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
