#pragma once
// Per-pixel accuracy of a classifier on held-out contrast samples: what `train-gmm --test-*` reports.
#include <cstdint>
#include <map>

#include <nlohmann/json.hpp>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/classify/training_data.hpp"

namespace maskterial {

struct PixelAccuracy {
  size_t samples = 0;
  size_t correct = 0;                                    // predicted label == true label (0 = background/none)
  std::map<int64_t, std::map<int64_t, size_t>> confusion;  // true label -> predicted label -> count
  double accuracy() const { return samples ? static_cast<double>(correct) / samples : 0.0; }
  nlohmann::json to_json() const;  // accuracy, per-class recall, confusion
};

// A sample is predicted by the classifier at the threshold (0 = background / unknown), mapped to dataset
// labels with category_label.
PixelAccuracy evaluate_pixels(const PixelClassifier& classifier, const ContrastSamples& samples,
                              double threshold);

}  // namespace maskterial
