#pragma once
// The synthetic flake image generator. Each image: a substrate background (real or synthetic), bulk
// crystals, thin flakes with terraces of several layer counts, and the junk of real scans (junk.hpp: blurred
// crystal edges, markers and letters, scratches, tape residue, dirt); rendered physically as background x (1 + C)
// with C from the thin-film optics (optics/), then blur, sensor noise, sometimes overexposure, JPEG artefacts
// and white-balance jitter. Labels: one instance per region of one layer count (the flake's class); junk is
// never a flake (unlabelled, as in the real datasets) and is recorded apart. Deterministic per (seed, index).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/optics/contrast_model.hpp"
#include "maskterial/synth/backgrounds.hpp"
#include "maskterial/synth/junk.hpp"

namespace maskterial::synth {

// Every knob with its default; `maskterial synth --config FILE` overrides any subset.
struct SynthConfig {
  int width = 1024;
  int height = 1024;
  std::string material = "graphene";  // optics::find_material name; unused when agnostic
  bool agnostic = false;              // random optical constants, layer and oxide thickness per image
  double oxide_nm = 90;
  double oxide_jitter_nm = 3;         // per image, uniform +-
  int max_layers = 10;                // classes 1..max_layers
  int min_flakes = 1;
  int max_flakes = 6;
  double min_flake_px = 24;           // flake extent (diameter), log-uniform between these
  double max_flake_px = 420;
  double max_elongation = 3;
  double terrace_probability = 0.5;
  double bulk_probability = 0.4;      // per image, one large thick unlabelled crystal
  // Thick crystals' edges: a faint rim (defocus, shadowing) whose contrast can look like a thin layer's — the
  // classifiers' main false positives. Per thick crystal; unlabelled.
  double halo_probability = 0.5;
  double halo_max_px = 6;             // rim width, uniform in [1, max]
  double halo_max_contrast = 0.15;    // |C| of the rim, uniform up to this
  int max_bulk_fragments = 15;        // small thick fragments per image (unlabelled)
  // Share of thin flakes that grow out of a thick crystal's edge (where images have thick crystals): a common
  // sight in real scans and a hard one, thin and thick touching.
  double attached_flake_share = 0.3;
  double residue_probability = 0.5;
  int max_dirt = 25;
  double blur_sigma_min = 0.4;        // px, optics and focus
  double blur_sigma_max = 1.4;
  double noise_sigma_min = 0.8;       // 8-bit levels
  double noise_sigma_max = 3.5;
  double jpeg_probability = 0.5;
  int jpeg_quality_min = 70;
  int jpeg_quality_max = 95;
  double white_balance_jitter = 0.08; // per-channel gain 1 +- this
  double vignetting_max = 0.25;       // synthetic backgrounds: relative light loss at the corners
  double illumination_gradient_max = 0.12;  // relative change across the image
  double unevenness_max = 0.04;       // faint low-frequency mottling
  // With a library of real backgrounds: the share of images drawn on one (the rest get synthetic substrates).
  double real_background_share = 1.0;
  double exposure_min = 110;          // brightest background channel, 8-bit levels
  double exposure_max = 215;
  // Ranges of the material-agnostic mode (MaskTerial pretrains on randomised optics).
  double agnostic_n_min = 1.5, agnostic_n_max = 5.0;
  double agnostic_k_max = 3.0;
  // Share of agnostic images whose material is a transparent dielectric (n 1.5..2.4, k < 0.05, hBN-like): its
  // thin layers have contrasts of a few per cent, the hardest flakes to see.
  double agnostic_transparent_share = 0.25;
  double agnostic_layer_nm_min = 0.3, agnostic_layer_nm_max = 1.0;
  double agnostic_oxide_min_nm = 60, agnostic_oxide_max_nm = 300;

