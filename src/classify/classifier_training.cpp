#include "maskterial/classify/classifier_training.hpp"

#include <chrono>

#include "maskterial/classify/trainers.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {

ClassifierTrainingOptions ClassifierTrainingOptions::defaults(const std::string& type) {
  ClassifierTrainingOptions o;
  const ClassifierTrainer& trainer = classifier_trainer(type);
  o.type = trainer.type;
  o.network = trainer.network_defaults();
  return o;
}

ClassifierTrainingResult train_classifier(const AnnotatedImages& train, const AnnotatedImages* test,
                                          const ClassifierTrainingOptions& options) {
  ClassifierTrainingResult result;
  TrainingData data = prepare_training_data(train.dataset, train.images_dir, options.data);
  std::optional<TrainingData> test_data;
  if (test) test_data = prepare_evaluation_data(test->dataset, test->images_dir, options.data);

  const auto start = std::chrono::steady_clock::now();
  NetworkTrainingOptions network = options.network;
  network.seed = options.data.seed;
  network.show_progress = options.data.show_progress;
  result.classifier = classifier_trainer(options.type)
                          .fit(data.samples, test_data ? &test_data->samples : nullptr, network, options.data,
                               &result.curves);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto counts = data.samples.class_counts();
  data.report.steps.push_back({"fit", counts, seconds});
  data.report.total_seconds += seconds;
  result.report = std::move(data.report);
  if (test_data)
    result.test_accuracy =
        evaluate_pixels(*result.classifier, test_data->samples, result.classifier->default_threshold());
  return result;
}

}  // namespace maskterial
