#include "maskterial/classify/network_training.hpp"

#include <chrono>
#include <map>
#include <random>

#include "maskterial/classify/fcresnet_trainer.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/json_fields.hpp"
#include "maskterial/util/progress.hpp"

namespace maskterial {
namespace {

torch::Tensor to_tensor(const std::vector<Contrast>& contrasts) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(contrasts.size()), 3}, torch::kFloat32);
  std::memcpy(t.data_ptr<float>(), contrasts.data(), contrasts.size() * sizeof(Contrast));
  return t;
}

// Mean and population std over the same number of samples from every class (the smallest class size), so a
// huge background class does not set the scale.
Standardisation balanced_standardisation(const std::vector<std::vector<Contrast>>& per_class, std::mt19937_64& rng) {
  size_t smallest = per_class.front().size();
  for (const auto& c : per_class) smallest = std::min(smallest, c.size());
  std::vector<Contrast> sample;
  for (auto c : per_class) {
    for (size_t i = c.size(); i > 1; --i) std::swap(c[i - 1], c[uniform_index(rng, i)]);  // Fisher-Yates
    sample.insert(sample.end(), c.begin(), c.begin() + static_cast<std::ptrdiff_t>(smallest));
  }
  Standardisation s;
  for (int ch = 0; ch < 3; ++ch) {
    double sum = 0, sum2 = 0;
    for (const auto& x : sample) sum += x[ch];
    const double mean = sum / sample.size();
    for (const auto& x : sample) sum2 += (x[ch] - mean) * (x[ch] - mean);
    s.mean[ch] = static_cast<float>(mean);
    s.std[ch] = static_cast<float>(std::sqrt(sum2 / sample.size()));
    if (!(s.std[ch] > 0)) s.std[ch] = 1.0f;  // a constant channel carries no information; keep it unscaled
  }
  return s;
}

}  // namespace

NetworkTrainingOptions NetworkTrainingOptions::defaults(NetworkClassifier::Head head) {
  NetworkTrainingOptions o;
  o.arch.spectral_normalization = head == NetworkClassifier::Head::Gda;
  return o;
}

void NetworkTrainingOptions::apply_config(const nlohmann::json& config, TrainingDataOptions& data,
                                          const std::string& source) {
  if (!config.is_object()) throw file_error(source, "config must be a JSON object");
  const nlohmann::json empty = nlohmann::json::object();
  const auto& train = config.contains("train_params") ? config.at("train_params") : empty;
  read_json_field(train, "num_iterations", iterations, source, "train_params");
  read_json_field(train, "learning_rate", learning_rate, source, "train_params");
  read_json_field(train, "batch_size", batch_size, source, "train_params");
  read_json_field(train, "test_interval", test_interval, source, "train_params");
  const auto& d = config.contains("data_params") ? config.at("data_params") : empty;
  int64_t per_class = static_cast<int64_t>(data.samples_per_class);
  read_json_field(d, "max_samples_per_class", per_class, source, "data_params");
  data.samples_per_class = per_class < 0 ? 0 : static_cast<size_t>(per_class);  // MaskTerial's -1: keep all
  read_json_field(d, "loaded_test_samples", data.max_eval_samples, source, "data_params");
  read_json_field(d, "uniform_class_sampling", uniform_class_sampling, source, "data_params");
  read_json_field(d, "use_normalization", standardise, source, "data_params");
  read_json_field(d, "use_DBSCAN", data.dbscan, source, "data_params");
  read_json_field(d, "DBSCAN_eps", data.dbscan_eps, source, "data_params");
  bool knn = data.knn_neighbors > 0;
  read_json_field(d, "use_Nearest_Neighbors", knn, source, "data_params");
  read_json_field(d, "neighbors", data.knn_neighbors, source, "data_params");
  if (!knn) data.knn_neighbors = 0;
  if (config.contains("model_arch")) arch = FCResNetOptions::from_json(config.at("model_arch"), source);
  if (iterations < 1 || batch_size < 1 || test_interval < 1 || !(learning_rate > 0))
    throw file_error(source, "train_params must be positive");
}

