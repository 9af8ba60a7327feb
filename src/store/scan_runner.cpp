#include "maskterial/store/scan_runner.hpp"

#include <filesystem>
#include <map>

#include "maskterial/pipeline/batch.hpp"
#include "maskterial/score/evidence.hpp"
#include "maskterial/store/rerank.hpp"
#include "maskterial/store/stage_positions.hpp"
#include "maskterial/store/thumbnail.hpp"
#include "maskterial/util/error.hpp"

namespace fs = std::filesystem;

namespace maskterial::store {

void register_images(ScanStore& store, int64_t scan_id, const std::vector<std::string>& paths) {
  std::map<std::string, std::map<std::string, StagePosition>> positions_by_folder;
  std::vector<ImageRecord> images;
  for (const std::string& given : paths) {
    const fs::path path = fs::absolute(given).lexically_normal();
    ImageRecord image;
    image.path = path.string();
    image.name = path.filename().string();
    const std::string folder = path.parent_path().string();
    auto listed = positions_by_folder.find(folder);
    if (listed == positions_by_folder.end()) listed = positions_by_folder.emplace(folder, read_stage_positions(folder)).first;
    std::optional<StagePosition> stage = stage_position_from_name(image.name);
    if (const auto it = listed->second.find(image.name); it != listed->second.end()) stage = it->second;
    if (stage) image.stage_x_um = stage->first, image.stage_y_um = stage->second;
    images.push_back(std::move(image));
  }
  store.add_images(scan_id, images);
}

Candidate candidate_from_flake(const Flake& flake, const cv::Mat& bgr8) {
  Candidate c;
  c.class_id = flake.class_id;
  c.class_name = flake.class_name;
  c.detected_class = flake.class_name;
  c.score = c.detector_score = flake.score;
  c.uncertainty = flake.uncertainty;
  c.area_px = flake.area;
  c.bbox = flake.bbox;
  c.center = flake.center;
  c.mean_contrast_bgr = flake.mean_contrast_bgr;
  c.evidence = flake.evidence;
  c.rle = coco::to_json(flake.segmentation);
  c.thumbnail_jpeg = candidate_thumbnail(bgr8, flake);
  return c;
}

ScanRunSummary scan_pending(ScanStore& store, const ScanInfo& scan, const Detector& detector,
                            const ScanRunOptions& options) {
  const std::vector<ImageRecord> pending = store.pending_images(scan.id);
  std::vector<std::string> paths;
  for (const ImageRecord& image : pending) paths.push_back(image.path);
  const auto stopping = [&] { return options.stop && options.stop(); };
  std::optional<score::FlakeScoreModel> reranked;
  if (scan.score_model.is_object()) reranked = score::FlakeScoreModel::from_json(scan.score_model, "the scan's re-ranked flake score");
  ScanRunSummary summary;
  // Candidates are built (thumbnails encoded) on the worker threads, beside the detection.
  std::vector<std::vector<Candidate>> built(paths.size());
  BatchOptions batch;
  batch.threads = options.threads;
  batch.progress = options.progress;
  batch.label = "scan " + scan.name;
  batch.finish_on_worker = [&](BatchItem& item) {
    for (const Flake& flake : item.detection.flakes) {
      built[item.index].push_back(candidate_from_flake(flake, item.image));
      if (reranked && flake.evidence.size() == score::evidence_names().size())
        built[item.index].back().score = reranked->probability(flake.evidence);
    }
    item.image.release();
  };
  const auto detect = [&](const cv::Mat& bgr8, const std::string& path) {
    if (stopping()) throw Error("scan stopped");
    return detector.detect(bgr8, path);
  };
  const auto consume = [&](BatchItem& item) {
    if (stopping()) {  // not stored: a later run does it again
      summary.stopped = true;
      return;
    }
    ImageResult result;
    result.error = item.error;
    result.width = item.detection.width;
    result.height = item.detection.height;
    result.background_bgr = item.detection.background_bgr;
    store.save_image(scan.id, pending[item.index].id, result, built[item.index]);
    ++summary.stored;
    summary.candidates += built[item.index].size();
    if (!item.error.empty()) summary.errors.push_back(item.error);
    built[item.index].clear();
  };
  run_batch(paths, detect, consume, batch);
  return summary;
}

nlohmann::json scan_settings(nlohmann::json provenance, const Detector& detector) {
  const score::FlakeScoreModel* model = detector.flake_score();
  provenance[kDetectorScoreModel] = model && !model->empty() ? model->to_json() : nlohmann::json();
  return provenance;
}

}  // namespace maskterial::store
