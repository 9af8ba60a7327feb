#pragma once
// Training of the AMM and MLP heads, as MaskTerial's train_AMM_head / train_MLP_head: prepared contrast
// samples (see training_data.hpp) are standardised with a mean/std from a class-balanced sample, batches
// draw the same number of samples from every class, Adam minimises cross-entropy; then, for the AMM,
// Gaussian discriminant analysis fits one Gaussian (mean, unbiased full covariance) per class, background
// included, to the embeddings of all training samples. Deterministic per seed.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/classify/network_classifier.hpp"
#include "maskterial/classify/training_data.hpp"

namespace maskterial {

struct NetworkTrainingOptions {
  int iterations = 5000;
  double learning_rate = 0.01;
  int batch_size = 10000;
  int test_interval = 100;            // iterations between loss / accuracy records
  bool uniform_class_sampling = true;  // else batches sample all training data uniformly
  bool standardise = true;
  FCResNetOptions arch;               // num_classes is set from the data
  uint64_t seed = 0;
  bool show_progress = true;
  std::function<void(int done, int total)> on_iteration;  // optional, e.g. a server job's progress

  // The defaults of MaskTerial's configs/AMM and configs/MLP (the MLP has no spectral normalisation).
  static NetworkTrainingOptions defaults(NetworkClassifier::Head head);
  // Overrides from a MaskTerial-style config {"train_params", "data_params", "model_arch"}; data_params go
  // to `data`. Unknown keys are ignored, wrongly typed ones throw Error naming the source.
  void apply_config(const nlohmann::json& config, TrainingDataOptions& data, const std::string& source_name);
  nlohmann::json to_config(const TrainingDataOptions& data) const;
};

struct TrainingCurves {
  std::vector<int> iteration;
  std::vector<double> train_loss;
  std::vector<double> test_loss;      // empty without test data
  std::vector<double> test_accuracy;  // argmax of the network's logits, per pixel
  nlohmann::json to_json() const;
};

// Trains on prepared samples (label 0 = background; at most 255 classes). test may be null. The returned
// classifier carries the config, curves and timing in its "training" metadata.
std::shared_ptr<NetworkClassifier> train_network(NetworkClassifier::Head head, const ContrastSamples& train,
                                                 const ContrastSamples* test, const NetworkTrainingOptions& options,
                                                 const TrainingDataOptions& data_options,
                                                 TrainingCurves* curves = nullptr);

}  // namespace maskterial
