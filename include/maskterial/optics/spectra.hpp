#pragma once
// What the camera sees of a reflectance spectrum: the lamp's spectrum times the R, G, B sensitivities of the
// sensor, sampled on one wavelength grid. The defaults model a halogen lamp (3200 K black body) and a typical
// colour CMOS sensor with an IR-cut filter; a user replaces either with a measured curve from a text file.
#include <array>
#include <string>
#include <vector>

namespace maskterial::optics {

struct Spectra {
  std::vector<double> wavelength_nm;        // uniform grid
  std::vector<double> lamp;                 // relative power
  std::array<std::vector<double>, 3> camera_bgr;  // relative sensitivity of the B, G, R channels
};

// 400-750 nm in 5 nm steps with the default lamp and camera.
Spectra default_spectra();

// Text files, one sample per line, '#' starts a comment, separators blank or comma:
// lamp: "wavelength_nm power"; camera: "wavelength_nm b g r". Resampled linearly onto the grid (0 outside the
// file's range). Throw Error naming the file and line on malformed or empty input.
void load_lamp(Spectra& spectra, const std::string& path);
void load_camera(Spectra& spectra, const std::string& path);

}  // namespace maskterial::optics
