// `maskterial pretrain` and `maskterial finetune`: train the Mask2Former segmentation model, on the synthetic
// generator's stream (from scratch, optionally data-parallel over processes) or on a few annotated real images
// (from a pretrained model directory, backbone frozen).
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/core/defaults.hpp"
#include "maskterial/core/shipped_models.hpp"
#include "maskterial/segment/segmenter_training.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::cli {
namespace {

// Options both commands share; 0 / empty = the command's default.
struct TrainingArgs {
  std::string out;
  int64_t iterations = 0;
  int batch_size = 0, size = 512, threads = 0;
  double learning_rate = 0;
  int64_t checkpoint_every = -1;
  uint64_t seed = 42;
  bool resume = false, quiet = false;

  void add_to(CLI::App* cmd, const std::string& iterations_help) {
    cmd->add_option("-o,--out", out, "Output model directory (its checkpoint goes to OUT.checkpoint.pt)")->required();
    cmd->add_option("--iterations", iterations, iterations_help)->check(CLI::PositiveNumber);
    cmd->add_option("--batch-size", batch_size, "Images per optimizer step (over all processes)")->check(CLI::PositiveNumber);
    cmd->add_option("--size", size, "Side of the square training crops in pixels, a multiple of 32")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--learning-rate", learning_rate, "AdamW base learning rate")->check(CLI::PositiveNumber);
    cmd->add_option("--checkpoint-every", checkpoint_every, "Iterations between checkpoints (0: only at the end)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--seed", seed, "Random seed (weights, data and sampling are deterministic per seed)")->capture_default_str();
    cmd->add_option("--threads", threads, "Compute threads per process (0 = libtorch's default)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--resume", resume, "Continue from OUT.checkpoint.pt when it exists");
    cmd->add_flag("-q,--quiet", quiet, "No progress bar");
  }

  segment::SegmenterTrainingRun run(segment::TrainerOptions trainer) const {
    if (batch_size > 0) trainer.batch_size = batch_size;
    if (learning_rate > 0) trainer.learning_rate = learning_rate;
    if (checkpoint_every >= 0) trainer.checkpoint_every = checkpoint_every;
    trainer.seed = seed;
    trainer.show_progress = !quiet;
    set_compute_threads(threads);
    segment::SegmenterTrainingRun r;
    r.out_dir = out;
    r.resume = resume;
    r.size = size;
    r.trainer = trainer;
    return r;
  }
};

void report(const segment::Segmenter& segmenter, const std::string& out) {
  const nlohmann::json log = segmenter.describe()["training"]["log"];
  const auto& loss = log["loss"];
  std::printf("segmentation model written to %s (%zu loss points, first %.3f, last %.3f, %.0f s training)\n", out.c_str(),
              loss.size(), loss.empty() ? 0.0 : loss.front().get<double>(), loss.empty() ? 0.0 : loss.back().get<double>(),
              log["seconds"].get<double>());
}

struct PretrainArgs {
  TrainingArgs training;
  std::string preset = "lite", generator_config;
  int world_size = 1, rank = 0;
  std::string master = "127.0.0.1:29500";
};

int run_pretrain(const PretrainArgs& args) {
  if (args.rank >= args.world_size) {
    spdlog::error("--rank must be below --world-size");
    return kUsage;
  }
  const segment::SegmenterOptions model = segment::SegmenterOptions::preset_named(args.preset);
  if (args.training.iterations <= 0) {
    spdlog::error("pretrain needs --iterations N");
    return kUsage;
  }
  segment::SegmenterTrainingRun run = args.training.run(segment::TrainerOptions::pretraining(args.training.iterations));
  std::optional<segment::DistributedGroup> group;
  if (args.world_size > 1) {
    group.emplace(args.world_size, args.rank, args.master);
    run.group = &*group;
  }
  const nlohmann::json generator = args.generator_config.empty() ? nlohmann::json() : read_json(args.generator_config);
  const auto segmenter = segment::pretrain_segmenter(model, generator, run);
  if (args.rank == 0) report(*segmenter, args.training.out);
  return kOk;
}

struct FinetuneArgs {
  TrainingArgs training;
  std::string images, annotations, instance_masks, base, preset;
  bool freeze_pixel_decoder = false;
};

int run_finetune(const FinetuneArgs& args) {
  if (args.annotations.empty() == args.instance_masks.empty()) {
    spdlog::error("finetune needs either --annotations COCO.json or --instance-masks DIR, not both");
    return kUsage;
  }
  std::string base = args.base;
  segment::SegmenterOptions fresh;
  if (!args.preset.empty()) {
    fresh = segment::SegmenterOptions::preset_named(args.preset);
  } else if (base.empty()) {
    base = shipped_pretrained_segmenter_dir();
    if (!fs::is_directory(base)) {
      spdlog::error("no pretrained segmentation model at {}: pass --base MODEL_DIR (or --preset to start from scratch)",
                    base);
      return kUsage;
    }
  }
  segment::TrainerOptions trainer = segment::TrainerOptions::finetuning();
  if (args.training.iterations > 0) trainer.iterations = args.training.iterations;
  const segment::SegmenterTrainingRun run = args.training.run(trainer);
  const segment::FinetuneData data{args.annotations.empty()
                                       ? coco::read_instance_mask_folder(args.images, args.instance_masks)
                                       : coco::read_dataset(args.annotations),
                                   args.images};
  const auto segmenter = segment::finetune_segmenter(base, fresh, data, args.freeze_pixel_decoder, run);
  report(*segmenter, args.training.out);
  return kOk;
}

}  // namespace

Runner add_pretrain(CLI::App& app) {
  auto args = std::make_shared<PretrainArgs>();
  CLI::App* cmd = app.add_subcommand("pretrain", "Pretrain the segmentation model on synthetic flake images (class-agnostic)");
  cmd->add_option("--preset", args->preset, "Architecture: lite (CPU) or paper (MaskTerial's ResNet-50)")
      ->capture_default_str()
      ->check(CLI::IsMember({"lite", "paper"}));
  args->training.add_to(cmd, "Training iterations (required)");
  cmd->add_option("--generator-config", args->generator_config, "Synthetic generator settings (JSON, see `synth`)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--world-size", args->world_size, "Processes training together (data parallel)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rank", args->rank, "This process's rank, 0 .. world size - 1 (rank 0 writes the model)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--master", args->master, "HOST:PORT of rank 0's rendezvous store")->capture_default_str();
  return [args] { return run_pretrain(*args); };
}

Runner add_finetune(CLI::App& app) {
  auto args = std::make_shared<FinetuneArgs>();
  CLI::App* cmd = app.add_subcommand("finetune", "Fine-tune the segmentation model on a few annotated images (backbone frozen)");
  cmd->add_option("--images", args->images, "Folder of training images")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--annotations", args->annotations, "COCO instances JSON (every instance is a flake)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--instance-masks", args->instance_masks,
                  "Or: folder of instance masks (PNG named like the images, pixel = instance id)")
      ->check(CLI::ExistingDirectory);
  args->training.size = kFinetuneCropSize;
  args->training.add_to(cmd, "Training iterations (default 500, as MaskTerial)");
  cmd->add_option("--base", args->base, "Pretrained model directory to start from (default: the shipped lite model)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--preset", args->preset, "Start from a fresh network of this preset instead (no pretraining)")
      ->check(CLI::IsMember({"lite", "paper"}))
      ->excludes("--base");
  cmd->add_flag("--freeze-pixel-decoder", args->freeze_pixel_decoder, "Also keep the pixel decoder fixed");
  return [args] { return run_finetune(*args); };
}

}  // namespace maskterial::cli
