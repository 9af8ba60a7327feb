#pragma once
// Flake outlines. Exfoliated crystals of hexagonal 2D materials cleave along their zigzag or armchair
// directions, which repeat every 60 degrees, so their edges are straight and meet at 60 or 120 degrees
// (240 at re-entrant corners). A cleaved piece is modelled as the intersection of six half-planes whose
// normals are 60 degrees apart; larger flakes are unions of a few such pieces sharing the lattice angle.
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/synth/random.hpp"

namespace maskterial::synth {

using Polygon = std::vector<cv::Point2d>;

// Intersection of half-planes {p : (p - centre) . (cos a_k, sin a_k) <= distance_k}, a_k = lattice_angle +
// k * 60 deg; distances > 0. Vertices in order; empty only if degenerate.
Polygon cleaved_piece(cv::Point2d centre, double lattice_angle, const std::vector<double>& distances);

// A random cleaved piece of about `radius` (the distances vary between 0.35 and 1 radius, stretched up to
// `max_elongation` along one lattice direction).
Polygon random_piece(Random& random, cv::Point2d centre, double radius, double lattice_angle, double max_elongation);

// A flake: 1-3 overlapping pieces of one lattice angle around `centre`, total extent about `radius`.
std::vector<Polygon> random_flake(Random& random, cv::Point2d centre, double radius, double lattice_angle,
                                  double max_elongation);

// Fills the union of the polygons with `value` in `image` (any single-channel type), clipped to the image.
void fill_polygons(cv::Mat& image, const std::vector<Polygon>& polygons, double value);

}  // namespace maskterial::synth
