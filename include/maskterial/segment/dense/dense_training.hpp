#pragma once
// Training the dense model: pretraining from scratch on synthetic images (material-agnostic optics drawn on
// real substrates with their flakes painted out, mixed with synthetic substrates) and fine-tuning on a few
// annotated real images with the encoder frozen, so a handful of images cannot undo what pretraining learnt.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/segment/dense/dense_targets.hpp"
#include "maskterial/segment/segmenter_training.hpp"

namespace maskterial::segment {

struct DensePretraining {
  DenseOptions model;
  nlohmann::json generator;                     // synth::SynthConfig keys overriding the defaults
  std::vector<std::string> background_folders;  // real scans whose substrates the flakes are drawn on
  double background_flake_threshold = 0.02;     // |C| above which a background pixel is painted out
  double real_background_share = 0.7;           // of images on a real substrate; the rest get synthetic ones
};

// CPU schedules: AdamW, poly decay; a CNN from scratch wants a larger rate and looser clipping than a transformer.
TrainerOptions dense_pretraining_schedule(int64_t iterations);
TrainerOptions dense_finetuning_schedule();
// Crop side (network-input pixels) the schedules are meant for.
constexpr int kDenseTrainingSize = 256;

TrainingObjective dense_objective(DenseNet network, DenseLossWeights weights = {});

// An image and its true flakes (CV_8U masks, nonzero inside).
struct AnnotatedImage {
  cv::Mat bgr8;
  std::vector<cv::Mat> flakes;
};
// Fits the network's score calibration on images it was not trained on: each instance it finds is real when
// it matches an unmatched true flake at IoU >= 0.5 (best score first). Returns the record for model.json.
nlohmann::json calibrate_scores(DenseNet network, const std::vector<AnnotatedImage>& images);

std::shared_ptr<DenseSegmenter> pretrain_dense(const DensePretraining& pretraining, const SegmenterTrainingRun& run);

// Fine-tunes the dense model directory `base`, or a fresh network of `fresh` options when base is empty (the
// no-pretraining baseline). Frozen parts: run.frozen, by default the encoder.
std::shared_ptr<DenseSegmenter> finetune_dense(const std::string& base, const DenseOptions& fresh, const FinetuneData& data,
                                               const SegmenterTrainingRun& run);

}  // namespace maskterial::segment
