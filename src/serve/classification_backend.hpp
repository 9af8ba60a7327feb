#pragma once
// Everything the server knows about classification models sits behind these functions: how a model directory
// is loaded, how a detector is built from a loaded model, and how a model is trained. The models are the
// library's classifiers (classify/pixel_classifier.hpp: GMM, AMM, MLP) in any directory load_classifier
// reads: maskterial's own (model.json + files), MaskTerial's AMM/MLP directories, or one 2DMatGMM JSON file.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/score/flake_score.hpp"
#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial::serve {

// A loaded model, immutable once built and shared read-only by every request that uses it.
struct ClassificationModel {
  std::string type;         // "gmm", "amm" or "mlp"
  std::string description;  // model.json "description", if any
  ClassifierPtr classifier;
  score::FlakeScorePtr flake_score;  // the lab's re-fit kept in the directory (flake_score.json), if any
  std::vector<std::string> class_names() const;
};

// Loads and validates a model directory; throws Error naming the file and the problem.
std::shared_ptr<const ClassificationModel> load_classification_model(const std::filesystem::path& dir);

// The built-in graphene GMM (core/embedded_models.hpp) and the files of its model directory (name, content).
std::shared_ptr<const ClassificationModel> builtin_classification_model();
std::vector<std::pair<std::string, std::string>> builtin_classification_model_files();

// Trains a classifier of the given type ("gmm", "amm", "mlp") from a COCO dataset whose file names are relative
// to images_dir and writes its model directory into out_dir. progress(fraction in [0, 1], stage) is called as
// training advances. Returns the problems with skipped images (training went on without them), then the images
// used without some of their channels (saturated or dark), and why.
// With a segmenter (detect's default one; segmenter_dir: where it lies, for the flake score shipped with it),
// the flake score is then re-fitted on the pipeline's candidates on the training images and kept in out_dir,
// as `train-classifier` does (score/score_fitting.hpp).
using TrainingProgress = std::function<void(double fraction, const std::string& stage)>;
std::vector<std::string> train_classification_model(const std::string& type, const coco::Dataset& dataset,
                                                    const std::string& images_dir,
                                                    const std::filesystem::path& out_dir,
                                                    const TrainingProgress& progress,
                                                    const segment::SegmenterPtr& segmenter = {},
                                                    const std::filesystem::path& segmenter_dir = {});

}  // namespace maskterial::serve
