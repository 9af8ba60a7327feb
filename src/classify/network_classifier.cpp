#include "maskterial/classify/network_classifier.hpp"

#include <algorithm>
#include <filesystem>
#include <limits>

#include "maskterial/image/unique_colours.hpp"
#include "maskterial/serialize/npy.hpp"
#include "maskterial/serialize/state_dict.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kChunk = 1 << 16;  // contrasts per network call: bounds memory, keeps GEMMs efficient

std::array<float, 3> read_triple(const nlohmann::json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || !j.at(key).is_array() || j.at(key).size() != 3)
    throw file_error(source, std::string("'") + key + "' must be a list of 3 numbers");
  std::array<float, 3> out{};
  for (int i = 0; i < 3; ++i) {
    if (!j.at(key)[i].is_number()) throw file_error(source, std::string("'") + key + "' must hold numbers");
    out[i] = j.at(key)[i].get<float>();
  }
  return out;
}

// The architecture the meta data claims must be the one the weights hold, checked before the network is built:
// its sizes then cost no more memory than the weights file itself (a 17 kB upload claiming embedding_dim 8192
// must not allocate a gigabyte first).
void check_architecture(const FCResNetOptions& arch, const StateDict& dict, const std::string& source) {
  const std::string weight = arch.spectral_normalization ? ".weight_orig" : ".weight";
  const auto expect = [&](const std::string& name, std::vector<int64_t> sizes) {
    if (find_tensor(dict, name, source).sizes() != torch::IntArrayRef(sizes))
      throw file_error(source, "tensor '" + name + "' does not have the shape the meta data's model_arch gives it (" +
                                   arch.to_json().dump() + ")");
  };
  expect("first" + weight, {arch.embedding_dim, arch.input_dim});
  expect("last.weight", {arch.num_classes, arch.embedding_dim});
  int blocks = 0;
  for (const auto& [name, tensor] : dict)
    if (name.rfind("residuals.", 0) == 0 && name.size() > weight.size() &&
        name.compare(name.size() - weight.size(), weight.size(), weight) == 0)
      ++blocks;
  if (blocks != arch.depth)
    throw file_error(source, "holds " + std::to_string(blocks) + " residual blocks, the meta data's model_arch says depth " +
                                 std::to_string(arch.depth));
}

// Copies every parameter and buffer of the network from the state dict, checking names and shapes.
void load_weights(FCResNet& net, const StateDict& dict, const std::string& source) {
  torch::NoGradGuard no_grad;
  const auto copy = [&](const std::string& name, torch::Tensor& target) {
    const torch::Tensor& value = find_tensor(dict, name, source);
    if (value.sizes() != target.sizes())
      throw file_error(source, "tensor '" + name + "' has the wrong shape for the model architecture");
    target.copy_(value.to(torch::kFloat32));
  };
  for (auto& p : net->named_parameters(true)) copy(p.key(), p.value());
  for (auto& b : net->named_buffers(true)) copy(b.key(), b.value());
}

StateDict weights_of(const FCResNet& net) {
  StateDict out;
  for (const auto& p : net->named_parameters(true)) out.emplace_back(p.key(), p.value().detach().clone());
  for (const auto& b : net->named_buffers(true)) out.emplace_back(b.key(), b.value().detach().clone());
  return out;
}

torch::Tensor contrast_tensor(const std::vector<std::array<float, 3>>& contrasts) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(contrasts.size()), 3}, torch::kFloat32);
  std::memcpy(t.data_ptr<float>(), contrasts.data(), contrasts.size() * sizeof(contrasts[0]));
  return t;
}

}  // namespace

