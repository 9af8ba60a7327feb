#include "maskterial/classify/pixel_accuracy.hpp"

#include <map>

namespace maskterial {

PixelAccuracy evaluate_pixels(const PixelClassifier& classifier, const ContrastSamples& samples, double threshold) {
  std::map<uint8_t, int64_t> label_of{{0, 0}};
  for (const auto& c : classifier.classes()) label_of[c.id] = category_label(c);
  const std::vector<uint8_t> predicted = classifier.classify_contrasts(samples.contrasts, threshold);
  PixelAccuracy result;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto it = label_of.find(predicted[i]);
    const int64_t label = it == label_of.end() ? 0 : it->second;
    const int64_t truth = samples.labels[i];
    ++result.samples;
    result.correct += label == truth;
    ++result.confusion[truth][label];
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
