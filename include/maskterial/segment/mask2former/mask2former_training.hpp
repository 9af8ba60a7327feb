#pragma once
// The two ways MaskTerial trains its Mask2Former, as whole runs: pretraining a fresh network on the synthetic
// generator's stream, and fine-tuning a (pretrained) model on a few annotated real images with the backbone
// (and optionally the pixel decoder) frozen.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/segment/segmenter_training.hpp"

namespace maskterial::segment {

// Pretrains a network of `model` options from scratch on material-agnostic synthetic images (class-agnostic).
// `generator` overrides SyntheticSource::generator_config where given (JSON of synth::SynthConfig keys).
std::shared_ptr<Segmenter> pretrain_segmenter(const SegmenterOptions& model, const nlohmann::json& generator,
                                              const SegmenterTrainingRun& run);


// Fine-tunes `base` (a model directory) on the dataset, or a fresh network of `fresh` options when base is empty
// (the no-pretraining baseline). Backbone frozen; pixel decoder too when asked.
std::shared_ptr<Segmenter> finetune_segmenter(const std::string& base, const SegmenterOptions& fresh,
                                              const FinetuneData& data, bool freeze_pixel_decoder,
                                              const SegmenterTrainingRun& run);

}  // namespace maskterial::segment