NetworkClassifier::NetworkClassifier(Head head, FCResNet net, Standardisation standardisation,
                                     std::vector<uint8_t> output_ids, torch::Tensor loc, torch::Tensor cov,
                                     nlohmann::json training)
    : head_(head), net_(std::move(net)), standardisation_(standardisation), output_ids_(std::move(output_ids)),
      loc_(std::move(loc)), cov_(std::move(cov)), training_(std::move(training)) {
  const auto& arch = net_->options();
  const int64_t k = arch.num_classes, e = arch.embedding_dim;
  if (static_cast<int64_t>(output_ids_.size()) != k)
    throw Error("classifier: " + std::to_string(output_ids_.size()) + " class ids for " + std::to_string(k) +
                " network outputs");
  if (arch.input_dim != 3) throw Error("classifier: the network must take 3 contrast channels");
  for (float s : standardisation_.std)
    if (!(s > 0)) throw Error("classifier: standardisation std must be positive");
  for (uint8_t id : output_ids_)
    if (id != 0) classes_.push_back({id, std::to_string(id)});
  if (classes_.empty()) throw Error("classifier: no class besides background");
  class_contrast_means_.assign(output_ids_.size(), {0.0f, 0.0f, 0.0f});
  const nlohmann::json means = training_.is_object() ? training_.value("class_contrast_means", nlohmann::json())
                                                     : nlohmann::json();
  if (!means.is_null()) {
    if (!means.is_array() || means.size() != output_ids_.size())
      throw Error("classifier: class_contrast_means must hold one (B, G, R) triple per network output");
    for (size_t i = 0; i < means.size(); ++i) {
      if (!means[i].is_array() || means[i].size() != 3)
        throw Error("classifier: class_contrast_means must hold one (B, G, R) triple per network output");
      for (int c = 0; c < 3; ++c) class_contrast_means_[i][c] = means[i][c].get<float>();
    }
  }
  class_channels_.assign(output_ids_.size(), kAllChannels);
  const nlohmann::json coverage = training_.is_object()
                                      ? training_.value("class_channel_coverage", nlohmann::json())
                                      : nlohmann::json();
  if (!coverage.is_null()) {
    const std::string expected = "classifier: class_channel_coverage must hold one (B, G, R) triple per network output";
    if (!coverage.is_array() || coverage.size() != output_ids_.size()) throw Error(expected);
    for (size_t i = 0; i < coverage.size(); ++i) {
      if (!coverage[i].is_array() || coverage[i].size() != 3) throw Error(expected);
      class_channels_[i] = measured_channels(coverage[i].get<std::array<double, 3>>());
    }
  }
  net_->eval();
  if (head_ == Head::Gda) {
    if (!loc_.defined() || !cov_.defined() || loc_.sizes() != torch::IntArrayRef({k, e}) ||
        cov_.sizes() != torch::IntArrayRef({k, e, e}))
      throw Error("classifier: class means must be " + std::to_string(k) + "x" + std::to_string(e) +
                  " and covariances " + std::to_string(k) + "x" + std::to_string(e) + "x" + std::to_string(e));
    loc_ = loc_.to(torch::kFloat32).contiguous();
    cov_ = cov_.to(torch::kFloat32).contiguous();
    const auto [cholesky, info] =
        torch::linalg_cholesky_ex(cov_ + kCovarianceRegularisation * torch::eye(e, torch::kFloat32));
    if (info.nonzero().numel() > 0)
      throw Error("classifier: a class covariance is not positive definite (class index " +
                  std::to_string(info.nonzero()[0].item<int64_t>()) + ")");
    const torch::Tensor inv = torch::linalg_inv(cholesky);  // K×E×E, rows j, columns i
    whiten_weight_ = inv.permute({2, 0, 1}).reshape({e, k * e}).contiguous();
    whiten_bias_ = torch::einsum("kji,ki->kj", {inv, loc_}).reshape({k * e}).contiguous();
  }
}

double NetworkClassifier::default_threshold() const {
  return head_ == Head::Gda ? 10.0 : std::numeric_limits<double>::infinity();
}

torch::Tensor NetworkClassifier::embed(const torch::Tensor& contrasts) const {
  torch::NoGradGuard no_grad;
  const auto mean = torch::tensor(torch::ArrayRef<float>(standardisation_.mean.data(), 3));
  const auto std = torch::tensor(torch::ArrayRef<float>(standardisation_.std.data(), 3));
  FCResNet net = net_;  // the holder shares the module; in eval mode embedding changes no state
  return net->embed((contrasts - mean) / std);
}

torch::Tensor NetworkClassifier::output_distances(const torch::Tensor& contrasts, const ChannelMask& channels) const {
  torch::NoGradGuard no_grad;
  std::vector<ChannelMask> used(output_ids_.size());
  for (size_t k = 0; k < used.size(); ++k) used[k] = comparison_channels(channels, class_channels_[k]);
  if (std::all_of(used.begin(), used.end(), [](const ChannelMask& m) { return m == kAllChannels; }))
    return distances_on_all_channels(contrasts);
  std::vector<torch::Tensor> columns;
  for (size_t k = 0; k < output_ids_.size(); ++k) {
    torch::Tensor filled = contrasts.clone();
    for (int c = 0; c < 3; ++c)
      if (!used[k][c]) filled.select(1, c).fill_(class_contrast_means_[k][c]);
    columns.push_back(distances_on_all_channels(filled).select(1, static_cast<int64_t>(k)));
  }
  return torch::stack(columns, 1);
}

