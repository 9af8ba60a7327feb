#pragma once
// The synthetic flake image generator. Each image: a substrate background (real or synthetic), bulk
// crystals, thin flakes with terraces of several layer counts, tape residue and dirt; rendered physically as
// background x (1 + C) with C from the thin-film optics (optics/), then blur, sensor noise, JPEG artefacts
// and white-balance jitter. Labels: one instance per region of one layer count (the flake's class); bulk,
// residue and dirt are unlabelled, as in the real datasets. Deterministic per (seed, index).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/optics/contrast_model.hpp"
#include "maskterial/synth/backgrounds.hpp"

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
