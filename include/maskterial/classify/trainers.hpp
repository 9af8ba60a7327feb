#pragma once
// The trainer of each classifier type (classify/registry.hpp), registered once by the training library.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "maskterial/classify/network_training.hpp"
#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/classify/training_data.hpp"

namespace maskterial {

struct ClassifierTrainer {
  std::string type;  // a registered classifier type
  // Fits a classifier to prepared samples (test: held-out samples for curves, or null); network: the
  // network options (network types only), curves filled by network types.
  std::function<std::shared_ptr<PixelClassifier>(const ContrastSamples& train, const ContrastSamples* test,
                                                 const NetworkTrainingOptions& network,
                                                 const TrainingDataOptions& data, TrainingCurves* curves)>
      fit;
  // The type's default network options (ignored by types without a network).
  std::function<NetworkTrainingOptions()> network_defaults;
};

const std::vector<ClassifierTrainer>& classifier_trainers();
// Throws Error listing the known types when `type` is none of them.
const ClassifierTrainer& classifier_trainer(const std::string& type);

}  // namespace maskterial
