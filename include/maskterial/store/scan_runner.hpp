#pragma once
// Fills a scan: registers image files and runs the detector over the ones not done yet, each image's
// candidates (with thumbnails) committed in their own transaction. Shared by `maskterial scan` and the
// server's scan jobs, so both store the same candidates for the same images.
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/core/flake.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/store/scan_store.hpp"

namespace maskterial::store {

struct ScanRunOptions {
  int threads = 0;        // detection threads; 0 = all cores
  bool progress = true;   // progress bar with ETA on stderr
  // Polled between images: once it says true, the images in flight are dropped (not stored) and the run ends.
  std::function<bool()> stop;
};

struct ScanRunSummary {
  size_t stored = 0;                // images committed, failed ones included
  size_t candidates = 0;
  std::vector<std::string> errors;  // "path: problem" of the images that failed
  bool stopped = false;
};

// Adds image files to the scan by absolute path, with their stage positions (file name or positions.csv
// beside them); images already in the scan are left as they are.
void register_images(ScanStore& store, int64_t scan_id, const std::vector<std::string>& paths);

// Candidates of a re-ranked scan (scan.score_model set) are scored by the re-ranked model, as the stored ones.
ScanRunSummary scan_pending(ScanStore& store, const ScanInfo& scan, const Detector& detector,
                            const ScanRunOptions& options);

// The settings a scan records: the detector's provenance plus the flake-score model it scores with (re-rank's
// prior, rerank.hpp kDetectorScoreModel).
nlohmann::json scan_settings(nlohmann::json provenance, const Detector& detector);

// A detected flake as the store keeps it, thumbnail included.
Candidate candidate_from_flake(const Flake& flake, const cv::Mat& bgr8);

}  // namespace maskterial::store
