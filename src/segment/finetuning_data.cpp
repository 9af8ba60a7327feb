#include "maskterial/segment/finetuning_data.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "maskterial/coco/rle.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/synth/backgrounds.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/progress.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

constexpr int kMinFlakePixels = 20;
// Scans kept in memory as substrates (each a full image): enough to show a microscope's range of exposures.
constexpr size_t kMaxScans = 200;

// At most `count` of the items, spread evenly over them (all when there are fewer).
template <class T>
std::vector<T> spread_evenly(std::vector<T> items, size_t count) {
  if (items.size() <= count) return items;
  std::vector<T> spread;
  for (size_t i = 0; i < count; ++i) spread.push_back(items[i * items.size() / count]);
  return spread;
}

double median(std::vector<float>& values) {
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

// Pixels of a flake like the annotated ones: its contrast (smoothed: noise and JPEG blocks stay substrate) within
// a quarter of an annotated contrast's magnitude (at least 0.03) of it; thin strips (thick crystals' halos) left.
cv::Mat flakes_like(const cv::Mat& bgr8, const BackgroundEstimate& background, const std::vector<Bgr>& contrasts) {
  cv::Mat contrast = contrast_image(bgr8, background.colour, background.measured());
  cv::GaussianBlur(contrast, contrast, {0, 0}, 1.5);
  cv::Mat like = cv::Mat::zeros(bgr8.size(), CV_8U);
  // Flakes of one class have nearly one contrast: one pass per distinct contrast (within 0.01) is enough.
  std::vector<Bgr> distinct;
  for (const Bgr& c : contrasts)
    if (std::none_of(distinct.begin(), distinct.end(), [&](const Bgr& d) {
          return std::abs(c[0] - d[0]) < 0.01 && std::abs(c[1] - d[1]) < 0.01 && std::abs(c[2] - d[2]) < 0.01;
        }))
      distinct.push_back(c);
  for (const Bgr& c : distinct) {
    const double radius = std::max(0.03, 0.25 * std::sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]));
    cv::Mat difference = contrast - cv::Scalar(c[0], c[1], c[2]);
    like |= contrast_norm(difference) < radius;
  }
  cv::morphologyEx(like, like, cv::MORPH_OPEN, cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5}));
  cv::dilate(like, like, cv::getStructuringElement(cv::MORPH_ELLIPSE, {9, 9}));
  return like;
}

std::shared_ptr<synth::BackgroundLibrary> unlabelled_substrates(const std::vector<std::string>& dirs,
                                                                const std::vector<Bgr>& contrasts, bool show_progress) {
  std::vector<std::string> paths = list_images(dirs);
  if (paths.size() > kMaxScans)
    spdlog::info("--unlabelled: {} scans, {} of them spread over the list are used", paths.size(), kMaxScans);
  paths = spread_evenly(std::move(paths), kMaxScans);
  std::vector<cv::Mat> substrates;
  ProgressBar bar(paths.size(), "unlabelled scans", show_progress);
  for (const std::string& path : paths) {
    bar.advance(1, fs::path(path).filename().string());
    try {
      const cv::Mat bgr8 = load_image(path);  // its errors name the file
      try {
        substrates.push_back(unlabelled_substrate(bgr8, contrasts));
      } catch (const Error& e) {
        throw file_error(path, e.what());
      }
    } catch (const Error& e) {
      spdlog::warn("--unlabelled: {} (not used)", e.what());
    }
  }
  bar.finish();
  if (substrates.empty())
    throw Error("--unlabelled: no usable scan in " + dirs.front() + (dirs.size() > 1 ? " and the other folders" : ""));
  return std::make_shared<synth::BackgroundLibrary>(std::move(substrates));
}

}  // namespace

cv::Mat unlabelled_substrate(const cv::Mat& bgr8, const std::vector<Bgr>& contrasts) {
  const BackgroundEstimate background = measure_background(bgr8);
  if (!background.any_usable()) throw Error(background.explain());
  return synth::paint_out(bgr8, background.colour, flakes_like(bgr8, background, contrasts));
}

std::vector<Bgr> annotated_flake_contrasts(const coco::Dataset& dataset, const std::string& images_dir) {
  std::vector<Bgr> contrasts;
  static const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5});
  for (const coco::ImageInfo& info : dataset.images) {
    const std::string path = (fs::path(images_dir) / info.file_name).string();
    cv::Mat bgr8;
    BackgroundEstimate background;
    try {
      bgr8 = load_image(path);
      background = measure_background(bgr8);
    } catch (const Error& e) {
      spdlog::warn("{}: not used for the flake contrasts ({})", path, e.what());
      continue;
    }
    const ChannelMask measured = background.measured();
    for (const coco::Annotation* a : dataset.annotations_of(info.id)) {
      if (a->iscrowd || a->segmentation.height != bgr8.rows || a->segmentation.width != bgr8.cols) continue;
      cv::Mat mask;
      cv::erode(coco::decode(a->segmentation), mask, kernel);
      std::vector<cv::Point> pixels;
      cv::findNonZero(mask, pixels);
      if (pixels.size() < kMinFlakePixels) continue;
      Bgr c{};
      for (int ch = 0; ch < 3; ++ch) {
        if (!measured[ch]) continue;
        std::vector<float> values;
        values.reserve(pixels.size());
        for (const cv::Point& p : pixels)
          values.push_back(static_cast<float>(bgr8.at<cv::Vec3b>(p)[ch] / background.colour[ch] - 1.0));
        c[ch] = median(values);
      }
      contrasts.push_back(c);
    }
  }
  const auto norm = [](const Bgr& c) { return c[0] * c[0] + c[1] * c[1] + c[2] * c[2]; };
  std::sort(contrasts.begin(), contrasts.end(), [&](const Bgr& a, const Bgr& b) { return norm(a) < norm(b); });
  return contrasts;
}

FinetuningSource finetuning_source(const FinetuneData& data, cv::Size size, const AugmentOptions& augment,
                                   bool show_progress) {
  auto annotated = std::make_shared<CocoSource>(data.dataset, data.images_dir, size, augment);
  if (data.unlabelled_dirs.empty()) return {annotated, nullptr};

  synth::SynthConfig config = SyntheticSource::generator_config(size, augment.scale);
  // The generator takes a limited number: an even spread over the range, weakest to strongest.
  config.flake_contrasts = spread_evenly(annotated_flake_contrasts(data.dataset, data.images_dir),
                                         synth::SynthConfig::kMaxFlakeContrasts);
  if (config.flake_contrasts.empty())
    throw Error("--unlabelled: no annotated flake of at least " + std::to_string(kMinFlakePixels) +
                " pixels whose contrast can be measured, so there is nothing to draw on the unlabelled scans");
  config.real_background_share = 1.0;
  auto backgrounds = unlabelled_substrates(data.unlabelled_dirs, config.flake_contrasts, show_progress);
  spdlog::info("unlabelled scans: {} substrates, {} annotated flake contrasts, {:.0f} % of the samples synthetic",
               backgrounds->size(), config.flake_contrasts.size(), 100 * data.unlabelled_share);
  auto generator = std::make_shared<synth::Generator>(config, backgrounds);
  auto synthetic = std::make_shared<SyntheticSource>(generator, size, augment);
  return {std::make_shared<MixedSource>(annotated, synthetic, data.unlabelled_share), generator};
}

}  // namespace maskterial::segment
