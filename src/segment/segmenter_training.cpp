#include "maskterial/segment/segmenter_training.hpp"

#include <array>
#include <filesystem>
#include <map>
#include <thread>

#include <spdlog/spdlog.h>

#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"

namespace fs = std::filesystem;

namespace maskterial::segment {
namespace {

// Validation records [{iteration, sets: {name: scores}}], as a plot beside the loss.
void write_validation_plot(const std::string& path, const nlohmann::json& records, const TrainingLog& log) {
  std::map<std::string, PlotSeries> ap50, recall;
  for (const auto& r : records)
    for (const auto& [name, scores] : r.at("sets").items()) {
      PlotSeries& a = ap50[name];
      PlotSeries& b = recall[name];
      a.x.push_back(r.at("iteration").get<double>());
      a.y.push_back(scores.at("ap50").get<double>());
      b.x.push_back(a.x.back());
      b.y.push_back(scores.at("recall50").get<double>());
    }
  static const std::array<cv::Scalar, 4> colours = {cv::Scalar(200, 90, 30), cv::Scalar(30, 30, 220),
                                                    cv::Scalar(40, 160, 40), cv::Scalar(160, 40, 160)};
  std::vector<PlotSeries> scores;
  size_t i = 0;
  for (auto& [name, series] : ap50) {
    series.name = name + " AP50";
    series.colour = colours[i % colours.size()];
    scores.push_back(series);
    PlotSeries& r = recall.at(name);
    r.name = name + " recall@0.5";
    r.colour = colours[i++ % colours.size()] * 0.6;
    scores.push_back(r);
  }
  const std::vector<double> x(log.iteration.begin(), log.iteration.end());
  const cv::Mat left = render_line_plot({{"loss", x, log.loss, {40, 40, 40}}}, "training loss", "iteration");
  const cv::Mat right = render_line_plot(scores, "zero-shot on real images (never trained on)", "iteration");
  cv::Mat both;
  cv::hconcat(left, right, both);
  write_image_atomic(path, both);
}

}  // namespace

nlohmann::json run_training(const std::shared_ptr<torch::nn::Module>& module, const TrainingObjective& objective,
                            const SampleSource& data, const SegmenterTrainingRun& run, nlohmann::json provenance,
                            const std::function<SegmenterPtr()>& snapshot) {
  if (run.size < 32 || run.size % 32 != 0) throw Error("training size must be a positive multiple of 32");
  const std::string checkpoint = run.checkpoint_path();
  SegmentationTrainer trainer(module, objective, run.trainer, run.group);
  if (run.resume && fs::exists(checkpoint)) {
    trainer.load_checkpoint(checkpoint);
    spdlog::info("resuming from {} at iteration {}", checkpoint, trainer.iteration());
  } else if (run.resume) {
    spdlog::info("no checkpoint at {}: starting from iteration 0", checkpoint);
  }
  provenance["data"] = data.describe();
  const bool validating = !run.validation.empty() && snapshot;
  nlohmann::json records = nlohmann::json::array();
  if (validating && run.resume && fs::exists(run.validation_path())) records = read_json(run.validation_path());
  const auto validate = [&](int64_t iteration) {
    if (!records.empty() && records.back().at("iteration") == iteration) return;
    const SegmenterPtr model = snapshot();
    nlohmann::json sets = nlohmann::json::object();
    for (const ValidationSet& set : run.validation) sets[set.name] = validate_segmenter(*model, set).to_json();
    records.push_back({{"iteration", iteration}, {"sets", sets}});
    write_json_atomic(run.validation_path(), records, 1);
    spdlog::info("iteration {}: validation {}", iteration, sets.dump());
  };
  const auto after_step = [&](int64_t iteration) {
    if (validating && run.validate_every > 0 && iteration % run.validate_every == 0) validate(iteration);
  };
  trainer.train(data, checkpoint, provenance, after_step);
  if (validating) validate(trainer.iteration());
  provenance["trainer"] = trainer.options().to_json();
  provenance["log"] = trainer.log().to_json();
  provenance["processes"] = run.group ? run.group->world_size() : 1;
  provenance["threads_per_process"] = compute_threads();
  provenance["hardware_threads"] = std::thread::hardware_concurrency();
  if (validating) provenance["validation"] = records;
  return provenance;
}

void write_trained_model(const SegmenterTrainingRun& run, const nlohmann::json& provenance,
                         const std::function<void(const std::string& dir)>& save) {
  if (run.group && run.group->rank() != 0) return;
  save(run.out_dir);
  const TrainingLog log = TrainingLog::from_json(provenance.at("log"), run.out_dir);
  write_loss_plot((fs::path(run.out_dir) / "training_curves.png").string(), log,
                  provenance.value("mode", std::string("training")) + ": weighted loss terms");
  if (provenance.contains("validation"))
    write_validation_plot((fs::path(run.out_dir) / "learning_curve.png").string(), provenance.at("validation"), log);
}

std::string SegmenterTrainingRun::validation_path() const { return checkpoint_path() + ".validation.json"; }

std::string SegmenterTrainingRun::checkpoint_path() const {
  if (!checkpoint.empty()) return checkpoint;
  std::string dir = out_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + ".checkpoint.pt";
}

}  // namespace maskterial::segment
