#pragma once
// One entry point to train any classification head from annotated images: the shared data preparation,
// then the type's fit (GMM: one Gaussian per class; AMM / MLP: network training), then, given held-out
// images, a per-pixel accuracy report. What `maskterial train-classifier` and the server's jobs run.
#include <memory>
#include <optional>
#include <string>

#include "maskterial/classify/network_training.hpp"
#include "maskterial/classify/pixel_accuracy.hpp"
#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/classify/registry.hpp"
#include "maskterial/classify/training_data.hpp"
#include "maskterial/coco/dataset.hpp"

namespace maskterial {

struct ClassifierTrainingOptions {
  std::string type = kDefaultClassifierType;  // a classifier type of classify/registry.hpp
  TrainingDataOptions data;
  NetworkTrainingOptions network = NetworkTrainingOptions::defaults(NetworkClassifier::Head::Gda);

  // Defaults for a type (the MLP trains without spectral normalisation); throws Error on an unknown type.
  static ClassifierTrainingOptions defaults(const std::string& type);
};

struct AnnotatedImages {
  coco::Dataset dataset;   // file names relative to images_dir
  std::string images_dir;
};

struct ClassifierTrainingResult {
  std::shared_ptr<PixelClassifier> classifier;
  TrainingReport report;          // data preparation steps, skipped images
  TrainingCurves curves;          // networks only
  std::optional<PixelAccuracy> test_accuracy;  // with test images, at the classifier's default threshold
};

ClassifierTrainingResult train_classifier(const AnnotatedImages& train, const AnnotatedImages* test,
                                          const ClassifierTrainingOptions& options);

}  // namespace maskterial
