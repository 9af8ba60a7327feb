#pragma once
// Runs a detector over many images on a pool of threads, in input order for the consumer, with a progress
// bar. A bad image is reported and skipped; it never stops the batch.
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/core/flake.hpp"

namespace maskterial {

struct BatchItem {
  size_t index = 0;
  std::string path;
  cv::Mat image;          // empty if loading failed
  Detection detection;
  std::string error;      // non-empty if loading or detection failed
  double detect_ms = 0;
};

using FinishFunction = std::function<void(BatchItem& item)>;

struct BatchOptions {
  int threads = 0;        // 0 = all cores
  bool progress = true;
  std::string label = "detect";
  // Optional, run on the worker thread right after a successful detection (e.g. encoding and writing the
  // overlay, so that work is spread over the cores too); an exception becomes the item's error.
  FinishFunction finish_on_worker;
};

struct BatchSummary {
  size_t succeeded = 0;
  std::vector<std::string> errors;  // "path: problem"
};

using DetectFunction = std::function<Detection(const cv::Mat& bgr8, const std::string& path)>;
// Called on the calling thread, strictly in input order, once per path (also for failures).
using ConsumeFunction = std::function<void(BatchItem& item)>;

BatchSummary run_batch(const std::vector<std::string>& paths, const DetectFunction& detect,
                       const ConsumeFunction& consume, const BatchOptions& options = {});

}  // namespace maskterial
