#pragma once
// MaskTerial's training augmentations (maskterial/utils/model_trainer.py): geometric ones move image and
// masks together (resize, random crop, flips), value ones touch the image only (channel drop and shuffle,
// white balance, blur, Gaussian noise, contrast, brightness, salt-and-pepper). Two sets: fine-tuning on a few
// real images (mild) and pretraining on synthetic ones (strong colour changes, so the network stops relying on
// one material's colours).
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/synth/random.hpp"

namespace maskterial::segment {

// One training image and its instances.
struct TrainingSample {
  cv::Mat image;                // CV_8UC3, BGR
  std::vector<cv::Mat> masks;   // CV_8U, 0/1, image size
  std::vector<int64_t> labels;  // class per mask
};

struct AugmentOptions {
  double scale = 1.0;                 // fixed resize first: the model's inference scale, so objects keep their size
  double resize_probability = 0.5;    // then a random resize by a factor in [resize_min, resize_max]
  double resize_min = 0.9, resize_max = 1.1;
  // Share of crops placed so that a random instance lies inside: few-shot real images hold a handful of
  // small flakes, and uniformly placed crops would mostly show bare substrate (no mask signal at all).
  double instance_crop_probability = 0;
  double flip_probability = 0.5;      // horizontal and vertical, each
  double channel_drop_probability = 0;   // per image; each channel then dropped with channel_drop_rate
  double channel_drop_rate = 0.1;
  double channel_shuffle_probability = 0;
  double white_balance_min = 1, white_balance_max = 1;  // per-channel gain
  double blur_probability = 0.5;
  int blur_max_half_kernel = 1;       // Gaussian kernel sides 2k + 1, k in [0, max] for each axis
  double noise_probability = 0.5;
  double noise_max_sigma = 5;         // 8-bit levels, sigma uniform in [0, max]
  double contrast_min = 0.8, contrast_max = 1.2;      // blend with the image mean
  double brightness_min = 0.8, brightness_max = 1.2;  // gain
  double salt_pepper_probability = 0.5;
  double salt_pepper_max_rate = 0.05;  // fraction of pixels set to 0 and, as many, to 255

  static AugmentOptions finetuning();   // MaskTerial's fine-tuning set
  static AugmentOptions pretraining();  // MaskTerial's pretraining set
  nlohmann::json to_json() const;
};

// A crop of `size` (padded with gray 128 / empty mask where the image is smaller) of the augmented sample.
// Instances left without a pixel are dropped. Deterministic for a given `random` state.
TrainingSample augment(const TrainingSample& sample, cv::Size size, const AugmentOptions& options, synth::Random& random);

}  // namespace maskterial::segment
