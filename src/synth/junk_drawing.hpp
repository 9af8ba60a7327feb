#pragma once
// Drawing the junk of real scans onto the canvas (see junk.hpp). Every function draws from `random`, the
// generator's junk stream, so that junk switched off leaves the rest of an image as it was.
#include <opencv2/core.hpp>

#include "canvas.hpp"
#include "maskterial/synth/generator.hpp"
#include "maskterial/synth/random.hpp"

namespace maskterial::synth {

// A thick crystal's look: a much brighter or darker tint than its optics (with config.tinted_crystal_share),
// else `optical`.
Bgr thick_crystal_factor(Random& random, const SynthConfig& config, const Bgr& optical);

// Paints a thick crystal's body (`mask` inside `roi`, CV_8U 0/1) with its edge blurred into the substrate over a
// 10-90 % width drawn from the config's range (with config.edge_blur_probability), else sharp. Returns its kind.
JunkKind paint_thick_crystal(Canvas& canvas, Random& random, const SynthConfig& config, const cv::Rect& roi,
                             const cv::Mat& mask, const Bgr& factor, int junk_id);

// A grid of lithographic markers with their letters (with config.marker_probability).
void draw_markers(Canvas& canvas, Random& random, const SynthConfig& config);
// Thin long lines (with config.scratch_probability).
void draw_scratches(Canvas& canvas, Random& random, const SynthConfig& config);
// Bright specks and irregular blobs, dark or bright (the dark specks are the generator's own).
void draw_specks_and_blobs(Canvas& canvas, Random& random, const SynthConfig& config);

// Multiplies tape residue's film (CV_32F in [0, 1]) by a low-frequency texture of relative strength
// config.residue_texture.
void texture_residue(cv::Mat& film, Random& random, const SynthConfig& config);
// Records residue where its film shows (and no flake or other junk lies), one junk object per blotch.
void record_residue(Canvas& canvas, const cv::Mat& film);

// Overexposure (with config.saturation_probability): per-channel gains that put B, R or both past 255 on most of
// the substrate (their mean at overshoot x 255), so that they clip, and the other channels' substrate at a mean of
// at most 220 (the camera's white balance), so that they do not. (1, 1, 1) for an image that is not overexposed.
// `background` (CV_32FC3) times `white_balance` is the substrate before the gains.
cv::Vec3d exposure_gain(Random& random, const SynthConfig& config, const cv::Mat& background, const Bgr& white_balance);

}  // namespace maskterial::synth
