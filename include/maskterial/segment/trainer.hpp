#pragma once
// Training loop of every segmentation model type, as MaskTerial's detectron2 trainer: AdamW (no weight decay on
// norm layers and embeddings), WarmupPolyLR, full-model gradient-norm clipping; the loss comes from the model
// type's objective (Mask2Former: the deep-supervised set-prediction loss; dense: per-pixel losses).
// Deterministic per seed: sample k of the run and the random points of iteration i are fixed by (seed, k) and
// (seed, i), so a run resumed from a checkpoint continues bit for bit like one that never stopped.
// Data-parallel when given a DistributedGroup: each process trains on its share of every batch and the
// gradients are averaged before the step.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "maskterial/segment/mask2former/criterion.hpp"
#include "maskterial/segment/distributed.hpp"
#include "maskterial/segment/lr_schedule.hpp"
#include "maskterial/segment/mask2former/mask2former.hpp"
#include "maskterial/segment/training_data.hpp"

namespace maskterial::segment {

struct TrainerOptions {
  int64_t iterations = 500;
  int batch_size = 16;                // images per step over all processes
  double learning_rate = 1e-5;
  double weight_decay = 0.05;
  double weight_decay_norm = 0.0;     // norm layers and embeddings
  int64_t warmup_iterations = 0;
  double warmup_factor = 1.0;
  double poly_power = 0.9;
  double clip_norm = 0.01;            // full-model gradient L2 norm; 0 disables
  int64_t checkpoint_every = 0;       // iterations between checkpoints; 0: only at the end
  int log_every = 10;                 // iterations per point of the loss curve (the mean over them)
  uint64_t seed = 42;
  int data_threads = 0;               // threads making samples; 0 = all cores
  bool show_progress = true;
  CriterionOptions criterion;        // Mask2Former's loss (mask2former_objective)

  // MaskTerial's fine-tuning schedule (configs/M2F/base_config.yaml: no warm-up, 500 iterations, clip 0.01)
  // at a CPU budget: batch 4 instead of 16 and lr 1e-4 instead of 1e-5 (see trainer.cpp). The struct's
  // defaults are MaskTerial's values (batch 16, lr 1e-5).
  static TrainerOptions finetuning();
  // MaskTerial's pretraining schedule (lr 1e-4, warm-up from 0.001 over up to 1000 iterations, clip 0.01)
  // scaled to a CPU budget: batch 8 and the warm-up at most a tenth of the run.
  static TrainerOptions pretraining(int64_t iterations);
  LrSchedule schedule() const;
  nlohmann::json to_json() const;
  void validate() const;  // throws Error
};

// One step's loss: the total carries the gradient; its weighted parts, by name, are what the log shows.
struct TrainingLoss {
  torch::Tensor total;
  std::vector<std::pair<std::string, double>> parts;
};

// A model type's objective: the loss of a batch of training samples, the network's forward pass included.
using TrainingObjective = std::function<TrainingLoss(const std::vector<TrainingSample>& samples)>;

// Loss curve: each point is the mean over the log_every iterations up to `iteration` (1-based count).
struct TrainingLog {
  std::vector<int64_t> iteration;
  std::vector<double> loss, learning_rate;
  std::vector<std::pair<std::string, std::vector<double>>> parts;  // the weighted terms of the loss, by name
  double seconds = 0;  // training time, summed over resumed runs
  nlohmann::json to_json() const;
  static TrainingLog from_json(const nlohmann::json& json, const std::string& source);
};

// Writes the loss curves as a PNG (atomically).
void write_loss_plot(const std::string& path, const TrainingLog& log, const std::string& title);

// A Mask2Former-style network: parameters with requires_grad false stay as they are (frozen parts).
using SegmenterForward = std::function<SegmenterOutput(const torch::Tensor& images)>;
// Its objective: Hungarian matching and the set-prediction loss, mask terms normalised by the mean number of
// instances per process (group may be null).
TrainingObjective mask2former_objective(SegmenterForward forward, CriterionOptions criterion, DistributedGroup* group);

// Freezes every parameter of a part of the network (and keeps it out of the optimizer).
void freeze(torch::nn::Module& part);

class SegmentationTrainer {
 public:
  // group may be null (one process). The parameters of all processes are made equal to rank 0's here.
  SegmentationTrainer(std::shared_ptr<torch::nn::Module> module, TrainingObjective objective, TrainerOptions options,
                      DistributedGroup* group = nullptr);
  // A Mask2Former-style network with options.criterion.
  SegmentationTrainer(std::shared_ptr<torch::nn::Module> module, SegmenterForward forward, TrainerOptions options,
                      DistributedGroup* group = nullptr);

  // Trains from the current iteration to options.iterations. With a checkpoint path, rank 0 writes a checkpoint
  // every checkpoint_every iterations and at the end; `metadata` is stored with it (e.g. the model's options).
  // after_step(iteration) runs after every step (rank 0 only), e.g. to score the model on validation images.
  void train(const SampleSource& data, const std::string& checkpoint_path = "", const nlohmann::json& metadata = {},
             const std::function<void(int64_t iteration)>& after_step = {});
  // One optimizer step on the samples of the current iteration; returns its loss parts (mean over processes).
  std::vector<std::pair<std::string, double>> step(const SampleSource& data);

  // Weights, optimizer state, iteration, seed, log and metadata; written atomically.
  void save_checkpoint(const std::string& path, const nlohmann::json& metadata = {}) const;
  // Continues from a checkpoint of the same network; throws Error naming the file if it does not fit.
  // The checkpoint's seed replaces options.seed (a resumed run is the same run); its iteration count does not
  // limit options.iterations.
  void load_checkpoint(const std::string& path);
  // The metadata stored with a checkpoint, without loading it into a network.
  static nlohmann::json checkpoint_metadata(const std::string& path);

  int64_t iteration() const { return iteration_; }
  const TrainingLog& log() const { return log_; }
  const TrainerOptions& options() const { return options_; }
  std::vector<torch::Tensor> trainable_parameters() const { return parameters_; }

 private:
  void record(const std::vector<std::pair<std::string, double>>& parts, double lr);

  std::shared_ptr<torch::nn::Module> module_;
  TrainingObjective objective_;
  TrainerOptions options_;
  DistributedGroup* group_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t iteration_ = 0;
  TrainingLog log_;
  std::vector<double> window_;  // sums of the loss parts since the last point of the curve
  int window_count_ = 0;
};

}  // namespace maskterial::segment
