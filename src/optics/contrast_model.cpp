#include "maskterial/optics/contrast_model.hpp"

#include <cmath>

namespace maskterial::optics {

nlohmann::json OpticalSetup::to_json() const {
  return {{"oxide_nm", oxide_nm},
          {"numerical_aperture", numerical_aperture},
          {"contrast_gamma", {contrast_gamma[0], contrast_gamma[1], contrast_gamma[2]}}};
}

Bgr channel_reflectance(const OpticalSetup& setup, const std::vector<Film>& films) {
  const Spectra& s = setup.spectra;
  Bgr signal{}, white{};
  std::vector<Layer> stack(films.size() + 1);
  for (size_t i = 0; i < s.wavelength_nm.size(); ++i) {
    const double nm = s.wavelength_nm[i];
    for (size_t f = 0; f < films.size(); ++f) stack[f] = {films[f].index(nm), films[f].thickness_nm};
    stack.back() = {sio2_index(nm), setup.oxide_nm};
    const double r = cone_reflectance(1.0, stack, si_index(nm), nm, setup.numerical_aperture);
    for (int c = 0; c < 3; ++c) {
      const double weight = s.lamp[i] * s.camera_bgr[c][i];
      signal[c] += weight * r;
      white[c] += weight;
    }
  }
  for (int c = 0; c < 3; ++c) signal[c] = white[c] > 0 ? signal[c] / white[c] : 0.0;
  return signal;
}

Bgr film_contrast(const OpticalSetup& setup, const std::vector<Film>& films) {
  if (films.empty()) return {0, 0, 0};
  const Bgr substrate = channel_reflectance(setup, {});
  const Bgr covered = channel_reflectance(setup, films);
  Bgr contrast{};
  for (int c = 0; c < 3; ++c)
    if (substrate[c] > 0) contrast[c] = std::pow(covered[c] / substrate[c], setup.contrast_gamma[c]) - 1.0;
  return contrast;
}

Bgr layer_contrast(const OpticalSetup& setup, const Material& material, int layers) {
  if (layers <= 0) return {0, 0, 0};
  return film_contrast(setup, {{material.index, layers * material.layer_nm}});
}

}  // namespace maskterial::optics
