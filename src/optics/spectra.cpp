#include "maskterial/optics/spectra.hpp"

#include <cmath>
#include <sstream>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::optics {
namespace {

// Planck's law up to a constant; 3200 K is the colour temperature of a halogen microscope lamp at full power.
double black_body(double nm, double kelvin) {
  constexpr double kHcOverK = 1.438777e7;  // h c / k_B in nm K
  return 1.0 / (std::pow(nm, 5) * (std::exp(kHcOverK / (nm * kelvin)) - 1.0));
}

double gaussian(double x, double centre, double sigma) { return std::exp(-0.5 * std::pow((x - centre) / sigma, 2)); }

// A colour CMOS sensor behind its IR-cut filter: Bayer dye peaks near 460, 535 and 600 nm (e.g. the Sony
// IMX sensors of microscope cameras), the red channel cut off around 650 nm.
std::array<double, 3> default_camera(double nm) {
  const double ir_cut = 1.0 / (1.0 + std::exp((nm - 655.0) / 12.0));
  return {gaussian(nm, 460, 24), gaussian(nm, 535, 30), gaussian(nm, 600, 28) * ir_cut};
}

std::vector<std::vector<double>> read_columns(const std::string& path, size_t columns) {
  std::istringstream in(read_file(path));
  std::vector<std::vector<double>> rows;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (char& c : line)
      if (c == ',' || c == ';' || c == '\t') c = ' ';
    std::istringstream fields(line);
    std::vector<double> row;
    double value;
    while (fields >> value) row.push_back(value);
    if (!fields.eof()) throw file_error(path, "line " + std::to_string(number) + ": not a number");
    if (row.empty()) continue;
    if (row.size() != columns)
      throw file_error(path, "line " + std::to_string(number) + ": expected " + std::to_string(columns) + " columns");
    if (!rows.empty() && row[0] <= rows.back()[0])
      throw file_error(path, "line " + std::to_string(number) + ": wavelengths must increase");
    rows.push_back(row);
  }
  if (rows.size() < 2) throw file_error(path, "needs at least two samples");
  return rows;
}

// Column `column` of the file at each grid wavelength, linear in between, 0 outside.
std::vector<double> resample(const std::vector<std::vector<double>>& rows, size_t column,
                             const std::vector<double>& grid) {
  std::vector<double> out(grid.size(), 0.0);
  size_t j = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    const double x = grid[i];
    if (x < rows.front()[0] || x > rows.back()[0]) continue;
    while (j + 1 < rows.size() && rows[j + 1][0] < x) ++j;
    const auto& a = rows[j];
    const auto& b = rows[std::min(j + 1, rows.size() - 1)];
    const double t = b[0] > a[0] ? (x - a[0]) / (b[0] - a[0]) : 0.0;
    out[i] = a[column] + t * (b[column] - a[column]);
  }
  return out;
}

}  // namespace

Spectra default_spectra() {
  Spectra s;
  for (double nm = 400; nm <= 750; nm += 5) {
    s.wavelength_nm.push_back(nm);
    s.lamp.push_back(black_body(nm, 3200) / black_body(560, 3200));
    const auto camera = default_camera(nm);
    for (int c = 0; c < 3; ++c) s.camera_bgr[c].push_back(camera[c]);
  }
  return s;
}

void load_lamp(Spectra& spectra, const std::string& path) {
  spectra.lamp = resample(read_columns(path, 2), 1, spectra.wavelength_nm);
}

void load_camera(Spectra& spectra, const std::string& path) {
  const auto rows = read_columns(path, 4);
  for (int c = 0; c < 3; ++c) spectra.camera_bgr[c] = resample(rows, 1 + c, spectra.wavelength_nm);
}

}  // namespace maskterial::optics
