#include "maskterial/segment/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "maskterial/synth/random.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"
#include "maskterial/util/progress.hpp"

namespace maskterial::segment {
namespace {

constexpr uint64_t kPointStream = 0x3c6ef372fe94f82bULL;  // random points of the matcher and the loss

// Norm layers and embeddings get weight_decay_norm, as Mask2Former's optimizer builder does.
bool is_norm_or_embedding(const torch::nn::Module& m) {
  return m.as<torch::nn::LayerNorm>() || m.as<torch::nn::GroupNorm>() || m.as<torch::nn::BatchNorm1d>() ||
         m.as<torch::nn::BatchNorm2d>() || m.as<torch::nn::BatchNorm3d>() || m.as<torch::nn::Embedding>();
}

std::string checkpoint_state_key() { return "maskterial_state"; }

std::string format_loss(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

// Training mode, except for batch norm layers whose parameters are frozen: they keep their running statistics,
// so a frozen backbone stays exactly as it was.
void set_training_mode(torch::nn::Module& module) {
  module.train();
  for (const auto& m : module.modules()) {
    const bool batch_norm = m->as<torch::nn::BatchNorm1d>() || m->as<torch::nn::BatchNorm2d>() || m->as<torch::nn::BatchNorm3d>();
    if (!batch_norm) continue;
    const auto params = m->parameters(false);
    if (std::none_of(params.begin(), params.end(), [](const torch::Tensor& p) { return p.requires_grad(); })) m->eval();
  }
}

}  // namespace

TrainerOptions TrainerOptions::finetuning() {
  TrainerOptions o;  // MaskTerial's schedule (500 iterations, no warm-up, clip 0.01, poly decay) ...
  o.batch_size = 4;      // ... at a CPU budget: batch 16 takes ~10 s per step on 2 cores, batch 4 at 384 px ~0.6 s
  o.learning_rate = 1e-4;  // the lite model's own pretraining rate: 1e-5 barely moves it in 500 small steps
  return o;
}

TrainerOptions TrainerOptions::pretraining(int64_t iterations) {
  TrainerOptions o;
  o.iterations = iterations;
  o.batch_size = 8;
  o.learning_rate = 1e-4;
  o.warmup_iterations = std::min<int64_t>(1000, iterations / 10);
  o.warmup_factor = 0.001;
  o.checkpoint_every = 500;
  o.log_every = 20;
  return o;
}

LrSchedule TrainerOptions::schedule() const {
  return LrSchedule{learning_rate, iterations, warmup_iterations, warmup_factor, poly_power};
}

nlohmann::json TrainerOptions::to_json() const {
  return {{"iterations", iterations},       {"batch_size", batch_size},
          {"learning_rate", learning_rate}, {"weight_decay", weight_decay},
          {"weight_decay_norm", weight_decay_norm}, {"warmup_iterations", warmup_iterations},
          {"warmup_factor", warmup_factor}, {"poly_power", poly_power},
          {"clip_norm", clip_norm},         {"checkpoint_every", checkpoint_every},
          {"log_every", log_every},         {"seed", seed},
          {"optimizer", "AdamW"},           {"lr_schedule", "WarmupPolyLR"},
          {"criterion", criterion.to_json()}};
}

void TrainerOptions::validate() const {
  if (iterations < 1) throw Error("training needs at least one iteration");
  if (batch_size < 1) throw Error("batch size must be positive");
  if (!(learning_rate > 0)) throw Error("learning rate must be positive");
  if (weight_decay < 0 || weight_decay_norm < 0 || clip_norm < 0 || warmup_iterations < 0 || checkpoint_every < 0 ||
      log_every < 1 || !(warmup_factor > 0) || poly_power < 0)
    throw Error("training options out of range");
}

nlohmann::json TrainingLog::to_json() const {
  nlohmann::json named = nlohmann::json::array();
  for (const auto& [name, values] : parts) named.push_back({{"name", name}, {"values", values}});
  return {{"iteration", iteration}, {"loss", loss}, {"learning_rate", learning_rate}, {"parts", named}, {"seconds", seconds}};
}

TrainingLog TrainingLog::from_json(const nlohmann::json& json, const std::string& source) {
  TrainingLog log;
  try {
    json.at("iteration").get_to(log.iteration);
    json.at("loss").get_to(log.loss);
    json.at("learning_rate").get_to(log.learning_rate);
    json.at("seconds").get_to(log.seconds);
    if (json.contains("parts")) {
      for (const auto& part : json.at("parts"))
        log.parts.emplace_back(part.at("name").get<std::string>(), part.at("values").get<std::vector<double>>());
    } else {  // logs written before the loss parts had names: Mask2Former's three terms
      for (const auto& [key, name] : {std::pair{"class_loss", "class"}, {"mask_loss", "mask BCE"}, {"dice_loss", "dice"}})
        log.parts.emplace_back(name, json.at(key).get<std::vector<double>>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw file_error(source, std::string("training log: ") + e.what());
  }
  const size_t n = log.iteration.size();
  bool consistent = log.loss.size() == n && log.learning_rate.size() == n;
  for (const auto& part : log.parts) consistent = consistent && part.second.size() == n;
  if (!consistent) throw file_error(source, "training log: curves differ in length");
  return log;
}

void write_loss_plot(const std::string& path, const TrainingLog& log, const std::string& title) {
  const std::vector<double> x(log.iteration.begin(), log.iteration.end());
  static const std::array<cv::Scalar, 6> colours = {
      cv::Scalar(200, 90, 30), cv::Scalar(30, 30, 220), cv::Scalar(40, 160, 40), cv::Scalar(160, 40, 160),
      cv::Scalar(30, 160, 200), cv::Scalar(120, 120, 0)};
  std::vector<PlotSeries> series = {{"total", x, log.loss, {40, 40, 40}}};
  for (size_t i = 0; i < log.parts.size(); ++i)
    series.push_back({log.parts[i].first, x, log.parts[i].second, colours[i % colours.size()]});
  write_image_atomic(path, render_line_plot(series, title, "iteration"));
}

void freeze(torch::nn::Module& part) {
  for (torch::Tensor& p : part.parameters()) p.set_requires_grad(false);
}

TrainingObjective mask2former_objective(SegmenterForward forward, CriterionOptions criterion, DistributedGroup* group) {
  return [forward = std::move(forward), criterion, group](const std::vector<TrainingSample>& samples) {
    const TrainingBatch batch = to_batch(samples);
    double num_masks = static_cast<double>(batch.instances());
    if (group) num_masks = group->sum(num_masks) / group->world_size();
    const LossTerms terms = segmentation_loss(forward(batch.images), batch.targets, criterion, num_masks);
    return TrainingLoss{terms.total, {{"class", terms.class_loss}, {"mask BCE", terms.mask_loss}, {"dice", terms.dice_loss}}};
  };
}

SegmentationTrainer::SegmentationTrainer(std::shared_ptr<torch::nn::Module> module, SegmenterForward forward,
                                         TrainerOptions options, DistributedGroup* group)
    : SegmentationTrainer(std::move(module), mask2former_objective(std::move(forward), options.criterion, group),
                          options, group) {}

SegmentationTrainer::SegmentationTrainer(std::shared_ptr<torch::nn::Module> module, TrainingObjective objective,
                                         TrainerOptions options, DistributedGroup* group)
    : module_(std::move(module)), objective_(std::move(objective)), options_(std::move(options)), group_(group) {
  options_.validate();
  const int world = group_ ? group_->world_size() : 1;
  if (options_.batch_size % world != 0)
    throw Error("batch size " + std::to_string(options_.batch_size) + " does not split evenly over " +
                std::to_string(world) + " processes");
  if (group_) {
    std::vector<torch::Tensor> state = module_->parameters();
    for (const torch::Tensor& b : module_->buffers()) state.push_back(b);
    group_->broadcast(state);
  }
  // Two parameter groups, as Mask2Former: weight decay on weights, none on norm layers and embeddings.
  std::vector<torch::Tensor> decayed, undecayed;
  for (const auto& named : module_->named_modules()) {
    const torch::nn::Module& m = *named.value();
    for (const auto& p : m.named_parameters(/*recurse=*/false)) {
      if (!p.value().requires_grad()) continue;
      (is_norm_or_embedding(m) ? undecayed : decayed).push_back(p.value());
      parameters_.push_back(p.value());
    }
  }
  if (parameters_.empty()) throw Error("the network has no trainable parameter (everything is frozen)");
  std::vector<torch::optim::OptimizerParamGroup> groups;
  auto add_group = [&](std::vector<torch::Tensor>& params, double decay) {
    if (params.empty()) return;
    groups.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(options_.learning_rate).weight_decay(decay)));
  };
  add_group(decayed, options_.weight_decay);
  add_group(undecayed, options_.weight_decay_norm);
  optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups),
                                                     torch::optim::AdamWOptions(options_.learning_rate));
}

