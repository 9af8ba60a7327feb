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
  return {{"iteration", iteration}, {"loss", loss},           {"class_loss", class_loss},
          {"mask_loss", mask_loss}, {"dice_loss", dice_loss}, {"learning_rate", learning_rate},
          {"seconds", seconds}};
}

TrainingLog TrainingLog::from_json(const nlohmann::json& json, const std::string& source) {
  TrainingLog log;
  try {
    json.at("iteration").get_to(log.iteration);
    json.at("loss").get_to(log.loss);
    json.at("class_loss").get_to(log.class_loss);
    json.at("mask_loss").get_to(log.mask_loss);
    json.at("dice_loss").get_to(log.dice_loss);
    json.at("learning_rate").get_to(log.learning_rate);
    json.at("seconds").get_to(log.seconds);
  } catch (const nlohmann::json::exception& e) {
    throw file_error(source, std::string("training log: ") + e.what());
  }
  const size_t n = log.iteration.size();
  if (log.loss.size() != n || log.class_loss.size() != n || log.mask_loss.size() != n || log.dice_loss.size() != n ||
      log.learning_rate.size() != n)
    throw file_error(source, "training log: curves differ in length");
  return log;
}

void write_loss_plot(const std::string& path, const TrainingLog& log, const std::string& title) {
  const std::vector<double> x(log.iteration.begin(), log.iteration.end());
  const std::vector<PlotSeries> series = {{"total", x, log.loss, {40, 40, 40}},
                                          {"class", x, log.class_loss, {200, 90, 30}},
                                          {"mask BCE", x, log.mask_loss, {30, 30, 220}},
                                          {"dice", x, log.dice_loss, {40, 160, 40}}};
  write_image_atomic(path, render_line_plot(series, title, "iteration"));
}

void freeze(torch::nn::Module& part) {
  for (torch::Tensor& p : part.parameters()) p.set_requires_grad(false);
}

SegmentationTrainer::SegmentationTrainer(std::shared_ptr<torch::nn::Module> module, SegmenterForward forward,
                                         TrainerOptions options, DistributedGroup* group)
    : module_(std::move(module)), forward_(std::move(forward)), options_(std::move(options)), group_(group) {
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

LossTerms SegmentationTrainer::step(const SampleSource& data) {
  const int world = group_ ? group_->world_size() : 1, rank = group_ ? group_->rank() : 0;
  const int per_process = options_.batch_size / world;
  const uint64_t first = static_cast<uint64_t>(iteration_) * static_cast<uint64_t>(options_.batch_size) +
                         static_cast<uint64_t>(rank) * static_cast<uint64_t>(per_process);
  const TrainingBatch batch = load_batch(data, options_.seed, first, per_process, options_.data_threads);
  torch::manual_seed(synth::image_seed(options_.seed ^ kPointStream,
                                       static_cast<uint64_t>(iteration_) * static_cast<uint64_t>(world) + rank));

  // Mask terms are normalised by the mean number of instances per process, as Mask2Former.
  double num_masks = static_cast<double>(batch.instances());
  if (group_) num_masks = group_->sum(num_masks) / world;

  set_training_mode(*module_);
  const SegmenterOutput output = forward_(batch.images);
  LossTerms terms = segmentation_loss(output, batch.targets, options_.criterion, num_masks);
  optimizer_->zero_grad();
  terms.total.backward();
  if (group_) group_->average_gradients(parameters_);
  if (options_.clip_norm > 0) torch::nn::utils::clip_grad_norm_(parameters_, options_.clip_norm);
  const double lr = options_.schedule().at(iteration_);
  for (auto& g : optimizer_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  optimizer_->step();

  if (group_) {
    terms.class_loss = group_->sum(terms.class_loss) / world;
    terms.mask_loss = group_->sum(terms.mask_loss) / world;
    terms.dice_loss = group_->sum(terms.dice_loss) / world;
  }
  ++iteration_;
  record(terms, lr);
  return terms;
}

void SegmentationTrainer::record(const LossTerms& terms, double lr) {
  window_[0] += terms.class_loss + terms.mask_loss + terms.dice_loss;
  window_[1] += terms.class_loss;
  window_[2] += terms.mask_loss;
  window_[3] += terms.dice_loss;
  ++window_count_;
  if (iteration_ % options_.log_every != 0 && iteration_ != options_.iterations) return;
  log_.iteration.push_back(iteration_);
  log_.loss.push_back(window_[0] / window_count_);
  log_.class_loss.push_back(window_[1] / window_count_);
  log_.mask_loss.push_back(window_[2] / window_count_);
  log_.dice_loss.push_back(window_[3] / window_count_);
  log_.learning_rate.push_back(lr);
  window_ = {};
  window_count_ = 0;
}

void SegmentationTrainer::train(const SampleSource& data, const std::string& checkpoint_path, const nlohmann::json& metadata) {
  const bool leader = !group_ || group_->rank() == 0;
  const int64_t remaining = std::max<int64_t>(0, options_.iterations - iteration_);
  ProgressBar progress(static_cast<size_t>(remaining), "train", options_.show_progress && leader);
  auto last = std::chrono::steady_clock::now();
  while (iteration_ < options_.iterations) {
    const LossTerms terms = step(data);
    const auto now = std::chrono::steady_clock::now();
    log_.seconds += std::chrono::duration<double>(now - last).count();
    last = now;
    const bool checkpoint_due = options_.checkpoint_every > 0 && iteration_ % options_.checkpoint_every == 0;
    if (leader && !checkpoint_path.empty() && (checkpoint_due || iteration_ == options_.iterations))
      save_checkpoint(checkpoint_path, metadata);
    char status[128];
    std::snprintf(status, sizeof status, "loss %.3f (class %.3f mask %.3f dice %.3f)",
                  terms.class_loss + terms.mask_loss + terms.dice_loss, terms.class_loss, terms.mask_loss, terms.dice_loss);
    progress.advance(1, status);
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
    window_ = state.at("window").get<std::array<double, 4>>();
    window_count_ = state.at("window_count").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("checkpoint state: ") + e.what());
  }
}

}  // namespace maskterial::segment
