#pragma once
// Reflection and transmission of a thin-film stack by the characteristic (transfer) matrix method
// (Born & Wolf, Principles of Optics, §1.6; Macleod, Thin-Film Optical Filters, ch. 2).
// Indices are given in the physics convention n + ik (k > 0 absorbs), as tabulated by refractiveindex.info.
#include <complex>
#include <vector>

namespace maskterial::optics {

using Complex = std::complex<double>;

struct Layer {
  Complex index;        // n + ik
  double thickness_nm = 0;
};

enum class Polarization { S, P };

struct FilmResponse {
  double reflectance = 0;    // R = |r|^2
  double transmittance = 0;  // into the (semi-infinite) substrate; R + T = 1 for lossless layers
};

// Stack: ambient (incidence side), layers in order from the ambient down, semi-infinite substrate.
// sin_theta is the sine of the angle of incidence in the ambient (0 = normal incidence).
FilmResponse film_response(Complex ambient, const std::vector<Layer>& layers, Complex substrate,
                           double wavelength_nm, double sin_theta = 0, Polarization polarization = Polarization::S);

// Reflectance for unpolarised light averaged over the illumination cone of an objective: uniform over the
// pupil (Köhler illumination), i.e. uniform in sin^2(theta) on [0, NA^2], mean of s and p. NA 0 = normal.
double cone_reflectance(Complex ambient, const std::vector<Layer>& layers, Complex substrate, double wavelength_nm,
                        double numerical_aperture);

}  // namespace maskterial::optics
