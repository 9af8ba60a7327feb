#pragma once
// What fine-tuning trains on: the lab's few annotated images and, with its unannotated scans (finetune
// --unlabelled), synthetic flakes of the contrasts measured on the annotated ones drawn on those scans'
// substrates (their own flakes painted out). Fine-tuning then sees this microscope's substrate, lamp, noise and
// JPEG many times over instead of in 3-5 images.
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/image/contrast.hpp"
#include "maskterial/segment/augment.hpp"
#include "maskterial/segment/segmenter_training.hpp"
#include "maskterial/segment/training_data.hpp"

namespace maskterial::segment {

// The contrast of each annotated flake, weakest first: per channel the median over its pixels (edges eroded) in
// the channels its image measures, 0 in a saturated or dark one. Flakes of fewer than 20 pixels are left out;
// an unreadable image is skipped with a warning.
std::vector<Bgr> annotated_flake_contrasts(const coco::Dataset& dataset, const std::string& images_dir);

// An unlabelled scan made a substrate: its flakes like the annotated ones painted out (look-alikes would be
// unlabelled flakes among the labelled synthetic ones); everything else stays, since this microscope's thick
// crystals, their halos (thin strips), markers and dirt are the junk the model must learn to leave out. Throws
// Error (in words) when no channel shows the substrate.
cv::Mat unlabelled_substrate(const cv::Mat& bgr8, const std::vector<Bgr>& contrasts);

struct FinetuningSource {
  std::shared_ptr<const SampleSource> samples;
  // With unlabelled scans: the generator of their synthetic images. Images of another seed are ones the model
  // never saw, of this microscope, which a score calibration needs (the annotated images it has learnt by heart).
  std::shared_ptr<const synth::Generator> unlabelled;
};

// The annotated images (CocoSource), mixed with data.unlabelled_share of synthetic samples when
// data.unlabelled_dirs is given. `augment` is the fine-tuning augmentation with the model's scale. Throws Error
// when the unlabelled folders hold no usable scan or the annotations no measurable flake. show_progress: a bar
// while the scans are read and cleaned.
FinetuningSource finetuning_source(const FinetuneData& data, cv::Size size, const AugmentOptions& augment,
                                   bool show_progress = false);

}  // namespace maskterial::segment
