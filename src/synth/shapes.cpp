#include "maskterial/synth/shapes.hpp"

#include <cmath>

#include <opencv2/imgproc.hpp>

namespace maskterial::synth {
namespace {

// Sutherland-Hodgman: keeps the part of `polygon` with (p - origin) . normal <= distance.
Polygon clip(const Polygon& polygon, cv::Point2d origin, cv::Point2d normal, double distance) {
  Polygon out;
  const auto side = [&](const cv::Point2d& p) { return (p - origin).dot(normal) - distance; };
  for (size_t i = 0; i < polygon.size(); ++i) {
    const cv::Point2d& a = polygon[i];
    const cv::Point2d& b = polygon[(i + 1) % polygon.size()];
    const double sa = side(a), sb = side(b);
    if (sa <= 0) out.push_back(a);
    if ((sa <= 0) != (sb <= 0)) out.push_back(a + (b - a) * (sa / (sa - sb)));
  }
  return out;
}

}  // namespace

Polygon cleaved_piece(cv::Point2d centre, double lattice_angle, const std::vector<double>& distances) {
  double extent = 0;
  for (double d : distances) extent = std::max(extent, d);
  extent *= 4;  // a start square that contains every possible intersection
  Polygon polygon{centre + cv::Point2d(-extent, -extent), centre + cv::Point2d(extent, -extent),
                  centre + cv::Point2d(extent, extent), centre + cv::Point2d(-extent, extent)};
  for (size_t k = 0; k < distances.size() && polygon.size() >= 3; ++k) {
    const double a = lattice_angle + k * M_PI / 3.0;
    polygon = clip(polygon, centre, {std::cos(a), std::sin(a)}, distances[k]);
  }
  return polygon.size() >= 3 ? polygon : Polygon{};
}

Polygon random_piece(Random& random, cv::Point2d centre, double radius, double lattice_angle, double max_elongation) {
  const int stretched = random.integer(0, 2);  // the lattice direction (and its opposite) to stretch along
  const double elongation = random.uniform(1.0, max_elongation);
  std::vector<double> distances(6);
  for (int k = 0; k < 6; ++k) {
    distances[k] = radius * random.uniform(0.35, 1.0);
    if (k % 3 != stretched) distances[k] /= std::sqrt(elongation);
    else distances[k] *= std::sqrt(elongation);
  }
  return cleaved_piece(centre, lattice_angle, distances);
}

std::vector<Polygon> random_flake(Random& random, cv::Point2d centre, double radius, double lattice_angle,
                                  double max_elongation) {
  std::vector<Polygon> pieces;
  const int count = random.integer(1, 3);
  for (int i = 0; i < count; ++i) {
    // Later pieces are smaller and sit on the first one's rim: re-entrant corners, as on real flakes.
    const double r = i == 0 ? radius : radius * random.uniform(0.3, 0.7);
    const double angle = random.uniform(0, 2 * M_PI);
    const double shift = i == 0 ? 0.0 : radius * random.uniform(0.3, 0.8);
    const cv::Point2d c = centre + cv::Point2d(std::cos(angle), std::sin(angle)) * shift;
    Polygon piece = random_piece(random, c, r, lattice_angle, max_elongation);
    if (!piece.empty()) pieces.push_back(std::move(piece));
  }
  return pieces;
}

void fill_polygons(cv::Mat& image, const std::vector<Polygon>& polygons, double value) {
  // fillPoly takes fixed-point vertices: 4 fractional bits place edges at sub-pixel precision.
  constexpr int kShift = 4;
  for (const auto& polygon : polygons) {
    std::vector<cv::Point> points;
    points.reserve(polygon.size());
    for (const auto& p : polygon)
      points.emplace_back(cvRound(p.x * (1 << kShift)), cvRound(p.y * (1 << kShift)));
    cv::fillPoly(image, std::vector<std::vector<cv::Point>>{points}, cv::Scalar::all(value), cv::LINE_8, kShift);
  }
}

}  // namespace maskterial::synth
