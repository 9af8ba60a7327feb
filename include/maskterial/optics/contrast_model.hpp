#pragma once
// Predicted optical contrast of a flake on SiO2/Si as a colour camera records it: C = I_flake / I_substrate - 1
// per channel (B, G, R), the same quantity image/contrast.hpp measures on images.
#include <array>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/optics/materials.hpp"
#include "maskterial/optics/spectra.hpp"

namespace maskterial::optics {

struct OpticalSetup {
  double oxide_nm = 90;              // SiO2 thickness on the Si wafer
  double numerical_aperture = 0;     // 0: normal incidence; else averaged over the illumination cone
  // Per-channel tone response of the camera, fitted by calibration: recorded ratio = (physical ratio)^gamma,
  // i.e. C' = (1 + C)^gamma - 1 (a power-law tone curve; 1 = linear). White-balance gains alone cancel in C.
  Bgr contrast_gamma{1, 1, 1};
  Spectra spectra = default_spectra();

  nlohmann::json to_json() const;  // oxide_nm, numerical_aperture, contrast_gamma
};

// One film of a flake: a dispersive index and a thickness. N layers of a 2D material act as one film of
// N x layer thickness, the approximation the Fresnel contrast literature uses.
struct Film {
  IndexFunction index;
  double thickness_nm = 0;
};

// Camera-weighted reflectance of the films (top first) on the oxide: per channel
// sum(lamp * sensitivity * R) / sum(lamp * sensitivity). No films = bare substrate.
Bgr channel_reflectance(const OpticalSetup& setup, const std::vector<Film>& films);

// Contrast of the films against the bare substrate, with the setup's tone response applied.
Bgr film_contrast(const OpticalSetup& setup, const std::vector<Film>& films);
// `layers` layers of a material (0 layers: zero contrast).
Bgr layer_contrast(const OpticalSetup& setup, const Material& material, int layers);

}  // namespace maskterial::optics