std::vector<std::pair<std::string, double>> SegmentationTrainer::step(const SampleSource& data) {
  const int world = group_ ? group_->world_size() : 1, rank = group_ ? group_->rank() : 0;
  const int per_process = options_.batch_size / world;
  const uint64_t first = static_cast<uint64_t>(iteration_) * static_cast<uint64_t>(options_.batch_size) +
                         static_cast<uint64_t>(rank) * static_cast<uint64_t>(per_process);
  const std::vector<TrainingSample> samples = load_samples(data, options_.seed, first, per_process, options_.data_threads);
  torch::manual_seed(synth::image_seed(options_.seed ^ kPointStream,
                                       static_cast<uint64_t>(iteration_) * static_cast<uint64_t>(world) + rank));

  set_training_mode(*module_);
  TrainingLoss loss = objective_(samples);
  optimizer_->zero_grad();
  loss.total.backward();
  if (group_) group_->average_gradients(parameters_);
  if (options_.clip_norm > 0) torch::nn::utils::clip_grad_norm_(parameters_, options_.clip_norm);
  const double lr = options_.schedule().at(iteration_);
  for (auto& g : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  optimizer_->step();

  if (group_)
    for (auto& part : loss.parts) part.second = group_->sum(part.second) / world;
  ++iteration_;
  record(loss.parts, lr);
  return loss.parts;
}

void SegmentationTrainer::record(const std::vector<std::pair<std::string, double>>& parts, double lr) {
  if (log_.parts.empty())
    for (const auto& part : parts) log_.parts.emplace_back(part.first, std::vector<double>(log_.iteration.size(), 0.0));
  if (log_.parts.size() != parts.size()) throw Error("training: the objective changed its loss parts");
  window_.resize(parts.size() + 1, 0.0);
  for (size_t i = 0; i < parts.size(); ++i) {
    window_[0] += parts[i].second;
    window_[i + 1] += parts[i].second;
  }
  ++window_count_;
  if (iteration_ % options_.log_every != 0 && iteration_ != options_.iterations) return;
  log_.iteration.push_back(iteration_);
  log_.loss.push_back(window_[0] / window_count_);
  for (size_t i = 0; i < parts.size(); ++i) log_.parts[i].second.push_back(window_[i + 1] / window_count_);
  log_.learning_rate.push_back(lr);
  window_.assign(window_.size(), 0.0);
  window_count_ = 0;
}

void SegmentationTrainer::train(const SampleSource& data, const std::string& checkpoint_path, const nlohmann::json& metadata,
                                const std::function<void(int64_t iteration)>& after_step) {
  const bool leader = !group_ || group_->rank() == 0;
  const int64_t remaining = std::max<int64_t>(0, options_.iterations - iteration_);
  ProgressBar progress(static_cast<size_t>(remaining), "train", options_.show_progress && leader);
  auto last = std::chrono::steady_clock::now();
  while (iteration_ < options_.iterations) {
    const auto parts = step(data);
    const auto now = std::chrono::steady_clock::now();
    log_.seconds += std::chrono::duration<double>(now - last).count();
    last = now;
    const bool checkpoint_due = options_.checkpoint_every > 0 && iteration_ % options_.checkpoint_every == 0;
    if (leader && !checkpoint_path.empty() && (checkpoint_due || iteration_ == options_.iterations))
      save_checkpoint(checkpoint_path, metadata);
    double total = 0;
    std::string detail;
    for (const auto& [name, value] : parts) {
      total += value;
      detail += (detail.empty() ? "" : ", ") + name + " " + format_loss(value);
    }
    if (leader && after_step) after_step(iteration_);
    progress.advance(1, "loss " + format_loss(total) + " (" + detail + ")");
  }
  progress.finish();
}

void SegmentationTrainer::save_checkpoint(const std::string& path, const nlohmann::json& metadata) const {
  torch::serialize::OutputArchive archive, model, optimizer;
  module_->save(model);
  optimizer_->save(optimizer);
  archive.write("model", model);
  archive.write("optimizer", optimizer);
  const nlohmann::json state = {{"iteration", iteration_},
                                {"seed", options_.seed},
                                {"log", log_.to_json()},
                                {"window", window_},
                                {"window_count", window_count_},
                                {"options", options_.to_json()},
                                {"metadata", metadata}};
  archive.write(checkpoint_state_key(), c10::IValue(state.dump()));
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(path, bytes.str());
}

namespace {

nlohmann::json read_state(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue value;
  if (!archive.try_read(checkpoint_state_key(), value) || !value.isString())
    throw file_error(path, "not a maskterial training checkpoint");
  try {
    return nlohmann::json::parse(value.toStringRef());
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("checkpoint state: ") + e.what());
  }
}

void open_archive(torch::serialize::InputArchive& archive, const std::string& path) {
  const std::string bytes = read_file(path);
  try {
    std::istringstream stream(bytes);
    archive.load_from(stream);
  } catch (const c10::Error& e) {
    throw file_error(path, "not a readable checkpoint (" + std::string(e.what_without_backtrace()) + ")");
  }
}

}  // namespace

