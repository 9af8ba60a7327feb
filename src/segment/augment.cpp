#include "maskterial/segment/augment.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace maskterial::segment {
namespace {

void resize_all(TrainingSample& s, double factor) {
  if (factor == 1.0) return;
  const cv::Size size(std::max(1, static_cast<int>(s.image.cols * factor)), std::max(1, static_cast<int>(s.image.rows * factor)));
  cv::resize(s.image, s.image, size, 0, 0, factor < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  for (cv::Mat& m : s.masks) cv::resize(m, m, size, 0, 0, cv::INTER_NEAREST);
}

// Crop origins [lo, hi] along one axis that keep [first, last] inside; centred when it does not fit.
std::pair<int, int> origins_covering(int first, int last, int crop, int extent) {
  const int lo = std::max(0, last - crop + 1), hi = std::min(extent - crop, first);
  if (lo <= hi) return {lo, hi};
  const int centred = std::clamp((first + last + 1 - crop) / 2, 0, extent - crop);
  return {centred, centred};
}

void crop_all(TrainingSample& s, cv::Size size, bool around_instance, synth::Random& random) {
  int x = s.image.cols > size.width ? random.integer(0, s.image.cols - size.width) : 0;
  int y = s.image.rows > size.height ? random.integer(0, s.image.rows - size.height) : 0;
  if (around_instance && !s.masks.empty()) {
    const cv::Rect box = cv::boundingRect(s.masks[static_cast<size_t>(random.integer(0, static_cast<int>(s.masks.size()) - 1))]);
    if (!box.empty()) {
      if (s.image.cols > size.width) {
        const auto [lo, hi] = origins_covering(box.x, box.x + box.width - 1, size.width, s.image.cols);
        x = random.integer(lo, hi);
      }
      if (s.image.rows > size.height) {
        const auto [lo, hi] = origins_covering(box.y, box.y + box.height - 1, size.height, s.image.rows);
        y = random.integer(lo, hi);
      }
    }
  }
  const cv::Rect roi(x, y, std::min(size.width, s.image.cols), std::min(size.height, s.image.rows));
  auto crop = [&](const cv::Mat& m, const cv::Scalar& fill) {
    cv::Mat out(size, m.type(), fill);
    m(roi).copyTo(out(cv::Rect(0, 0, roi.width, roi.height)));
    return out;
  };
  s.image = crop(s.image, cv::Scalar::all(128));
  for (cv::Mat& m : s.masks) m = crop(m, cv::Scalar::all(0));
}

void flip_all(TrainingSample& s, int code) {
  cv::flip(s.image, s.image, code);
  for (cv::Mat& m : s.masks) cv::flip(m, m, code);
}

// Per-channel gains and offsets in float, then rounded and clipped.
void channel_gains(cv::Mat& image, const std::array<double, 3>& gain) {
  std::vector<cv::Mat> channels;
  cv::split(image, channels);
  for (int c = 0; c < 3; ++c) channels[c].convertTo(channels[c], CV_8U, gain[c]);
  cv::merge(channels, image);
}

void colour_changes(cv::Mat& image, const AugmentOptions& o, synth::Random& random) {
  if (random.chance(o.channel_drop_probability)) {
    std::array<bool, 3> drop{};
    int dropped = 0;
    for (bool& d : drop) dropped += (d = random.chance(o.channel_drop_rate));
    if (dropped == 3) drop[random.integer(0, 2)] = false;  // keep at least one channel
    const int value = random.chance(0.5) ? 255 : 0;
    std::vector<cv::Mat> channels;
    cv::split(image, channels);
    for (int c = 0; c < 3; ++c)
      if (drop[c]) channels[c].setTo(value);
    cv::merge(channels, image);
  }
  if (random.chance(o.channel_shuffle_probability)) {
    std::array<int, 3> order{0, 1, 2};
    for (int i = 2; i > 0; --i) std::swap(order[i], order[random.integer(0, i)]);
    std::vector<cv::Mat> channels, shuffled(3);
    cv::split(image, channels);
    for (int c = 0; c < 3; ++c) shuffled[c] = channels[order[c]];
    cv::merge(shuffled, image);
  }
  if (o.white_balance_min != 1 || o.white_balance_max != 1) {
    std::array<double, 3> gain{};
    for (double& g : gain) g = random.uniform(o.white_balance_min, o.white_balance_max);
    channel_gains(image, gain);
  }
}

void blur_and_noise(cv::Mat& image, const AugmentOptions& o, synth::Random& random) {
  if (random.chance(o.blur_probability)) {
    const int kx = 2 * random.integer(0, o.blur_max_half_kernel) + 1;
    const int ky = 2 * random.integer(0, o.blur_max_half_kernel) + 1;
    if (kx > 1 || ky > 1) cv::GaussianBlur(image, image, cv::Size(kx, ky), 0);
  }
  if (random.chance(o.noise_probability)) {
    const double sigma = random.uniform(0, o.noise_max_sigma);
    cv::Mat noise(image.size(), CV_32FC3);
    cv::RNG rng(random.next());
    rng.fill(noise, cv::RNG::NORMAL, 0.0, sigma);
    cv::Mat sum;
    image.convertTo(sum, CV_32FC3);
    sum += noise;
    sum.convertTo(image, CV_8UC3);
  }
}

void contrast_and_brightness(cv::Mat& image, const AugmentOptions& o, synth::Random& random) {
  const double contrast = random.uniform(o.contrast_min, o.contrast_max);
  const double brightness = random.uniform(o.brightness_min, o.brightness_max);
  const cv::Scalar m = cv::mean(image);
  const double mean = (m[0] + m[1] + m[2]) / 3.0;  // one gray level for the whole image
  // ((x - mean) * contrast + mean) * brightness in one affine map.
  image.convertTo(image, CV_8U, contrast * brightness, (1.0 - contrast) * mean * brightness);
}

void salt_and_pepper(cv::Mat& image, const AugmentOptions& o, synth::Random& random) {
  if (!random.chance(o.salt_pepper_probability)) return;
  const double rate = random.uniform(0, o.salt_pepper_max_rate);
  if (rate <= 0) return;
  cv::Mat u(image.size(), CV_32F);
  cv::RNG rng(random.next());
  rng.fill(u, cv::RNG::UNIFORM, 0.0, 1.0);
  image.setTo(cv::Scalar::all(0), u < rate);
  image.setTo(cv::Scalar::all(255), u > 1.0 - rate);
}

}  // namespace

AugmentOptions AugmentOptions::finetuning() {
  AugmentOptions o;
  o.instance_crop_probability = 0.8;
  return o;
}

AugmentOptions AugmentOptions::pretraining() {
  AugmentOptions o;
  o.channel_drop_probability = 0.5;
  o.channel_shuffle_probability = 0.5;
  o.white_balance_min = 0.7;
  o.white_balance_max = 1.3;
  o.blur_max_half_kernel = 2;
  o.noise_max_sigma = 20;
  return o;
}

nlohmann::json AugmentOptions::to_json() const {
  return {{"scale", scale},
          {"resize_probability", resize_probability}, {"resize_min", resize_min}, {"resize_max", resize_max},
          {"instance_crop_probability", instance_crop_probability}, {"flip_probability", flip_probability},
          {"channel_drop_probability", channel_drop_probability}, {"channel_drop_rate", channel_drop_rate},
          {"channel_shuffle_probability", channel_shuffle_probability},
          {"white_balance_min", white_balance_min}, {"white_balance_max", white_balance_max},
          {"blur_probability", blur_probability}, {"blur_max_half_kernel", blur_max_half_kernel},
          {"noise_probability", noise_probability}, {"noise_max_sigma", noise_max_sigma},
          {"contrast_min", contrast_min}, {"contrast_max", contrast_max},
          {"brightness_min", brightness_min}, {"brightness_max", brightness_max},
          {"salt_pepper_probability", salt_pepper_probability}, {"salt_pepper_max_rate", salt_pepper_max_rate}};
}

TrainingSample augment(const TrainingSample& sample, cv::Size size, const AugmentOptions& options, synth::Random& random) {
  TrainingSample s{sample.image.clone(), {}, sample.labels};
  for (const cv::Mat& m : sample.masks) s.masks.push_back(m.clone());
  double factor = options.scale;
  if (random.chance(options.resize_probability)) factor *= random.uniform(options.resize_min, options.resize_max);
  resize_all(s, factor);
  const bool around_instance = options.instance_crop_probability > 0 && random.chance(options.instance_crop_probability);
  crop_all(s, size, around_instance, random);
  if (random.chance(options.flip_probability)) flip_all(s, 1);
  if (random.chance(options.flip_probability)) flip_all(s, 0);
  colour_changes(s.image, options, random);
  blur_and_noise(s.image, options, random);
  contrast_and_brightness(s.image, options, random);
  salt_and_pepper(s.image, options, random);

  TrainingSample out{s.image, {}, {}};
  for (size_t i = 0; i < s.masks.size(); ++i) {
    if (cv::countNonZero(s.masks[i]) == 0) continue;
    out.masks.push_back(s.masks[i]);
    out.labels.push_back(s.labels[i]);
  }
  return out;
}

}  // namespace maskterial::segment