nlohmann::json NetworkTrainingOptions::to_config(const TrainingDataOptions& data) const {
  return {{"train_params", {{"num_iterations", iterations}, {"learning_rate", learning_rate},
                            {"loss_function", "CrossEntropyLoss"}, {"test_interval", test_interval},
                            {"batch_size", batch_size}}},
          {"data_params", {{"max_samples_per_class", data.samples_per_class},
                           {"loaded_test_samples", data.max_eval_samples},
                           {"uniform_class_sampling", uniform_class_sampling},
                           {"use_normalization", standardise}, {"use_DBSCAN", data.dbscan},
                           {"DBSCAN_eps", data.dbscan_eps}, {"use_Nearest_Neighbors", data.knn_neighbors > 0},
                           {"neighbors", data.knn_neighbors}}},
          {"model_arch", arch.to_json()},
          {"seed", seed}};
}

nlohmann::json TrainingCurves::to_json() const {
  return {{"iteration", iteration}, {"train_loss", train_loss}, {"test_loss", test_loss},
          {"test_accuracy", test_accuracy}};
}

std::shared_ptr<NetworkClassifier> train_network(NetworkClassifier::Head head, const ContrastSamples& train,
                                                 const ContrastSamples* test, const NetworkTrainingOptions& options,
                                                 const TrainingDataOptions& data_options, TrainingCurves* curves_out) {
  const auto start = std::chrono::steady_clock::now();
  // Classes in ascending label order; output k of the network is class output_ids[k].
  std::map<int64_t, std::vector<Contrast>> by_label;
  for (size_t i = 0; i < train.size(); ++i) by_label[train.labels[i]].push_back(train.contrasts[i]);
  if (by_label.size() < 2) throw Error("training needs at least two classes (background and one layer class)");
  std::vector<uint8_t> output_ids;
  std::vector<std::vector<Contrast>> per_class;
  std::map<int64_t, int64_t> index_of;
  for (auto& [label, samples] : by_label) {
    if (label < 0 || label > 255) throw Error("class ids must lie in 0..255, got " + std::to_string(label));
    if (samples.size() < 2) throw Error("class " + std::to_string(label) + " has fewer than 2 training samples");
    index_of[label] = static_cast<int64_t>(output_ids.size());
    output_ids.push_back(static_cast<uint8_t>(label));
    per_class.push_back(std::move(samples));
  }
  const int64_t k = static_cast<int64_t>(output_ids.size());

  std::mt19937_64 rng(options.seed);
  torch::manual_seed(options.seed);
  const Standardisation standardisation = options.standardise ? balanced_standardisation(per_class, rng) : Standardisation{};
  const auto mean = torch::tensor(torch::ArrayRef<float>(standardisation.mean.data(), 3));
  const auto std = torch::tensor(torch::ArrayRef<float>(standardisation.std.data(), 3));
  std::vector<torch::Tensor> class_data;
  for (const auto& c : per_class) class_data.push_back((to_tensor(c) - mean) / std);
  const torch::Tensor all_data = torch::cat(class_data);
  std::vector<int64_t> all_labels_v;
  for (int64_t c = 0; c < k; ++c) all_labels_v.insert(all_labels_v.end(), class_data[c].size(0), c);
  const torch::Tensor all_labels = torch::tensor(all_labels_v, torch::kInt64);

  torch::Tensor test_x, test_y;
  if (test && test->size() > 0) {
    std::vector<Contrast> xs;
    std::vector<int64_t> ys;
    for (size_t i = 0; i < test->size(); ++i) {
      const auto it = index_of.find(test->labels[i]);
      if (it == index_of.end()) continue;  // a class the network cannot output has no loss
      xs.push_back(test->contrasts[i]);
      ys.push_back(it->second);
    }
    if (!xs.empty()) test_x = (to_tensor(xs) - mean) / std, test_y = torch::tensor(ys, torch::kInt64);
  }

  FCResNetOptions arch = options.arch;
  arch.num_classes = static_cast<int>(k);
  FCResNet net(arch);
  // Steps run in FCResNetTrainer (same math as net's autograd, without its per-operation overhead); the
  // module gets the weights back for the test curves and at the end.
  FCResNetTrainer trainer(net, options.learning_rate, options.seed);
  const float* data = all_data.data_ptr<float>();
  const int64_t* labels = all_labels.data_ptr<int64_t>();
  TrainingCurves curves;
  ProgressBar progress(static_cast<size_t>(options.iterations), head == NetworkClassifier::Head::Gda ? "train amm" : "train mlp",
                       options.show_progress);
  const int64_t per_class_batch = std::max<int64_t>(1, options.batch_size / k);
  std::vector<int64_t> batch_index(static_cast<size_t>(options.uniform_class_sampling ? per_class_batch * k : options.batch_size));
  std::vector<int64_t> offsets{0};
  for (const auto& c : class_data) offsets.push_back(offsets.back() + c.size(0));

  for (int it = 0; it < options.iterations; ++it) {
    // Same number of samples from every class (with replacement): rare layer classes weigh as much as
    // the background.
    size_t n = 0;
    if (options.uniform_class_sampling) {
      for (int64_t c = 0; c < k; ++c) {
        const uint64_t size = static_cast<uint64_t>(offsets[c + 1] - offsets[c]);
        for (int64_t j = 0; j < per_class_batch; ++j) batch_index[n++] = offsets[c] + static_cast<int64_t>(uniform_index(rng, size));
      }
    } else {
      for (auto& i : batch_index) i = static_cast<int64_t>(uniform_index(rng, static_cast<uint64_t>(all_data.size(0))));
    }
    const bool record = it % options.test_interval == 0 || it + 1 == options.iterations;
    const double train_loss = trainer.step(data, labels, batch_index.data(), batch_index.size(), record);

    if (record) {
      curves.iteration.push_back(it);
      curves.train_loss.push_back(train_loss);
      char status[96];
      std::snprintf(status, sizeof status, "loss %.4f", train_loss);
      if (test_x.defined()) {
        torch::NoGradGuard no_grad;
        trainer.copy_to(net);
        net->eval();
        const torch::Tensor logits = net->forward(test_x);
        const double test_loss = torch::nn::functional::cross_entropy(logits, test_y).item<double>();
        const double accuracy = logits.argmax(1).eq(test_y).to(torch::kFloat64).mean().item<double>();
        curves.test_loss.push_back(test_loss);
        curves.test_accuracy.push_back(accuracy);
        std::snprintf(status, sizeof status, "loss %.4f test %.4f acc %.3f", train_loss, test_loss, accuracy);
      }
      progress.advance(0, status);
    }
    progress.advance(1);
    if (options.on_iteration && ((it + 1) % 50 == 0 || it + 1 == options.iterations))
      options.on_iteration(it + 1, options.iterations);
  }
  trainer.copy_to(net);
  progress.finish();
  net->eval();

  torch::Tensor loc, cov;
  if (head == NetworkClassifier::Head::Gda) {
    // Gaussian discriminant analysis on the embeddings of all training samples.
    torch::NoGradGuard no_grad;
    const torch::Tensor embedding = net->embed(all_data);
    std::vector<torch::Tensor> means, covariances;
    for (int64_t c = 0; c < k; ++c) {
      const torch::Tensor e = embedding.narrow(0, offsets[c], offsets[c + 1] - offsets[c]);
      const torch::Tensor mu = e.mean(0);
      const torch::Tensor centred = e - mu;
      means.push_back(mu);
      covariances.push_back(centred.t().mm(centred) / static_cast<double>(e.size(0) - 1));
    }
    loc = torch::stack(means);
    cov = torch::stack(covariances);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Each class's mean contrast stands in for a channel an image cannot measure (NetworkClassifier::classify).
  nlohmann::json class_means = nlohmann::json::array();
  for (const auto& c : per_class) {
    std::array<double, 3> sum{};
    for (const Contrast& x : c)
      for (int i = 0; i < 3; ++i) sum[i] += x[i];
    class_means.push_back({sum[0] / c.size(), sum[1] / c.size(), sum[2] / c.size()});
  }
  // Which channels the training data measured for each class: the others were imputed (impute_unmeasured).
  nlohmann::json coverage = nlohmann::json::array();
  for (uint8_t id : output_ids) {
    const auto it = train.channel_coverage.find(id);
    coverage.push_back(it == train.channel_coverage.end() ? std::array<double, 3>{1, 1, 1} : it->second);
  }
  nlohmann::json training = {{"config", options.to_config(data_options)},
                             {"curves", curves.to_json()},
                             {"train_samples", train.size()},
                             {"class_contrast_means", class_means},
                             {"class_channel_coverage", coverage},
                             {"seconds", seconds}};
  if (curves_out) *curves_out = curves;
  return std::make_shared<NetworkClassifier>(head, net, standardisation, output_ids, loc, cov, training);
}

}  // namespace maskterial
