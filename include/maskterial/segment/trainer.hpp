#pragma once
// Training loop of the segmentation model, as MaskTerial's detectron2 trainer: AdamW (no weight decay on norm
// layers and embeddings), WarmupPolyLR, full-model gradient-norm clipping, deep-supervised Mask2Former loss.
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

#include "maskterial/segment/criterion.hpp"
#include "maskterial/segment/distributed.hpp"
#include "maskterial/segment/lr_schedule.hpp"
#include "maskterial/segment/mask2former.hpp"
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
  CriterionOptions criterion;

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

// Loss curve: each point is the mean over the log_every iterations up to `iteration` (1-based count).
struct TrainingLog {
  std::vector<int64_t> iteration;
  std::vector<double> loss, class_loss, mask_loss, dice_loss, learning_rate;
  double seconds = 0;  // training time, summed over resumed runs
  nlohmann::json to_json() const;
  static TrainingLog from_json(const nlohmann::json& json, const std::string& source);
};

// Writes the loss curves as a PNG (atomically).
void write_loss_plot(const std::string& path, const TrainingLog& log, const std::string& title);

// The network: parameters with requires_grad false stay as they are (frozen parts).
using SegmenterForward = std::function<SegmenterOutput(const torch::Tensor& images)>;

// Freezes every parameter of a part of the network (and keeps it out of the optimizer).
void freeze(torch::nn::Module& part);

class SegmentationTrainer {
 public:
  // group may be null (one process). The parameters of all processes are made equal to rank 0's here.
  SegmentationTrainer(std::shared_ptr<torch::nn::Module> module, SegmenterForward forward, TrainerOptions options,
                      DistributedGroup* group = nullptr);

  // Trains from the current iteration to options.iterations. With a checkpoint path, rank 0 writes a checkpoint
  // every checkpoint_every iterations and at the end; `metadata` is stored with it (e.g. the model's options).
  void train(const SampleSource& data, const std::string& checkpoint_path = "", const nlohmann::json& metadata = {});
  // One optimizer step on the samples of the current iteration; returns its loss (mean over processes).
  LossTerms step(const SampleSource& data);

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
  void record(const LossTerms& terms, double lr);

  std::shared_ptr<torch::nn::Module> module_;
  SegmenterForward forward_;
  TrainerOptions options_;
  DistributedGroup* group_;
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t iteration_ = 0;
  TrainingLog log_;
  std::array<double, 4> window_{};  // loss sums since the last point of the curve
  int window_count_ = 0;
};

}  // namespace maskterial::segment