torch::Tensor NetworkClassifier::distances_on_all_channels(const torch::Tensor& contrasts) const {
  if (head_ == Head::Softmax) {
    const auto mean = torch::tensor(torch::ArrayRef<float>(standardisation_.mean.data(), 3));
    const auto std = torch::tensor(torch::ArrayRef<float>(standardisation_.std.data(), 3));
    FCResNet net = net_;
    return 1 - torch::softmax(net->forward((contrasts - mean) / std), 1);
  }
  const int64_t n = contrasts.size(0), k = loc_.size(0), e = loc_.size(1);
  const torch::Tensor whitened = torch::addmm(-whiten_bias_, embed(contrasts), whiten_weight_);
  return whitened.view({n, k, e}).square().sum(-1).sqrt();
}

std::vector<uint8_t> NetworkClassifier::classify_contrasts(const std::vector<std::array<float, 3>>& contrasts,
                                                           double threshold, std::vector<float>* distances,
                                                           const ChannelMask& channels) const {
  std::vector<uint8_t> out(contrasts.size(), 0);
  if (distances) distances->assign(contrasts.size(), 0.0f);
  const torch::Tensor all = contrast_tensor(contrasts);
  for (int64_t start = 0; start < all.size(0); start += kChunk) {
    const torch::Tensor chunk = all.narrow(0, start, std::min(kChunk, all.size(0) - start));
    const auto [best, index] = output_distances(chunk, channels).min(1);
    const float* d = best.data_ptr<float>();
    const int64_t* k = index.data_ptr<int64_t>();
    for (int64_t i = 0; i < chunk.size(0); ++i) {
      // MaskTerial: unknown only when the distance is strictly above the threshold.
      out[start + i] = d[i] > threshold ? 0 : output_ids_[k[i]];
      if (distances) (*distances)[start + i] = d[i];
    }
  }
  return out;
}

PixelClassification NetworkClassifier::classify(const cv::Mat& bgr8, const ContrastLut& lut, double threshold,
                                                const cv::Mat& roi, const ChannelMask& channels) const {
  const UniqueColours unique = unique_colours(bgr8, roi);
  std::vector<std::array<float, 3>> contrasts(unique.colours.size());
  for (size_t i = 0; i < contrasts.size(); ++i) {
    const uint32_t c = unique.colours[i];
    contrasts[i] = {lut[0][c & 0xff], lut[1][(c >> 8) & 0xff], lut[2][(c >> 16) & 0xff]};
  }
  std::vector<float> distances;
  const std::vector<uint8_t> labels = classify_contrasts(contrasts, threshold, &distances, channels);
  PixelClassification out;
  out.labels.create(bgr8.size(), CV_8U);
  out.distance.create(bgr8.size(), CV_32F);
  for (int y = 0; y < bgr8.rows; ++y) {
    const int32_t* index = unique.index.ptr<int32_t>(y);
    uint8_t* l = out.labels.ptr<uint8_t>(y);
    float* d = out.distance.ptr<float>(y);
    for (int x = 0; x < bgr8.cols; ++x) {
      const int32_t i = index[x];
      l[x] = i < 0 ? 0 : labels[i];
      d[x] = i < 0 ? 0.0f : distances[i];
    }
  }
  return out;
}

double NetworkClassifier::flake_uncertainty(const std::array<double, 3>& mean_contrast, uint8_t id,
                                           const ChannelMask& channels) const {
  for (size_t k = 0; k < output_ids_.size(); ++k) {
    if (output_ids_[k] != id) continue;
    const torch::Tensor x = torch::tensor({static_cast<float>(mean_contrast[0]), static_cast<float>(mean_contrast[1]),
                                           static_cast<float>(mean_contrast[2])})
                                .reshape({1, 3});
    return output_distances(x, channels)[0][static_cast<int64_t>(k)].item<double>();
  }
  throw Error("classifier: no class with id " + std::to_string(id));
}

nlohmann::json NetworkClassifier::describe() const {
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& c : classes_) classes.push_back({{"id", c.id}, {"name", c.name}});
  nlohmann::json files = {{"weights", "model.pth"}, {"maskterial_meta_data", "meta_data.json"}};
  if (head_ == Head::Gda) files["class_means"] = "loc.npy", files["class_covariances"] = "cov.npy";
  const double threshold = default_threshold();
  return {{"format", "maskterial"},
          {"kind", "classification"},
          {"type", type()},
          {"classes", classes},
          {"output_ids", output_ids_},
          {"model_arch", net_->options().to_json()},
          {"standardisation", {{"mean", standardisation_.mean}, {"std", standardisation_.std}}},
          {"default_threshold", std::isfinite(threshold) ? nlohmann::json(threshold) : nlohmann::json(nullptr)},
          {"covariance_regularisation", kCovarianceRegularisation},
          {"contrast_precision", "half"},
          {"files", files},
          {"training", training_}};
}

