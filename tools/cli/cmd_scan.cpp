// `maskterial scan`: a chip's images into a scan database, resumable and live (--watch); `maskterial export`:
// a scan's candidates out as CSV, JSON or COCO. See docs/scan.md.
#include <atomic>
#include <csignal>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "detector_options.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/serve/model_store.hpp"
#include "maskterial/store/folder_watch.hpp"
#include "maskterial/store/scan_export.hpp"
#include "maskterial/store/scan_runner.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::cli {
namespace {

struct ScanArgs {
  std::vector<std::string> inputs;
  std::string db;
  std::string name;
  DetectorCliOptions detector;
  int threads = 0;
  bool watch = false;
  bool quiet = false;
  double microns_per_pixel = kDefaultMicronsPerPixel;
};

struct ExportArgs {
  std::string db, scan, format = "json", out;
  bool accepted = false;
};

std::atomic<bool> stop_requested{false};
void on_stop(int) { stop_requested = true; }

// The scan's name when none is given: its first folder's.
std::string default_scan_name(const std::string& input) {
  const fs::path path = fs::absolute(input).lexically_normal();
  const fs::path folder = fs::is_directory(path) ? path : path.parent_path();
  return (folder.filename().empty() ? folder.parent_path() : folder).filename().string();
}

int run_scan(const ScanArgs& args) {
  const std::string name = args.name.empty() ? default_scan_name(args.inputs.front()) : args.name;
  try {
    serve::check_model_name(name);
  } catch (const Error& e) {
    throw Error(std::string("scan name: ") + e.what());
  }
  std::vector<std::string> folders;
  for (const std::string& input : args.inputs)
    if (fs::is_directory(input)) folders.push_back(fs::absolute(input).lexically_normal().string());
  if (args.watch && folders.empty()) throw Error("--watch needs at least one folder to watch");
  // Watching starts before the folders are listed, so an image written in between is not missed.
  std::unique_ptr<store::FolderWatch> watch;
  if (args.watch) {
    watch = std::make_unique<store::FolderWatch>(folders);
    std::signal(SIGINT, on_stop);
    std::signal(SIGTERM, on_stop);
  }
  const std::vector<std::string> paths = list_images(args.inputs);
  if (paths.empty() && !args.watch) {
    spdlog::error("no images found in the given inputs");
    return kUsage;
  }
  const auto detector = args.detector.build();
  const auto db = store::open_sqlite_scan_store(args.db);
  const store::ScanInfo scan = db->open_scan(name, folders, store::scan_settings(args.detector.provenance(), *detector),
                                             args.microns_per_pixel, nlohmann::json());
  if (scan.um_per_px != args.microns_per_pixel)
    spdlog::warn("scan '{}' keeps its pixel size of {} µm (--um-per-px {} ignored)", name, scan.um_per_px,
                 args.microns_per_pixel);
  store::register_images(*db, scan.id, paths);
  spdlog::info("scan '{}' in {}: {} image(s) to do, with {}", name, args.db, db->pending_images(scan.id).size(),
               args.detector.model_name());

  store::ScanRunOptions options;
  options.threads = args.threads;
  options.progress = !args.quiet;
  options.stop = [] { return stop_requested.load(); };
  size_t failed = 0;
  while (true) {
    const store::ScanRunSummary run = store::scan_pending(*db, scan, *detector, options);
    for (const auto& e : run.errors) spdlog::error("{}", e);
    failed += run.errors.size();
    if (run.stored) spdlog::info("{} image(s) stored, {} candidate(s)", run.stored, run.candidates);
    if (!watch || stop_requested) break;
    std::vector<std::string> fresh;
    while (fresh.empty() && !stop_requested) fresh = watch->wait(1000);
    if (!fresh.empty()) store::register_images(*db, scan.id, fresh);
  }
  const store::ScanCounts counts = db->counts(scan.id);
  std::printf("scan %s: %lld of %lld image(s) done (%lld failed), %lld candidate(s) in %s\n", name.c_str(),
              static_cast<long long>(counts.images_done), static_cast<long long>(counts.images_total),
              static_cast<long long>(counts.images_failed), static_cast<long long>(counts.candidates),
              fs::absolute(args.db).c_str());
  return failed ? kSomeInputsFailed : kOk;
}

int run_export(const ExportArgs& args) {
  if (!fs::exists(args.db)) throw file_error(args.db, "no such scan database");
  const auto db = store::open_sqlite_scan_store(args.db);
  const std::optional<store::ScanInfo> scan = db->find_scan(args.scan);
  if (!scan) {
    std::string known;
    for (const auto& s : db->list_scans()) known += (known.empty() ? "" : ", ") + s.name;
    throw file_error(args.db, "no scan named '" + args.scan + "' (scans: " + (known.empty() ? "none" : known) + ")");
  }
  write_file_atomic(args.out, store::export_scan(*db, *scan, store::parse_export_format(args.format), args.accepted));
  std::printf("exported %s%s as %s: %s\n", args.accepted ? "the accepted candidates of " : "", args.scan.c_str(),
              args.format.c_str(), fs::absolute(args.out).c_str());
  return kOk;
}

}  // namespace

Runner add_scan(CLI::App& app) {
  auto args = std::make_shared<ScanArgs>();
  CLI::App* cmd = app.add_subcommand("scan", "Detect flakes in a chip's images into a scan database (resumable; "
                                             "--watch for live scanning)");
  cmd->add_option("inputs", args->inputs, "Folders (or image files) of the scan")->required();
  cmd->add_option("--db", args->db, "Scan database (SQLite), created if missing")->required();
  cmd->add_option("--name", args->name, "Scan name (default: the first folder's name)");
  args->detector.add_to(*cmd);
  cmd->add_option("-j,--threads", args->threads, "Worker threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--um-per-px", args->microns_per_pixel, "Pixel size, for areas and positions in µm")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--watch", args->watch, "Keep running: process each new image as soon as it is written (Ctrl-C stops)");
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  return [args] { return run_scan(*args); };
}

Runner add_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a scan's candidates as CSV, JSON or COCO");
  cmd->add_option("--db", args->db, "Scan database")->required();
  cmd->add_option("--scan", args->scan, "Scan name")->required();
  cmd->add_option("--format", args->format, "csv, json or coco")
      ->check(CLI::IsMember({"csv", "json", "coco"}))
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output file (written atomically)")->required();
  cmd->add_flag("--accepted", args->accepted, "Only the candidates accepted in review");
  return [args] { return run_export(*args); };
}

}  // namespace maskterial::cli