  // Junk that fools the pipeline on real scans (docs/synthetic_junk.md). It is drawn from a random stream of its
  // own: with all of these at 0 an image is exactly what it was without them.
  // Per thick crystal: its edge blurred into the substrate, 10-90 % width uniform in [min, max] px, so that the
  // transition passes through every contrast between substrate and crystal, thin layers' included.
  double edge_blur_probability = 0.5;
  double edge_blur_min_px = 1;
  double edge_blur_max_px = 15;
  double tinted_crystal_share = 0.3;     // thick crystals much brighter (x1.3-2) or darker (x0.15-0.6) than optics
  double marker_probability = 0.2;       // per image: a grid of lithographic markers (gold, etched or dark)
  double marker_pitch_min_px = 150;      // grid pitch, uniform in [min, max]
  double marker_pitch_max_px = 450;
  double marker_label_probability = 0.7; // per grid: letters and numbers beside every marker
  double scratch_probability = 0.25;     // per image: 1..max_scratches thin long lines
  int max_scratches = 3;
  double residue_texture = 0.5;          // relative low-frequency thickness variation inside tape residue
  int max_bright_dirt = 10;              // bright specks per image (the dark ones: max_dirt)
  int max_dirt_blobs = 4;                // irregular clumps per image, dark or bright
  // Per image: B, R or both overexposed until they clip at 255 (a pink oxide under a bright lamp); the gain puts
  // the channel's mean at overshoot x 255, uniform in [min, max].
  double saturation_probability = 0.15;
  double saturation_overshoot_min = 1.0;
  double saturation_overshoot_max = 1.5;

  // Measured flake contrasts (BGR, C = I / I_bg - 1), weakest first. When given, thin flakes take these instead
  // of the optics' layer contrasts (class n = entry n; a terrace steps to a stronger entry), each scaled by
  // 1 +- flake_contrast_jitter per image: the flakes a lab has annotated, drawn anew (finetune --unlabelled).
  std::vector<Bgr> flake_contrasts;
  static constexpr size_t kMaxFlakeContrasts = 100;
  double flake_contrast_jitter = 0.1;
  // Classes of the labelled flakes: the measured contrasts' count, else max_layers.
  int flake_classes() const;

  // This config with the junk above (edge_blur_probability .. saturation_overshoot_max) switched off: the images
  // the generator made before it, exactly.
  SynthConfig without_scan_junk() const;

  nlohmann::json to_json() const;
  // Missing keys keep their defaults; unknown keys and invalid values throw Error naming `source`.
  static SynthConfig from_json(const nlohmann::json& json, const std::string& source);
  void validate() const;  // throws Error
};

// One generated image with its labels.
struct SynthSample {
  cv::Mat image;              // CV_8UC3, BGR
  cv::Mat instance_ids;       // CV_16U, 0 = unlabelled, k = instance k (1-based, all present)
  std::vector<int> classes;   // classes[k - 1] = layer count of instance k
  std::vector<cv::Mat> instance_masks() const;  // one CV_8U 0/1 mask per instance, in id order
  // Junk (never a flake: no pixel carries both a junk and an instance id): CV_16U, 0 = none, k = object k.
  cv::Mat junk_ids;
  std::vector<JunkKind> junk_kinds;  // junk_kinds[k - 1] = kind of junk object k
  cv::Vec3d exposure_gain{1, 1, 1};  // BGR; above 1 where a channel was overexposed (and clips at 255)
};

class Generator {
 public:
  // backgrounds may be null or empty: synthetic backgrounds then.
  Generator(SynthConfig config, std::shared_ptr<const BackgroundLibrary> backgrounds = nullptr,
            optics::Spectra spectra = optics::default_spectra());

  // Image `index` of the run with seed `seed`; thread-safe.
  SynthSample generate(uint64_t seed, uint64_t index) const;

  const SynthConfig& config() const { return config_; }

 private:
  SynthConfig config_;
  std::shared_ptr<const BackgroundLibrary> backgrounds_;
  optics::Spectra spectra_;
};

}  // namespace maskterial::synth