nlohmann::json SegmentationTrainer::checkpoint_metadata(const std::string& path) {
  torch::serialize::InputArchive archive;
  open_archive(archive, path);
  const nlohmann::json state = read_state(archive, path);
  return state.value("metadata", nlohmann::json::object());
}

void SegmentationTrainer::load_checkpoint(const std::string& path) {
  torch::serialize::InputArchive archive, model, optimizer;
  open_archive(archive, path);
  const nlohmann::json state = read_state(archive, path);
  // libtorch's Module::load takes tensors of any shape, so the shapes are compared here.
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& p : module_->named_parameters()) shapes.emplace_back(p.key(), p.value().sizes().vec());
  for (const auto& b : module_->named_buffers()) shapes.emplace_back(b.key(), b.value().sizes().vec());
  try {
    archive.read("model", model);
    archive.read("optimizer", optimizer);
    module_->load(model);
    optimizer_->load(optimizer);
  } catch (const c10::Error& e) {
    throw file_error(path, "checkpoint does not fit this network (" + std::string(e.what_without_backtrace()) + ")");
  }
  size_t i = 0;
  for (const auto& p : module_->named_parameters())
    if (p.value().sizes().vec() != shapes[i++].second) throw file_error(path, "checkpoint does not fit this network (" + p.key() + ")");
  for (const auto& b : module_->named_buffers())
    if (b.value().sizes().vec() != shapes[i++].second) throw file_error(path, "checkpoint does not fit this network (" + b.key() + ")");
  try {
    iteration_ = state.at("iteration").get<int64_t>();
    options_.seed = state.at("seed").get<uint64_t>();
    log_ = TrainingLog::from_json(state.at("log"), path);
    window_ = state.at("window").get<std::vector<double>>();
    window_count_ = state.at("window_count").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("checkpoint state: ") + e.what());
  }
}

}  // namespace maskterial::segment
