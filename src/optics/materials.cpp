#include "maskterial/optics/materials.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cctype>

#include "maskterial/util/error.hpp"

namespace maskterial::optics {
namespace {

constexpr double kEvNm = 1239.84198;  // photon energy (eV) * wavelength (nm)

// Linear interpolation in a table sorted by wavelength, clamped at both ends.
struct IndexSample {
  double nm, n, k;
};
template <size_t N>
Complex interpolate(const std::array<IndexSample, N>& table, double nm) {
  if (nm <= table.front().nm) return {table.front().n, table.front().k};
  if (nm >= table.back().nm) return {table.back().n, table.back().k};
  const auto hi = std::upper_bound(table.begin(), table.end(), nm,
                                   [](double x, const IndexSample& s) { return x < s.nm; });
  const auto lo = hi - 1;
  const double t = (nm - lo->nm) / (hi->nm - lo->nm);
  return {lo->n + t * (hi->n - lo->n), lo->k + t * (hi->k - lo->k)};
}

// Sum of Lorentz oscillators, eps(E) = eps_inf + sum f / (E0^2 - E^2 - i gamma E), energies in eV.
struct Oscillator {
  double energy_ev, strength, width_ev;
};
Complex lorentz_index(double eps_inf, const std::vector<Oscillator>& oscillators, double nm) {
  const double e = kEvNm / nm;
  Complex eps = eps_inf;
  for (const auto& o : oscillators) eps += o.strength / Complex(o.energy_ev * o.energy_ev - e * e, -o.width_ev * e);
  return std::sqrt(eps);
}
// An oscillator given by its peak: Im eps at E0 equals peak_eps2.
Oscillator peak(double energy_ev, double peak_eps2, double width_ev) {
  return {energy_ev, peak_eps2 * width_ev * energy_ev, width_ev};
}

// Aspnes & Studna 1983, Table IV (300 K), converted from photon energy to wavelength.
constexpr std::array<IndexSample, 8> kSilicon{{
    {kEvNm / 3.1, 5.570, 0.387},
    {kEvNm / 3.0, 5.222, 0.269},
    {kEvNm / 2.75, 4.676, 0.145},
    {kEvNm / 2.5, 4.320, 0.073},
    {kEvNm / 2.25, 4.080, 0.043},
    {kEvNm / 2.0, 3.882, 0.019},
    {kEvNm / 1.75, 3.770, 0.009},
    {kEvNm / 1.5, 3.673, 0.005},
}};

std::vector<Material> build_table() {
  std::vector<Material> table;
  // Graphene: n = 2.6 + 1.3i, wavelength independent across the visible, Blake et al., Appl. Phys. Lett. 91,
  // 063124 (2007). (The dispersive 3.0 + i 5.446 um^-1 lambda / 3 of Bruna & Borini, APL 94, 031901 (2009)
  // absorbs too little in blue to reproduce the blue contrast measured on the GrapheneH images.) Layer: the
  // interlayer spacing of graphite, 0.335 nm.
  table.push_back({"graphene", 0.335, [](double) { return Complex(2.6, 1.3); }, "Blake et al., APL 91, 063124 (2007)"});
  // hBN: single-oscillator dispersion n^2 = 1 + 3.263 l^2 / (l^2 - 164.4^2) (l in nm), transparent in the
  // visible; Lee et al., Phys. Status Solidi B 256, 1800417 (2019). Layer 0.333 nm.
  table.push_back({"hbn", 0.333,
                   [](double nm) { return Complex(std::sqrt(1.0 + 3.263 * nm * nm / (nm * nm - 164.4 * 164.4)), 0.0); },
                   "Lee et al., Phys. Status Solidi B 256, 1800417 (2019)"});
  // Monolayer TMDs: Lorentz oscillators at the A, B, C(, D) exciton energies with the peak heights of Im eps
  // of Li et al., Phys. Rev. B 90, 205422 (2014) (spectroscopic ellipsometry of monolayers; read from their
  // figures, so the dispersion is approximate). Layer = half the bulk c axis.
  const auto mos2 = std::vector<Oscillator>{peak(1.88, 10, 0.06), peak(2.02, 12, 0.12), peak(2.87, 23, 0.40)};
  table.push_back({"mos2", 0.615, [mos2](double nm) { return lorentz_index(9.0, mos2, nm); },
                   "Li et al., PRB 90, 205422 (2014), Lorentz approximation"});
  const auto wse2 = std::vector<Oscillator>{peak(1.65, 9, 0.05), peak(2.08, 8, 0.10), peak(2.45, 14, 0.25),
                                            peak(2.90, 18, 0.40)};
  table.push_back({"wse2", 0.649, [wse2](double nm) { return lorentz_index(10.0, wse2, nm); },
                   "Li et al., PRB 90, 205422 (2014), Lorentz approximation"});
  const auto mose2 = std::vector<Oscillator>{peak(1.57, 10, 0.05), peak(1.78, 8, 0.10), peak(2.60, 22, 0.40)};
  table.push_back({"mose2", 0.646, [mose2](double nm) { return lorentz_index(12.0, mose2, nm); },
                   "Li et al., PRB 90, 205422 (2014), Lorentz approximation"});
  const auto ws2 = std::vector<Oscillator>{peak(2.01, 14, 0.04), peak(2.40, 7, 0.12), peak(2.85, 20, 0.35)};
  table.push_back({"ws2", 0.618, [ws2](double nm) { return lorentz_index(8.0, ws2, nm); },
                   "Li et al., PRB 90, 205422 (2014), Lorentz approximation"});
  // CrI3: no measured visible dispersion is compiled here; a constant estimate for a ~1.2 eV-gap insulator
  // with d-d absorption. Layer = c/3 of the bulk (McGuire et al., Chem. Mater. 27, 612 (2015)). Calibrate it.
  table.push_back({"cri3", 0.66, [](double) { return Complex(2.6, 0.4); },
                   "constant estimate (no dispersion); layer from McGuire et al., Chem. Mater. 27, 612 (2015)"});
  // TaS2 (metallic): constant index least-squares fitted to the 1- and 2-layer contrasts of the lab GMM for
  // TaS2 on 90 nm SiO2 (shared data gmm-params/tas2_90nm.json; rms 0.02); no dispersion. Layer = c of
  // 1T-TaS2, 0.59 nm.
  table.push_back({"tas2", 0.59, [](double) { return Complex(3.4, 1.3); },
                   "constant fitted to lab contrasts (tas2_90nm GMM), no dispersion"});
  return table;
}

}  // namespace

Complex sio2_index(double nm) {
  const double l2 = (nm / 1000.0) * (nm / 1000.0);
  const double n2 = 1.0 + 0.6961663 * l2 / (l2 - 0.0684043 * 0.0684043) + 0.4079426 * l2 / (l2 - 0.1162414 * 0.1162414) +
                    0.8974794 * l2 / (l2 - 9.896161 * 9.896161);
  return {std::sqrt(n2), 0.0};
}

Complex si_index(double nm) { return interpolate(kSilicon, nm); }

const std::vector<Material>& materials() {
  static const std::vector<Material> table = build_table();
  return table;
}

const Material& find_material(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& m : materials())
    if (m.name == lower) return m;
  std::string known;
  for (const auto& m : materials()) known += (known.empty() ? "" : ", ") + m.name;
  throw Error("unknown material '" + name + "' (known: " + known + ")");
}

}  // namespace maskterial::optics
