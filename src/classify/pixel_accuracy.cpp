#include "maskterial/classify/pixel_accuracy.hpp"

#include <string>

namespace maskterial {
namespace {

int64_t label_of(const GaussianClass& c, size_t index) {
  try {
    size_t used = 0;
    const long long v = std::stoll(c.name, &used);
    if (used == c.name.size()) return v;
  } catch (const std::exception&) {
  }
  return static_cast<int64_t>(index) + 1;
}

}  // namespace

PixelAccuracy evaluate_pixels(const GmmClassifier& classifier, const ContrastSamples& samples,
                              double std_threshold) {
  PixelAccuracy result;
  const auto& classes = classifier.classes();
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto& c = samples.contrasts[i];
    const std::array<double, 3> x{c[0], c[1], c[2]};
    double best = std_threshold;
    int64_t predicted = 0;
    for (size_t k = 0; k < classes.size(); ++k) {
      const double d = classifier.distance(x, k);
      if (d < best) {
        best = d;
        predicted = label_of(classes[k], k);
      }
    }
    const int64_t truth = samples.labels[i];
    ++result.samples;
    result.correct += predicted == truth;
    ++result.confusion[truth][predicted];
  }
  return result;
}

nlohmann::json PixelAccuracy::to_json() const {
  nlohmann::json recall = nlohmann::json::object(), confusion_json = nlohmann::json::object();
  for (const auto& [truth, row] : confusion) {
    size_t total = 0;
    for (const auto& [predicted, n] : row) {
      total += n;
      confusion_json[std::to_string(truth)][std::to_string(predicted)] = n;
    }
    const auto hit = row.find(truth);
    recall[std::to_string(truth)] = total ? static_cast<double>(hit == row.end() ? 0 : hit->second) / total : 0.0;
  }
  return {{"samples", samples}, {"accuracy", accuracy()}, {"recall_per_class", recall},
          {"confusion", confusion_json}};
}

}  // namespace maskterial
