#include "maskterial/score/score_fitting.hpp"

#include <algorithm>
#include <filesystem>

#include "maskterial/image/io.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/progress.hpp"

namespace maskterial::score {

std::vector<Example> label_candidates(const std::vector<Flake>& candidates, const std::vector<coco::Rle>& truth,
                                      double match_iou) {
  std::vector<coco::Rle> found;
  for (const Flake& f : candidates) found.push_back(f.segmentation);
  const auto overlaps = truth.empty() || found.empty() ? std::vector<std::vector<double>>()
                                                       : coco::iou(found, truth, std::vector<uint8_t>(truth.size(), 0));
  std::vector<Example> examples;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].evidence.empty()) continue;
    bool match = false;
    for (size_t j = 0; j < truth.size() && !match; ++j) match = overlaps[i][j] >= match_iou;
    examples.push_back({candidates[i].evidence, match});
  }
  return examples;
}

FlakeScoreModel fit_flake_score(const Detector& detector, const AnnotatedImages& images, const FlakeScoreModel* prior,
                                ScoreFitReport* report, bool show_progress) {
  ScoreFitReport local;
  ScoreFitReport& r = report ? *report : local;
  std::vector<Example> examples;
  ProgressBar bar(images.dataset.images.size(), "flake score", show_progress);
  for (const coco::ImageInfo& info : images.dataset.images) {
    const std::string path = (std::filesystem::path(images.images_dir) / info.file_name).string();
    try {
      const Detection detection = detector.detect(load_image(path), path);
      std::vector<coco::Rle> truth;
      for (const coco::Annotation* a : images.dataset.annotations_of(info.id)) truth.push_back(a->segmentation);
      const std::vector<Example> labelled = label_candidates(detection.flakes, truth);
      for (const Example& e : labelled) r.positives += e.positive;
      r.candidates += static_cast<int>(labelled.size());
      r.annotations += static_cast<int>(truth.size());
      ++r.images;
      examples.insert(examples.end(), labelled.begin(), labelled.end());
    } catch (const Error& e) {
      r.skipped.push_back(e.what());
    }
    bar.advance();
  }
  bar.finish();
  const FlakeScoreFitOptions options;
  FlakeScoreModel model = FlakeScoreModel::fit(examples, prior, options);
  if (std::min(r.positives, r.candidates - r.positives) >= options.min_examples_per_kind)
    model.info()["fitted_on"] = {{"images", r.images}, {"candidates", r.candidates}, {"true_flakes", r.positives},
                                 {"annotations", r.annotations}};
  return model;
}

}  // namespace maskterial::score
