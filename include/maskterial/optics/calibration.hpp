#pragma once
// Fitting the optics to a user's microscope, and a GMM classifier built from the physics alone.
// The free parameters are the oxide thickness and the per-channel tone response (contrast_gamma of
// OpticalSetup); a handful of flakes of known layer count determine them.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/optics/contrast_model.hpp"

namespace maskterial::optics {

struct MeasuredContrast {
  int layers = 0;
  Bgr contrast{};
  size_t pixels = 0;  // how many pixels the value stands for (0 when it comes from a model file)
};

struct CalibrationOptions {
  double oxide_min_nm = 50;
  double oxide_max_nm = 350;
  // Pulls each channel's gamma towards 1 (ridge weight in log-ratio units): keeps the fit well posed when
  // only one layer count is measured.
  double gamma_prior = 0.01;
};

struct Calibration {
  OpticalSetup setup;                   // the fitted setup
  std::vector<MeasuredContrast> measured;
  std::vector<Bgr> predicted;           // per measured entry, with the fitted setup
  double rms_residual = 0;              // over all channels and entries, contrast units
  nlohmann::json to_json() const;
};

// Grid search over the oxide thickness (1 nm, then 0.1 nm around the best); at each thickness the gammas
// have a closed form (least squares of log ratios). Throws Error if `measured` is empty.
Calibration calibrate(const Material& material, const std::vector<MeasuredContrast>& measured,
                      const OpticalSetup& start, const CalibrationOptions& options = {});

// Median contrast per layer count of annotated flakes: category names that are integers are layer counts
// (else the category id is). Pixels as train-classifier extracts them (eroded masks, training background rule).
std::vector<MeasuredContrast> measure_contrasts(const coco::Dataset& dataset, const std::string& images_dir);
// Class means of a GMM parameter file whose class names are layer counts.
std::vector<MeasuredContrast> gmm_contrasts(const GmmClassifier& gmm);

// Zero-shot classifier: one Gaussian per layer count 1..max_layers centred on the predicted contrast, with
// covariance sigma^2 I (sigma in contrast units: pixel noise plus thickness and focus variation).
GmmClassifier physics_gmm(const OpticalSetup& setup, const Material& material, int max_layers, double sigma);

}  // namespace maskterial::optics
