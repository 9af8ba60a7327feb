#include "maskterial/optics/thin_film.hpp"

#include <cmath>

namespace maskterial::optics {
namespace {

// Macleod's matrices use N = n - ik; the public interface uses n + ik.
Complex macleod(Complex index) { return std::conj(index); }

// Tilted admittance (in units of the free-space admittance) and cos(theta) inside a medium, from Snell's law
// n0 sin(theta0) = N sin(theta). The principal square root picks the decaying wave for N = n - ik.
struct Medium {
  Complex cos_theta;
  Complex admittance;
};

Medium medium(Complex n, Complex snell_invariant, Polarization polarization) {
  const Complex sin_theta = snell_invariant / n;
  const Complex cos_theta = std::sqrt(Complex(1.0) - sin_theta * sin_theta);
  return {cos_theta, polarization == Polarization::S ? n * cos_theta : n / cos_theta};
}

}  // namespace

FilmResponse film_response(Complex ambient, const std::vector<Layer>& layers, Complex substrate,
                           double wavelength_nm, double sin_theta, Polarization polarization) {
  const Complex n0 = macleod(ambient);
  const Complex invariant = n0 * sin_theta;
  const Complex eta0 = medium(n0, invariant, polarization).admittance;
  const Complex eta_s = medium(macleod(substrate), invariant, polarization).admittance;

  // [B, C]^T = M_1 M_2 ... M_L [1, eta_s]^T, each M = [[cos d, i sin d / eta], [i eta sin d, cos d]].
  Complex m11 = 1, m12 = 0, m21 = 0, m22 = 1;
  for (const Layer& layer : layers) {
    const Complex n = macleod(layer.index);
    const Medium m = medium(n, invariant, polarization);
    const Complex delta = 2.0 * M_PI * n * layer.thickness_nm * m.cos_theta / wavelength_nm;
    const Complex c = std::cos(delta), s = std::sin(delta);
    const Complex a11 = c, a12 = Complex(0, 1) * s / m.admittance, a21 = Complex(0, 1) * m.admittance * s, a22 = c;
    const Complex n11 = m11 * a11 + m12 * a21, n12 = m11 * a12 + m12 * a22;
    const Complex n21 = m21 * a11 + m22 * a21, n22 = m21 * a12 + m22 * a22;
    m11 = n11, m12 = n12, m21 = n21, m22 = n22;
  }
  const Complex b = m11 + m12 * eta_s;
  const Complex c = m21 + m22 * eta_s;
  const Complex denominator = eta0 * b + c;
  const Complex r = (eta0 * b - c) / denominator;
  FilmResponse out;
  out.reflectance = std::norm(r);
  out.transmittance = 4.0 * eta0.real() * eta_s.real() / std::norm(denominator);
  return out;
}

double cone_reflectance(Complex ambient, const std::vector<Layer>& layers, Complex substrate, double wavelength_nm,
                        double numerical_aperture) {
  if (numerical_aperture <= 0) return film_response(ambient, layers, substrate, wavelength_nm).reflectance;
  // Midpoint rule in u = sin^2(theta): the pupil area element. Reflectance varies slowly with angle at the
  // NAs of microscope objectives (<= 0.9), so a few nodes suffice.
  constexpr int kNodes = 8;
  const double u_max = numerical_aperture * numerical_aperture;
  double sum = 0;
  for (int i = 0; i < kNodes; ++i) {
    const double sin_theta = std::sqrt((i + 0.5) / kNodes * u_max);
    sum += film_response(ambient, layers, substrate, wavelength_nm, sin_theta, Polarization::S).reflectance;
    sum += film_response(ambient, layers, substrate, wavelength_nm, sin_theta, Polarization::P).reflectance;
  }
  return sum / (2 * kNodes);
}

}  // namespace maskterial::optics
