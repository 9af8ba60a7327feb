// `maskterial detect`: images in, per-image JSON records, overlays, a CSV and optionally COCO results out.
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "detector_options.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/pipeline/batch.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/util/file_writer.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::cli {
namespace {

struct DetectArgs {
  std::vector<std::string> inputs;
  DetectorCliOptions detector;
  std::string out_dir = "results";
  std::string coco_results;
  std::string gt_for_ids;
  std::string overlays = "all";  // all, flakes-only, none
  std::string overlay_format = "jpeg";
  bool no_overlays = false;     // the older spelling of --overlays none
  bool quiet = false;
  bool timings = false;
  int threads = 0;
  double microns_per_pixel = kDefaultMicronsPerPixel;
};

// COCO results need image ids: taken from a ground-truth file by file name when given, else 1..N in order.
std::map<std::string, int64_t> image_ids_from(const std::string& gt_path) {
  std::map<std::string, int64_t> ids;
  if (gt_path.empty()) return ids;
  for (const auto& image : coco::read_dataset(gt_path).images)
    ids[fs::path(image.file_name).filename().string()] = image.id;
  return ids;
}

int run(const DetectArgs& args) {
  const auto detector = args.detector.build();
  const std::vector<std::string> paths = list_images(args.inputs);
  if (paths.empty()) {
    spdlog::error("no images found in the given inputs");
    return kUsage;
  }
  const auto gt_ids = image_ids_from(args.gt_for_ids);
  fs::create_directories(args.out_dir);
  const std::string overlays = args.no_overlays ? "none" : args.overlays;
  const OverlayFormat overlay_format = parse_overlay_format(args.overlay_format);
  if (overlays != "none") fs::create_directories(fs::path(args.out_dir) / "overlays");
  // A run killed while writing leaves "<file>.tmp-XXXXXX" behind (its results are whole or absent); a rerun into
  // the same folder clears them.
  const size_t stale = remove_stale_temporaries(args.out_dir) + remove_stale_temporaries((fs::path(args.out_dir) / "overlays").string());
  if (stale) spdlog::info("removed {} unfinished file(s) of an interrupted run from {}", stale, args.out_dir);
  // Only the first image of a file name gets outputs (the others are reported), so overlays never clash.
  std::vector<bool> first_of_stem(paths.size());
  {
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < paths.size(); ++i) first_of_stem[i] = seen.emplace(fs::path(paths[i]).stem().string(), i).second;
  }
  spdlog::info("detecting flakes in {} image(s) with {}", paths.size(), args.detector.model_name());
  const nlohmann::json provenance = args.detector.provenance();  // recorded in every per-image JSON

  std::string csv = csv_header();
  std::vector<coco::Annotation> results;
  size_t flakes = 0;
  double detect_ms = 0;
  BackgroundFileWriter writer;  // the per-image outputs, so detection never waits for the disk
  std::map<std::string, std::string> stems;  // stem -> first path, to refuse silent overwrites
  auto consume = [&](BatchItem& item) {
    if (!item.error.empty()) return;
    const std::string stem = fs::path(item.path).stem().string();
    if (!stems.emplace(stem, item.path).second) {
      item.error = item.path + ": same file name as " + stems[stem] + "; its results would overwrite those";
      return;
    }
    if (!item.detection.background_note.empty()) spdlog::warn("{}: {}", item.path, item.detection.background_note);
    nlohmann::json record = detection_to_json(item.detection);
    record.update(provenance);
    writer.write((fs::path(args.out_dir) / (stem + ".json")).string(), json_text(record));
    csv += csv_rows(item.detection, args.microns_per_pixel);
    int64_t image_id = static_cast<int64_t>(item.index) + 1;
    if (!gt_ids.empty()) {
      const auto it = gt_ids.find(fs::path(item.path).filename().string());
      if (it == gt_ids.end()) {
        item.error = item.path + ": not listed in " + args.gt_for_ids + ", so it has no COCO image id";
        return;
      }
      image_id = it->second;
    }
    for (auto& r : to_coco_results(item.detection, image_id)) results.push_back(std::move(r));
    flakes += item.detection.flakes.size();
    detect_ms += item.detect_ms;
    if (args.timings) spdlog::info("{}: {} flakes, {:.1f} ms", item.path, item.detection.flakes.size(), item.detect_ms);
  };
  BatchOptions batch;
  batch.threads = args.threads;
  batch.progress = !args.quiet;
  // Overlays are encoded and written on the worker threads; the image is not needed after that.
  batch.finish_on_worker = [&](BatchItem& item) {
    const bool wanted = overlays == "all" || (overlays == "flakes-only" && !item.detection.flakes.empty());
    if (wanted && first_of_stem[item.index]) {
      const std::vector<uchar> bytes = encode_overlay(item.image, item.detection, overlay_format);
      const std::string name = fs::path(item.path).stem().string() + overlay_extension(overlay_format);
      writer.write((fs::path(args.out_dir) / "overlays" / name).string(), std::string(bytes.begin(), bytes.end()));
    }
    item.image.release();
  };
  BatchSummary summary = run_batch(
      paths, [&](const cv::Mat& image, const std::string& path) { return detector->detect(image, path); },
      consume, batch);
  const std::vector<std::string> write_errors = writer.finish();
  summary.errors.insert(summary.errors.end(), write_errors.begin(), write_errors.end());

  write_file_atomic((fs::path(args.out_dir) / "flakes.csv").string(), csv);
  if (!args.coco_results.empty()) write_results(args.coco_results, results);

  for (const auto& e : summary.errors) spdlog::error("{}", e);
  spdlog::info("{} of {} image(s) processed, {} flake(s) found, {:.1f} ms per image", summary.succeeded,
               paths.size(), flakes, summary.succeeded ? detect_ms / summary.succeeded : 0.0);
  std::printf("results: %s (per-image JSON, flakes.csv%s)\n", fs::absolute(args.out_dir).c_str(),
              overlays == "none" ? "" : ", overlays/");
  if (!args.coco_results.empty()) std::printf("COCO results: %s\n", fs::absolute(args.coco_results).c_str());
  return summary.errors.empty() ? kOk : kSomeInputsFailed;
}

}  // namespace

Runner add_detect(CLI::App& app) {
  auto args = std::make_shared<DetectArgs>();
  CLI::App* cmd = app.add_subcommand("detect", "Find and classify flakes in images or folders of images");
  add_image_limit(*cmd);
  cmd->add_option("inputs", args->inputs, "Image files or folders (JPEG, PNG, TIFF)")->required();
  args->detector.add_to(*cmd);
  cmd->add_option("-o,--out", args->out_dir, "Output folder")->capture_default_str();
  cmd->add_option("--coco-results", args->coco_results, "Also write one COCO results file for all images");
  cmd->add_option("--gt", args->gt_for_ids, "COCO dataset whose image ids the COCO results use (by file name)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--overlays", args->overlays, "Overlay images: all, flakes-only (images with flakes), none")
      ->check(CLI::IsMember({"all", "flakes-only", "none"}))
      ->capture_default_str();
  cmd->add_option("--overlay-format", args->overlay_format, "Overlay file format (JPEG is ~10x faster to write)")
      ->check(CLI::IsMember({"jpeg", "png"}))
      ->capture_default_str();
  cmd->add_flag("--no-overlays", args->no_overlays, "Same as --overlays none");
  cmd->add_option("-j,--threads", args->threads, "Worker threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--um-per-px", args->microns_per_pixel, "Pixel size for areas in the CSV")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  cmd->add_flag("--timings", args->timings, "Log the detection time of every image");
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
