// `maskterial pretrain` and `maskterial finetune`: train a segmentation model (dense or Mask2Former), on the
// synthetic generator's stream (from scratch, optionally data-parallel over processes) or on a few annotated
// real images (from a pretrained model directory, its encoder / backbone frozen).
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/core/shipped_models.hpp"
#include "maskterial/segment/dense/dense_training.hpp"
#include "maskterial/segment/registry.hpp"
#include "maskterial/segment/trainers.hpp"
#include "maskterial/segment/mask2former/mask2former_training.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::cli {
namespace {

// Options both commands share; 0 / empty = the command's default.
struct TrainingArgs {
  std::string out;
  int64_t iterations = 0;
  int batch_size = 0, size = 0, threads = 0;
  double learning_rate = 0;
  int64_t checkpoint_every = -1;
  uint64_t seed = 42;
  bool resume = false, quiet = false;
  std::vector<std::string> validation;
  int64_t validate_every = 0;

  void add_to(CLI::App* cmd, const std::string& iterations_help) {
    cmd->add_option("-o,--out", out, "Output model directory (its checkpoint goes to OUT.checkpoint.pt)")->required();
    cmd->add_option("--iterations", iterations, iterations_help)->check(CLI::PositiveNumber);
    cmd->add_option("--batch-size", batch_size, "Images per optimizer step (over all processes)")->check(CLI::PositiveNumber);
    cmd->add_option("--size", size,
                    "Side of the square training crops in network-input pixels, a multiple of 32 (default: dense 256, "
                    "mask2former 512 to pretrain, 384 to fine-tune)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--learning-rate", learning_rate, "AdamW base learning rate")->check(CLI::PositiveNumber);
    cmd->add_option("--checkpoint-every", checkpoint_every, "Iterations between checkpoints (0: only at the end)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--seed", seed, "Random seed (weights, data and sampling are deterministic per seed)")->capture_default_str();
    cmd->add_option("--threads", threads, "Compute threads per process (0 = libtorch's default)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--resume", resume, "Continue from OUT.checkpoint.pt when it exists");
    cmd->add_option("--validate", validation,
                    "NAME=IMAGES_DIR:ANNOTATIONS.json (or :INSTANCE_MASKS_DIR): real images scored every --validate-every "
                    "iterations and at the end (class-agnostic AP50, recall), plotted in OUT/learning_curve.png");
    cmd->add_option("--validate-every", validate_every, "Iterations between validations (0: only at the end)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_flag("-q,--quiet", quiet, "No progress bar");
  }

  segment::SegmenterTrainingRun run(segment::TrainerOptions trainer, int default_size) const {
    if (batch_size > 0) trainer.batch_size = batch_size;
    if (learning_rate > 0) trainer.learning_rate = learning_rate;
    if (checkpoint_every >= 0) trainer.checkpoint_every = checkpoint_every;
    trainer.seed = seed;
    trainer.show_progress = !quiet;
    set_compute_threads(threads);
    segment::SegmenterTrainingRun r;
    r.out_dir = out;
    r.resume = resume;
    r.size = size > 0 ? size : default_size;
    r.trainer = trainer;
    for (const std::string& spec : validation) r.validation.push_back(segment::parse_validation_set(spec));
    r.validate_every = validate_every;
    return r;
  }
};

void report(const std::string& out) {
  const nlohmann::json log = read_json(out + "/model.json")["training"]["log"];
  const auto& loss = log["loss"];
  std::printf("segmentation model written to %s (%zu loss points, first %.3f, last %.3f, %.0f s training)\n", out.c_str(),
              loss.size(), loss.empty() ? 0.0 : loss.front().get<double>(), loss.empty() ? 0.0 : loss.back().get<double>(),
              log["seconds"].get<double>());
}

struct PretrainArgs {
  TrainingArgs training;
  std::string type = segment::DenseSegmenter::kType, preset = "lite", generator_config, model_config;
  std::vector<std::string> backgrounds;
  int world_size = 1, rank = 0;
  std::string master = "127.0.0.1:29500";
};

int run_pretrain(const PretrainArgs& args) {
  if (args.rank >= args.world_size) {
    spdlog::error("--rank must be below --world-size");
    return kUsage;
  }
  if (args.training.iterations <= 0) {
    spdlog::error("pretrain needs --iterations N");
    return kUsage;
  }
  const nlohmann::json generator = args.generator_config.empty() ? nlohmann::json() : read_json(args.generator_config);
  const nlohmann::json model = args.model_config.empty() ? nlohmann::json::object() : read_json(args.model_config);
  if (args.type == segment::DenseSegmenter::kType) {
    if (args.world_size > 1) {
      spdlog::error("--world-size: data-parallel pretraining is implemented for mask2former only");
      return kUsage;
    }
    segment::DensePretraining pretraining{segment::DenseOptions::from_json(model, args.model_config), generator,
                                          args.backgrounds};
    segment::pretrain_dense(pretraining, args.training.run(segment::dense_pretraining_schedule(args.training.iterations),
                                                           segment::kDenseTrainingSize));
    report(args.training.out);
    return kOk;
  }
  if (!args.backgrounds.empty()) {
    spdlog::error("--backgrounds: real substrates are used by the dense model's pretraining only");
    return kUsage;
  }
  nlohmann::json options = model;
  if (!options.contains("preset")) options["preset"] = args.preset;
  const segment::SegmenterOptions m2f = segment::SegmenterOptions::from_json(options, "--preset/--model-config");
  segment::SegmenterTrainingRun run = args.training.run(segment::TrainerOptions::pretraining(args.training.iterations), 512);
  std::optional<segment::DistributedGroup> group;
  if (args.world_size > 1) {
    group.emplace(args.world_size, args.rank, args.master);
    run.group = &*group;
  }
  segment::pretrain_segmenter(m2f, generator, run);
  if (args.rank == 0) report(args.training.out);
  return kOk;
}

struct FinetuneArgs {
  TrainingArgs training;
  std::string images, annotations, instance_masks, base, preset;
  std::vector<std::string> unlabelled;
  double unlabelled_share = segment::FinetuneData{}.unlabelled_share;
  bool freeze_pixel_decoder = false, train_all = false;
};

int run_finetune(const FinetuneArgs& args) {
  if (args.annotations.empty() == args.instance_masks.empty()) {
    spdlog::error("finetune needs either --annotations COCO.json or --instance-masks DIR, not both");
    return kUsage;
  }
  std::string base = args.base;
  if (base.empty() && args.preset.empty()) {
    base = shipped_pretrained_segmenter_dir();
    if (!fs::is_directory(base)) {
      spdlog::error("no pretrained segmentation model at {}: pass --base MODEL_DIR (or --preset to start from scratch)",
                    base);
      return kUsage;
    }
  }
  const std::string type = base.empty() ? (args.preset == "dense" ? "dense" : "mask2former") : segment::segmenter_type_of(base);
  if (args.freeze_pixel_decoder && type != "mask2former") {
    spdlog::error("--freeze-pixel-decoder applies to mask2former models only");
    return kUsage;
  }
  const segment::SegmenterTrainer& kind = segment::segmenter_trainer(type);
  segment::TrainerOptions trainer = kind.finetuning_defaults();
  if (args.training.iterations > 0) trainer.iterations = args.training.iterations;
  segment::SegmenterTrainingRun run =
      args.training.run(trainer, kind.finetuning_crop);
  if (args.train_all) run.frozen = std::vector<std::string>{};
  if (args.freeze_pixel_decoder) run.frozen = std::vector<std::string>{"backbone", "pixel_decoder"};
  const segment::FinetuneData data{args.annotations.empty()
                                       ? coco::read_instance_mask_folder(args.images, args.instance_masks)
                                       : coco::read_dataset(args.annotations),
                                   args.images, args.unlabelled, args.unlabelled_share};
  if (!base.empty()) {
    kind.finetune(base, data, run);
  } else if (type == "dense") {
    segment::finetune_dense("", segment::DenseOptions{}, data, run);
  } else {
    segment::finetune_segmenter("", segment::SegmenterOptions::preset_named(args.preset), data, false, run);
  }
  report(args.training.out);
  return kOk;
}

}  // namespace

Runner add_pretrain(CLI::App& app) {
  auto args = std::make_shared<PretrainArgs>();
  CLI::App* cmd = app.add_subcommand("pretrain", "Pretrain a segmentation model on synthetic flake images (class-agnostic)");
  add_image_limit(*cmd);
  cmd->add_option("--type", args->type, "Model type: dense (CPU) or mask2former")
      ->capture_default_str()
      ->check(CLI::IsMember({"dense", "mask2former"}));
  cmd->add_option("--preset", args->preset, "mask2former architecture: lite (CPU) or paper (MaskTerial's ResNet-50)")
      ->capture_default_str()
      ->check(CLI::IsMember({"lite", "paper"}));
  cmd->add_option("--model-config", args->model_config, "Model options overriding the defaults (JSON, as model.json's \"options\")")
      ->check(CLI::ExistingFile);
  cmd->add_option("--backgrounds", args->backgrounds,
                  "dense: folders of real scans whose substrates (flakes painted out) the synthetic flakes are drawn on")
      ->check(CLI::ExistingDirectory);
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
  CLI::App* cmd = app.add_subcommand("finetune", "Fine-tune a segmentation model on a few annotated images (encoder frozen)");
  add_image_limit(*cmd);
  cmd->add_option("--images", args->images, "Folder of training images")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--annotations", args->annotations, "COCO instances JSON (every instance is a flake)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--instance-masks", args->instance_masks,
                  "Or: folder of instance masks (PNG named like the images, pixel = instance id)")
      ->check(CLI::ExistingDirectory);
  args->training.add_to(cmd, "Training iterations (default: the model type's, dense 200, mask2former 500)");
  cmd->add_option("--base", args->base,
                  "Pretrained model directory to start from (default: the shipped models/segmenter/pretrained)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--preset", args->preset,
                  "Start from a fresh network instead (no pretraining): dense, or mask2former lite / paper")
      ->check(CLI::IsMember({"dense", "lite", "paper"}))
      ->excludes("--base");
  cmd->add_flag("--freeze-pixel-decoder", args->freeze_pixel_decoder, "mask2former: also keep the pixel decoder fixed");
  cmd->add_flag("--train-all", args->train_all, "Train every part (default: the encoder / backbone stays as pretrained)")
      ->excludes("--freeze-pixel-decoder");
  cmd->add_option("--unlabelled", args->unlabelled,
                  "Folders of this microscope's unannotated scans: synthetic flakes with the annotated flakes' contrasts "
                  "are drawn on their substrates (docs/finetune_unlabelled.md)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--unlabelled-share", args->unlabelled_share, "Share of the training samples drawn on the unlabelled scans")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  return [args] { return run_finetune(*args); };
}

}  // namespace maskterial::cli
