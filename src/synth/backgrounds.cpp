#include "maskterial/synth/backgrounds.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include "maskterial/image/io.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::synth {
namespace {

constexpr int kSmoothScale = 16;  // illumination is estimated on a 16x smaller image

}  // namespace

cv::Mat remove_flakes(const cv::Mat& bgr8, double threshold) {
  const Bgr background = estimate_background(bgr8);
  if (!has_valid_background(background)) return {};
  cv::Mat contrast = contrast_image(bgr8, background);
  // Smoothed first: sensor noise and JPEG blocks (~1 % per pixel) stay substrate, faint flakes (hBN's 1-2 %
  // over many pixels) do not.
  cv::GaussianBlur(contrast, contrast, {0, 0}, 1.5);
  std::vector<cv::Mat> channels;
  cv::split(cv::abs(contrast), channels);
  cv::Mat foreground = cv::max(cv::max(channels[0], channels[1]), channels[2]) > threshold;
  cv::dilate(foreground, foreground, cv::getStructuringElement(cv::MORPH_ELLIPSE, {9, 9}));
  return paint_out(bgr8, background, foreground);
}

cv::Mat paint_out(const cv::Mat& bgr8, const Bgr& background, const cv::Mat& foreground) {
  // Illumination without the flakes: substrate pixels averaged over coarse cells (flake pixels take the
  // global substrate colour so a cell full of flake still has a value), then blurred and scaled back up.
  cv::Mat substrate;
  bgr8.convertTo(substrate, CV_32FC3);
  substrate.setTo(cv::Scalar(background[0], background[1], background[2]), foreground);
  const cv::Size small_size(std::max(1, bgr8.cols / kSmoothScale), std::max(1, bgr8.rows / kSmoothScale));
  cv::Mat small;
  cv::resize(substrate, small, small_size, 0, 0, cv::INTER_AREA);
  cv::GaussianBlur(small, small, {0, 0}, 2.0);
  cv::Mat smooth;
  cv::resize(small, smooth, bgr8.size(), 0, 0, cv::INTER_LINEAR);
  cv::Mat out = bgr8.clone();
  cv::Mat smooth8;
  smooth.convertTo(smooth8, CV_8UC3);
  smooth8.copyTo(out, foreground);
  return out;
}

BackgroundLibrary::BackgroundLibrary(std::vector<cv::Mat> flake_free_bgr8) : images_(std::move(flake_free_bgr8)) {}

BackgroundLibrary BackgroundLibrary::load(const std::vector<std::string>& folders, double threshold) {
  std::vector<cv::Mat> images;
  for (const auto& path : list_images(folders)) {
    try {
      cv::Mat clean = remove_flakes(load_image(path), threshold);
      if (clean.empty()) {
        spdlog::warn("{}: no substrate colour found, not used as a background", path);
        continue;
      }
      images.push_back(std::move(clean));
    } catch (const Error& e) {
      spdlog::warn("{}", e.what());
    }
  }
  if (images.empty()) throw file_error(folders.empty() ? std::string("backgrounds") : folders.front(), "no usable background image");
  return BackgroundLibrary(std::move(images));
}

cv::Mat BackgroundLibrary::sample(Random& random, cv::Size size) const {
  const cv::Mat& source = images_[random.integer(0, static_cast<int>(images_.size()) - 1)];
  cv::Mat oriented;
  switch (random.integer(0, 3)) {
    case 0: oriented = source; break;
    case 1: cv::flip(source, oriented, 1); break;
    case 2: cv::flip(source, oriented, 0); break;
    default: cv::transpose(source, oriented); break;
  }
  // Mirror-tile until the crop fits (reflection keeps the illumination continuous across the seams).
  if (oriented.cols < size.width || oriented.rows < size.height) {
    const int extra_x = std::max(0, size.width - oriented.cols), extra_y = std::max(0, size.height - oriented.rows);
    cv::copyMakeBorder(oriented, oriented, 0, extra_y, 0, extra_x, cv::BORDER_REFLECT);
  }
  const int x = random.integer(0, oriented.cols - size.width), y = random.integer(0, oriented.rows - size.height);
  cv::Mat out;
  oriented(cv::Rect(x, y, size.width, size.height)).convertTo(out, CV_32FC3);
  return out;
}

cv::Mat synthetic_background(Random& random, cv::Size size, const Bgr& colour, const Illumination& illumination) {
  // Everything here varies slowly: build it on a coarse grid, then one bilinear upscale.
  const cv::Size small_size(std::max(2, size.width / kSmoothScale), std::max(2, size.height / kSmoothScale));
  cv::Mat small(small_size, CV_32FC3);
  const double vignetting = random.uniform(0.0, illumination.vignetting_max);  // relative drop at the corners
  const double cx = random.uniform(0.3, 0.7), cy = random.uniform(0.3, 0.7);
  const double gradient = random.uniform(0.0, illumination.gradient_max), gradient_angle = random.uniform(0, 2 * M_PI);
  const double gx = std::cos(gradient_angle) * gradient, gy = std::sin(gradient_angle) * gradient;
  cv::Mat unevenness(small_size, CV_32FC3);
  cv::RNG noise_rng(random.next());  // never cv::theRNG(): it is shared between threads
  noise_rng.fill(unevenness, cv::RNG::NORMAL, 0.0, 1.0);
  cv::GaussianBlur(unevenness, unevenness, {0, 0}, 3.0);
  const double uneven_amplitude = random.uniform(0.0, illumination.unevenness_max);
  for (int y = 0; y < small_size.height; ++y) {
    auto* row = small.ptr<cv::Vec3f>(y);
    const auto* noise = unevenness.ptr<cv::Vec3f>(y);
    const double v = (y + 0.5) / small_size.height;
    for (int x = 0; x < small_size.width; ++x) {
      const double u = (x + 0.5) / small_size.width;
      const double r2 = ((u - cx) * (u - cx) + (v - cy) * (v - cy)) / 0.5;
      const double light = (1.0 - vignetting * r2) * (1.0 + gx * (u - 0.5) + gy * (v - 0.5));
      for (int c = 0; c < 3; ++c)
        row[x][c] = static_cast<float>(colour[c] * light * (1.0 + uneven_amplitude * noise[x][c]));
    }
  }
  cv::Mat out;
  cv::resize(small, out, size, 0, 0, cv::INTER_LINEAR);
  return out;
}

}  // namespace maskterial::synth