void NetworkClassifier::save(const std::string& dir) const {
  write_directory_atomic(dir, [&](const std::string& tmp) {
    save_state_dict(tmp + "/model.pth", weights_of(net_));
    if (head_ == Head::Gda) {
      npy::save(tmp + "/loc.npy", loc_);
      npy::save(tmp + "/cov.npy", cov_);
    }
    nlohmann::json train_config = training_.value("config", nlohmann::json::object());
    train_config["model_arch"] = net_->options().to_json();
    const nlohmann::json meta = {{"train_config", train_config},
                                 {"train_mean", standardisation_.mean},
                                 {"train_std", standardisation_.std}};
    write_json_atomic(tmp + "/meta_data.json", meta, 4);
    write_json_atomic(tmp + "/model.json", describe(), 2);
  });
}

std::shared_ptr<NetworkClassifier> NetworkClassifier::load(const std::string& dir) {
  const fs::path root(dir);
  const bool ours = fs::exists(root / "model.json");
  const std::string meta_path = (root / (ours ? "model.json" : "meta_data.json")).string();
  const nlohmann::json meta = read_json(meta_path);
  if (!meta.is_object()) throw file_error(meta_path, "expected a JSON object");

  Head head = Head::Gda;
  FCResNetOptions arch;
  Standardisation standardisation;
  std::vector<uint8_t> output_ids;
  nlohmann::json training;
  std::string weights = "model.pth", loc_file = "loc.npy", cov_file = "cov.npy";
  try {
    if (ours) {
      const std::string type = meta.value("type", "");
      if (type != "amm" && type != "mlp") throw file_error(meta_path, "type must be amm or mlp, not '" + type + "'");
      head = type == "amm" ? Head::Gda : Head::Softmax;
      arch = FCResNetOptions::from_json(meta.at("model_arch"), meta_path);
      standardisation.mean = read_triple(meta.at("standardisation"), "mean", meta_path);
      standardisation.std = read_triple(meta.at("standardisation"), "std", meta_path);
      output_ids = meta.at("output_ids").get<std::vector<uint8_t>>();
      training = meta.value("training", nlohmann::json::object());
      const auto& files = meta.at("files");
      weights = files.at("weights").get<std::string>();
      if (head == Head::Gda) {
        loc_file = files.at("class_means").get<std::string>();
        cov_file = files.at("class_covariances").get<std::string>();
      }
    } else {
      // MaskTerial's layout: output k is category id k; an AMM directory has the class Gaussians.
      head = fs::exists(root / "loc.npy") ? Head::Gda : Head::Softmax;
      if (!meta.contains("train_config") || !meta.at("train_config").contains("model_arch"))
        throw file_error(meta_path, "no train_config.model_arch");
      arch = FCResNetOptions::from_json(meta.at("train_config").at("model_arch"), meta_path);
      standardisation.mean = read_triple(meta, "train_mean", meta_path);
      standardisation.std = read_triple(meta, "train_std", meta_path);
      for (int k = 0; k < arch.num_classes; ++k) output_ids.push_back(static_cast<uint8_t>(k));
      training = {{"config", meta.at("train_config")}};
    }
  } catch (const nlohmann::json::exception& e) {
    throw file_error(meta_path, std::string("missing or malformed entry: ") + e.what());
  }
  for (const std::string* f : {&weights, &loc_file, &cov_file})
    if (f->find('/') != std::string::npos || f->find("..") != std::string::npos)
      throw file_error(meta_path, "file names must stay inside the model directory: " + *f);

  const std::string weights_path = (root / weights).string();
  const StateDict dict = load_state_dict(weights_path);
  check_architecture(arch, dict, weights_path);
  FCResNet net(arch);
  load_weights(net, dict, weights_path);
  torch::Tensor loc, cov;
  if (head == Head::Gda) {
    loc = npy::load((root / loc_file).string());
    cov = npy::load((root / cov_file).string());
  }
  try {
    return std::make_shared<NetworkClassifier>(head, net, standardisation, output_ids, loc, cov, training);
  } catch (const Error& e) {
    throw file_error(dir, e.what());
  }
}

}  // namespace maskterial
