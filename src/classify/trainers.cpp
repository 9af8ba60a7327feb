#include "maskterial/classify/trainers.hpp"

#include "maskterial/classify/gmm_fit.hpp"
#include "maskterial/classify/registry.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {

namespace {

ClassifierTrainer network_trainer(const std::string& type, NetworkClassifier::Head head) {
  return {type,
          [head](const ContrastSamples& train, const ContrastSamples* test, const NetworkTrainingOptions& network,
                 const TrainingDataOptions& data, TrainingCurves* curves) -> std::shared_ptr<PixelClassifier> {
            return train_network(head, train, test, network, data, curves);
          },
          [head] { return NetworkTrainingOptions::defaults(head); }};
}

}  // namespace

const std::vector<ClassifierTrainer>& classifier_trainers() {
  static const std::vector<ClassifierTrainer> trainers = {
      network_trainer("amm", NetworkClassifier::Head::Gda),
      network_trainer("mlp", NetworkClassifier::Head::Softmax),
      {"gmm",
       [](const ContrastSamples& train, const ContrastSamples*, const NetworkTrainingOptions&, const TrainingDataOptions&,
          TrainingCurves*) -> std::shared_ptr<PixelClassifier> { return std::make_shared<GmmClassifier>(fit_gmm(train)); },
       [] { return NetworkTrainingOptions::defaults(NetworkClassifier::Head::Gda); }},
  };
  return trainers;
}

const ClassifierTrainer& classifier_trainer(const std::string& type) {
  const std::string& name = classifier_type(type).name;  // an unknown type: the error lists the known ones
  for (const ClassifierTrainer& t : classifier_trainers())
    if (t.type == name) return t;
  throw Error("classifier type '" + name + "' has no trainer");
}

}  // namespace maskterial
