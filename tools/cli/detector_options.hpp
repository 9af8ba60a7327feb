#pragma once
// Options that pick and tune a detector, shared by `detect`, `classify` and `eval --images`.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "maskterial/pipeline/detector.hpp"

namespace maskterial::cli {

struct DetectorCliOptions {
  std::string classifier_path;  // empty = built-in graphene GMM
  std::string compat;           // "" or "2dmatgmm"
  std::string flat_field;
  // Empty = the shipped segmentation model (flakes from the classifier alone where it is missing or with
  // --compat); "none" = flakes from the classifier alone; else a model directory.
  std::string segmenter_path;
  double score_threshold = segment::kDefaultScoreThreshold;
  std::string flake_score_path;  // empty = the classifier's, else the segmenter's flake_score.json; "none"
  DetectorOptions detector;

  // with_segmenter: also offer --segmenter and its options (commands that extract flakes).
  void add_to(CLI::App& command, bool with_segmenter = true);
  // Throws Error naming the file on unreadable models.
  std::unique_ptr<Detector> build() const;
  std::string model_name() const;
  // detect's default pipeline (shipped segmentation model, its settings) with this classifier.
  static DetectorCliOptions default_pipeline(const std::string& classifier_dir);
  // Which models (path or built-in name, content hash) and rules produce the results, for every output.
  nlohmann::json provenance() const;

  std::string segmenter_dir() const;  // the model directory used, empty for none

 private:
  std::string flake_score_file() const;  // the flake score model used, empty for none
  bool offers_segmenter_ = false;
};

}  // namespace maskterial::cli
