// `maskterial eval`: COCO mask AP of a results file (or of a detector run on the ground truth's images),
// plus MaskTerial's flake metrics.
#include <filesystem>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "detector_options.hpp"
#include "maskterial/coco/eval.hpp"
#include "maskterial/coco/flake_metrics.hpp"
#include "maskterial/pipeline/batch.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"

namespace fs = std::filesystem;

namespace maskterial::cli {
namespace {

struct EvalArgs {
  std::string gt;
  std::string dt;
  std::string images_dir;
  std::string out;
  std::string reliability_plot;
  DetectorCliOptions detector;
  bool class_agnostic = false;
  double microns_per_pixel = kDefaultMicronsPerPixel;
  int top_k = coco::FlakeMetricsParams().top_k;
  int threads = 0;
};

// Runs the detector on every image of the ground truth found in images_dir.
std::vector<coco::Annotation> detect_dataset(const EvalArgs& args, const coco::Dataset& gt, int& failures) {
  const auto detector = args.detector.build();
  std::vector<std::string> paths;
  for (const auto& image : gt.images) paths.push_back((fs::path(args.images_dir) / image.file_name).string());
  std::vector<coco::Annotation> results;
  BatchOptions batch;
  batch.threads = args.threads;
  batch.label = "eval";
  const BatchSummary summary = run_batch(
      paths, [&](const cv::Mat& image, const std::string& path) { return detector->detect(image, path); },
      [&](BatchItem& item) {
        if (!item.error.empty()) return;
        for (auto& r : to_coco_results(item.detection, gt.images[item.index].id)) results.push_back(std::move(r));
      },
      batch);
  for (const auto& e : summary.errors) spdlog::error("{}", e);
  failures = static_cast<int>(summary.errors.size());
  return results;
}

// Share of true flakes against mean score per score bin, beside the diagonal a calibrated score follows.
void write_reliability_plot(const std::string& file, const nlohmann::json& bins) {
  PlotSeries measured{"share of detections that are flakes (IoU >= 0.5)", {}, {}, {30, 30, 220}};
  std::string counts;
  for (const auto& bin : bins) {
    if (bin["detections"].get<int64_t>() == 0) continue;
    measured.x.push_back(bin["mean_score"].get<double>());
    measured.y.push_back(bin["true_share"].get<double>());
    counts += (counts.empty() ? "" : " ") + std::to_string(bin["detections"].get<int64_t>());
  }
  const PlotSeries diagonal{"calibrated", {0, 1}, {0, 1}, {150, 150, 150}};
  write_image_atomic(file, render_line_plot({diagonal, measured}, "reliability (detections per bin: " + counts + ")",
                                            "mean score of the bin"));
}

int run(const EvalArgs& args) {
  if (args.dt.empty() == args.images_dir.empty()) {
    spdlog::error("eval needs either --dt RESULTS.json or --images DIR (to run a detector), not both");
    return kUsage;
  }
  coco::Dataset gt = coco::read_dataset(args.gt);
  int failures = 0;
  std::vector<coco::Annotation> dt = args.dt.empty() ? detect_dataset(args, gt, failures) : coco::read_results(args.dt, gt);
  if (args.class_agnostic) {  // every flake one category, for the flake metrics as for COCOeval
    for (coco::Annotation& a : gt.annotations) a.category_id = 1;
    for (coco::Annotation& a : dt) a.category_id = 1;
    gt.categories = {{1, "flake", ""}};
  }
  coco::EvalParams params;
  params.use_categories = !args.class_agnostic;
  nlohmann::json report = coco::evaluate(gt, dt, params).to_json();
  coco::FlakeMetricsParams metrics;
  metrics.pixel_size_um = args.microns_per_pixel;
  metrics.top_k = args.top_k;
  report["flake_metrics"] = coco::flake_metrics_json(gt, dt, metrics);
  report["num_images"] = gt.images.size();
  report["num_ground_truth"] = gt.annotations.size();
  report["num_detections"] = dt.size();
  if (!args.out.empty()) write_json_atomic(args.out, report, 2);
  if (!args.reliability_plot.empty()) write_reliability_plot(args.reliability_plot, report["flake_metrics"]["reliability"]);
  std::printf("%s\n", report.dump(2).c_str());
  return failures ? kSomeInputsFailed : kOk;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "COCO mask AP/AR (equal to the official COCOeval) and flake metrics");
  add_image_limit(*cmd);
  // No ExistingFile checks: a missing file is unreadable input (exit code 3), not a bad command line (2).
  cmd->add_option("--gt", args->gt, "Ground truth COCO instances JSON")->required();
  cmd->add_option("--dt", args->dt, "COCO results JSON to evaluate");
  cmd->add_option("--images", args->images_dir, "Run the detector on the ground truth's images from this folder")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--class-agnostic", args->class_agnostic, "Ignore categories (COCOeval useCats = 0)");
  cmd->add_option("--um-per-px", args->microns_per_pixel, "Pixel size for the µm² area bins")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--top-k", args->top_k, "Precision at k: how many of each image's best-scored detections count")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", args->out, "Also write the report to this JSON file");
  cmd->add_option("--reliability", args->reliability_plot,
                  "Also draw the score's reliability (share of true flakes per score bin against the diagonal) "
                  "to this PNG");
  cmd->add_option("-j,--threads", args->threads, "Worker threads for --images (0 = all cores)");
  args->detector.add_to(*cmd);
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
