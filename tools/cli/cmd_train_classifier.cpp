// `maskterial train-classifier`: train a classification head (AMM, MLP or GMM) from annotated images into a
// self-describing model directory; optionally report per-pixel accuracy on held-out images.
#include <filesystem>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/classify/classifier_training.hpp"
#include "detector_options.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/score/score_fitting.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"

namespace fs = std::filesystem;

namespace maskterial::cli {
namespace {

struct TrainArgs {
  std::string type = kDefaultClassifierType;
  std::string images, annotations, masks, out, config;
  std::string test_images, test_annotations;
  TrainingDataOptions data;
  int iterations = 0, batch_size = 0;
  double learning_rate = 0;
  bool quiet = false;
  bool fit_flake_score = true;
};

// The default pipeline's candidates on the training images, labelled by their annotations, re-fit the flake
// score (the segmentation model's as prior); it is kept with the classifier, where `detect` finds it.
void refit_flake_score(const TrainArgs& args, const AnnotatedImages& train) {
  DetectorCliOptions pipeline = DetectorCliOptions::default_pipeline(args.out);
  const std::string shipped = score::find_flake_score("", pipeline.segmenter_dir());
  pipeline.flake_score_path = shipped.empty() ? "none" : shipped;  // not a stale re-fit left in --out
  const std::unique_ptr<Detector> detector = pipeline.build();
  score::ScoreFitReport report;
  const score::FlakeScoreModel model = score::fit_flake_score(*detector, train, detector->flake_score(), &report, !args.quiet);
  for (const std::string& why : report.skipped) spdlog::warn("flake score: skipping image {}", why);
  const std::string file = args.out + "/" + score::kFlakeScoreFile;
  std::filesystem::remove(file);
  if (model.empty()) {
    spdlog::warn("flake score: {} true flakes among {} candidates on the training images: too few to fit; detect "
                 "ranks by the segmentation model's score", report.positives, report.candidates);
    return;
  }
  model.save(file);
  spdlog::info("flake score re-fitted on {} candidates ({} true flakes) of {} images: {}", report.candidates,
               report.positives, report.images, file);
}

void write_curves(const std::string& dir, const TrainingCurves& curves, const std::string& type) {
  if (curves.iteration.empty()) return;
  const std::vector<double> x(curves.iteration.begin(), curves.iteration.end());
  std::vector<PlotSeries> series = {{"train loss", x, curves.train_loss, {200, 90, 30}},
                                    {"test loss", x, curves.test_loss, {30, 30, 220}},
                                    {"test accuracy", x, curves.test_accuracy, {40, 160, 40}}};
  write_image_atomic(dir + "/training_curves.png",
                     render_line_plot(series, type + " training: cross-entropy and per-pixel accuracy", "iteration"));
}

int run(TrainArgs& args) {
  if (args.annotations.empty() == args.masks.empty()) {
    spdlog::error("train-classifier needs either --annotations COCO.json or --masks DIR (semantic masks), not both");
    return kUsage;
  }
  ClassifierTrainingOptions options = ClassifierTrainingOptions::defaults(args.type);
  options.data = args.data;
  if (!args.config.empty()) options.network.apply_config(read_json(args.config), options.data, args.config);
  if (args.iterations > 0) options.network.iterations = args.iterations;
  if (args.batch_size > 0) options.network.batch_size = args.batch_size;
  if (args.learning_rate > 0) options.network.learning_rate = args.learning_rate;
  options.data.show_progress = !args.quiet;

  const AnnotatedImages train{args.annotations.empty() ? coco::read_semantic_mask_folder(args.images, args.masks)
                                                       : coco::read_dataset(args.annotations),
                              args.images};
  std::optional<AnnotatedImages> test;
  if (!args.test_images.empty()) test = AnnotatedImages{coco::read_dataset(args.test_annotations), args.test_images};

  const ClassifierTrainingResult result = train_classifier(train, test ? &*test : nullptr, options);
  result.classifier->save(args.out);
  write_curves(args.out, result.curves, args.type);
  if (result.test_accuracy) write_json_atomic(args.out + "/test_report.json", result.test_accuracy->to_json(), 2);
  if (args.fit_flake_score) refit_flake_score(args, train);

  for (const auto& step : result.report.steps) {
    std::string counts;
    for (const auto& [label, n] : step.class_counts) counts += " " + std::to_string(label) + ":" + std::to_string(n);
    spdlog::info("{:<9} {:6.2f} s  samples per class{}", step.name, step.seconds, counts);
  }
  std::printf("%s classifier written to %s (%zu classes, %zu of %zu images used, %.1f s)\n", args.type.c_str(),
              args.out.c_str(), result.classifier->classes().size(), result.report.images_used,
              result.report.images_total, result.report.total_seconds);
  if (!result.report.ignored_channels.empty())
    std::printf("%zu of them used without their saturated or dark channels (see the warnings above)\n",
                result.report.ignored_channels.size());
  if (result.test_accuracy)
    std::printf("%s\n", nlohmann::json{{"test_pixels", result.test_accuracy->to_json()}}.dump(2).c_str());
  return result.report.errors.empty() ? kOk : kSomeInputsFailed;
}

}  // namespace

Runner add_train_classifier(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train-classifier", "Train a classification head (AMM, MLP or GMM) from annotated images");
  add_image_limit(*cmd);
  std::string types;
  for (const ClassifierType& t : classifier_types()) types += (types.empty() ? "" : "; ") + t.name + ": " + t.description;
  cmd->add_option("--type", args->type, types)->capture_default_str()->check(CLI::IsMember(classifier_type_names()));
  cmd->add_option("--images", args->images, "Folder of training images")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--annotations", args->annotations, "COCO instances JSON (category id = layer class)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--masks", args->masks, "Or: folder of semantic masks (PNG, pixel = class id)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--out", args->out, "Output model directory")->required();
  cmd->add_option("--config", args->config, "MaskTerial-style config JSON (train_params, data_params, model_arch)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--test-images", args->test_images, "Held-out images for loss curves and an accuracy report")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--test-annotations", args->test_annotations, "COCO JSON of the held-out images")
      ->check(CLI::ExistingFile);
  cmd->get_option("--test-images")->needs(cmd->get_option("--test-annotations"));
  cmd->get_option("--test-annotations")->needs(cmd->get_option("--test-images"));
  cmd->add_option("--iterations", args->iterations, "Training iterations (default 5000)")->check(CLI::PositiveNumber);
  cmd->add_option("--batch-size", args->batch_size, "Samples per batch (default 10000)")->check(CLI::PositiveNumber);
  cmd->add_option("--learning-rate", args->learning_rate, "Adam learning rate (default 0.01)")->check(CLI::PositiveNumber);
  auto& d = args->data;
  cmd->add_option("--samples-per-class", d.samples_per_class, "Resample every class to this many pixels (0 = off)")
      ->capture_default_str();
  cmd->add_option("--neighbors", d.knn_neighbors, "k of the kNN label denoising (0 = off)")->capture_default_str();
  cmd->add_option("--dbscan-eps", d.dbscan_eps, "DBSCAN radius in contrast units")->capture_default_str();
  cmd->add_flag("--no-dbscan{false}", d.dbscan, "Keep DBSCAN outliers");
  cmd->add_option("--background-samples", d.background_samples_per_image, "Background pixels sampled per image")
      ->capture_default_str();
  cmd->add_option("--seed", d.seed, "Random seed (training is deterministic per seed)")->capture_default_str();
  cmd->add_flag("--no-flake-score{false}", args->fit_flake_score,
                "Do not re-fit the flake score on the training images (detect then ranks by the segmentation "
                "model's own score)");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
