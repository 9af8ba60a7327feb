#pragma once
// Optical constants: the substrate (SiO2 on Si) and a small table of 2D materials, each with its source cited
// in materials.cpp. Wavelengths in nm, indices n + ik.
#include <functional>
#include <string>
#include <vector>

#include "maskterial/optics/thin_film.hpp"

namespace maskterial::optics {

using IndexFunction = std::function<Complex(double wavelength_nm)>;

struct Material {
  std::string name;         // lower case, as `maskterial optics --material` takes it
  double layer_nm = 0;      // thickness of one layer (interlayer spacing of the bulk crystal)
  IndexFunction index;
  std::string source;       // where the constants come from (one line, for `optics --json` and docs)
};

// Thermal SiO2: Sellmeier fit of Malitson, J. Opt. Soc. Am. 55, 1205 (1965).
Complex sio2_index(double wavelength_nm);
// Crystalline Si: Aspnes & Studna, Phys. Rev. B 27, 985 (1983), interpolated in wavelength.
Complex si_index(double wavelength_nm);

// graphene, hbn, mos2, wse2, mose2, ws2, cri3, tas2.
const std::vector<Material>& materials();
// Case-insensitive lookup; throws Error listing the known names.
const Material& find_material(const std::string& name);

}  // namespace maskterial::optics
