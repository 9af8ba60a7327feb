// `maskterial train-gmm`: fit a GMM classifier (2DMatGMM parameter file) from annotated images with
// MaskTerial's data preparation; optionally report per-pixel accuracy on separate test data.
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/classify/gmm_fit.hpp"
#include "maskterial/classify/pixel_accuracy.hpp"
#include "maskterial/coco/dataset.hpp"

namespace maskterial::cli {
namespace {

struct TrainGmmArgs {
  std::string images, annotations, masks, out;
  std::string test_images, test_annotations;
  TrainingDataOptions data;
  double std_threshold = 5.0;
  bool quiet = false;
};

coco::Dataset load_annotations(const std::string& images, const std::string& annotations, const std::string& masks) {
  return annotations.empty() ? coco::read_semantic_mask_folder(images, masks) : coco::read_dataset(annotations);
}

int run(TrainGmmArgs& args) {
  if (args.annotations.empty() == args.masks.empty()) {
    spdlog::error("train-gmm needs either --annotations COCO.json or --masks DIR (semantic masks), not both");
    return kUsage;
  }
  args.data.show_progress = !args.quiet;
  TrainingReport report;
  const GmmClassifier gmm =
      train_gmm(load_annotations(args.images, args.annotations, args.masks), args.images, args.data, &report);
  gmm.save(args.out);
  for (const auto& step : report.steps) {
    std::string counts;
    for (const auto& [label, n] : step.class_counts) counts += " " + std::to_string(label) + ":" + std::to_string(n);
    spdlog::info("{:<9} {:6.2f} s  samples per class{}", step.name, step.seconds, counts);
  }
  for (const auto& c : gmm.classes())
    spdlog::info("class {}: contrast BGR ({:.4f}, {:.4f}, {:.4f})", c.name, c.mean[0], c.mean[1], c.mean[2]);
  std::printf("GMM written to %s (%zu classes, %zu of %zu images used, %.1f s)\n", args.out.c_str(),
              gmm.classes().size(), report.images_used, report.images_total, report.total_seconds);

  if (!args.test_images.empty()) {
    const TrainingData test = prepare_evaluation_data(coco::read_dataset(args.test_annotations), args.test_images, args.data);
    const PixelAccuracy accuracy = evaluate_pixels(gmm, test.samples, args.std_threshold);
    std::printf("%s\n", nlohmann::json{{"test_pixels", accuracy.to_json()}}.dump(2).c_str());
  }
  return report.errors.empty() ? kOk : kSomeInputsFailed;
}

}  // namespace

Runner add_train_gmm(CLI::App& app) {
  auto args = std::make_shared<TrainGmmArgs>();
  CLI::App* cmd = app.add_subcommand("train-gmm", "Fit a GMM classifier from annotated images (one Gaussian per class)");
  cmd->add_option("--images", args->images, "Folder of training images")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--annotations", args->annotations, "COCO instances JSON (category id = layer class)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--masks", args->masks, "Or: folder of semantic masks (PNG, pixel = class id)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--out", args->out, "Output parameter file (2DMatGMM JSON)")->required();
  cmd->add_option("--test-images", args->test_images, "Held-out images for a per-pixel accuracy report")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--test-annotations", args->test_annotations, "COCO JSON of the held-out images")
      ->check(CLI::ExistingFile);
  cmd->get_option("--test-images")->needs(cmd->get_option("--test-annotations"));
  cmd->get_option("--test-annotations")->needs(cmd->get_option("--test-images"));
  auto& d = args->data;
  cmd->add_option("--samples-per-class", d.samples_per_class, "Resample every class to this many pixels (0 = off)")
      ->capture_default_str();
  cmd->add_option("--neighbors", d.knn_neighbors, "k of the kNN label denoising (0 = off)")->capture_default_str();
  cmd->add_option("--dbscan-eps", d.dbscan_eps, "DBSCAN radius in contrast units")->capture_default_str();
  cmd->add_flag("--no-dbscan{false}", d.dbscan, "Keep DBSCAN outliers");
  cmd->add_option("--background-samples", d.background_samples_per_image, "Background pixels sampled per image")
      ->capture_default_str();
  cmd->add_option("--seed", d.seed, "Random seed (training is deterministic per seed)")->capture_default_str();
  cmd->add_option("--std-threshold", args->std_threshold, "Distance limit used for the test report")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
