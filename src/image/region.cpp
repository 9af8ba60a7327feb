#include "maskterial/image/region.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

double norm(const Bgr& c) { return std::sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]); }

Bgr to_bgr(const cv::Scalar& s) { return {s[0], s[1], s[2]}; }

// Median |contrast| over a regular sample of the pixels: most of a scan is substrate, so this is its noise.
double median_contrast_norm(const cv::Mat& contrast) {
  std::vector<float> norms;
  const int step = std::max(1, static_cast<int>(std::sqrt(contrast.total() / 100000.0)));
  for (int y = 0; y < contrast.rows; y += step) {
    const cv::Vec3f* row = contrast.ptr<cv::Vec3f>(y);
    for (int x = 0; x < contrast.cols; x += step) norms.push_back(static_cast<float>(cv::norm(row[x])));
  }
  std::nth_element(norms.begin(), norms.begin() + norms.size() / 2, norms.end());
  return norms[norms.size() / 2];
}

// The 4-connected component of `mask` that holds `seed` (0/1 CV_8U; empty result if seed is not set).
cv::Mat component_at(const cv::Mat& mask, cv::Point seed) {
  cv::Mat out = cv::Mat::zeros(mask.size(), CV_8U);
  if (!mask.at<uint8_t>(seed)) return out;
  cv::Mat labels;
  cv::connectedComponents(mask, labels, 4, CV_32S);
  cv::compare(labels, labels.at<int>(seed), out, cv::CMP_EQ);
  return out / 255;
}

// Cuts touching flakes apart: an opening with a disk of `fraction` x the half-width at the seed removes narrow
// necks; the seed's part of what remains is grown back by the same disk, inside the original region.
cv::Mat cut_necks(const cv::Mat& region, cv::Point seed, double fraction) {
  cv::Mat distance;
  cv::distanceTransform(region, distance, cv::DIST_L2, 5);
  const int radius = static_cast<int>(std::clamp(fraction * distance.at<float>(seed), 1.0, 20.0));
  const cv::Mat disk = cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * radius + 1, 2 * radius + 1});
  cv::Mat opened;
  cv::morphologyEx(region, opened, cv::MORPH_OPEN, disk);
  if (!opened.at<uint8_t>(seed)) return region;  // the seed sits in a neck itself: nothing to cut by
  cv::Mat core = component_at(opened, seed), grown;
  cv::dilate(core, grown, disk);
  return component_at(grown & region, seed);
}

// Holes that do not reach the image border become part of the region.
void fill_holes(cv::Mat& region) {
  cv::Mat outside = region.clone();
  cv::Mat padded;
  cv::copyMakeBorder(outside, padded, 1, 1, 1, 1, cv::BORDER_CONSTANT, 0);
  cv::floodFill(padded, cv::Point(0, 0), 1, nullptr, 0, 0, 4);
  const cv::Mat holes = padded(cv::Rect(1, 1, region.cols, region.rows)) == 0;
  region.setTo(1, holes);
}

}  // namespace

void RegionOptions::validate() const {
  if (!(tolerance > 0 && tolerance <= 1)) throw Error("region tolerance must be in (0, 1]");
  if (!(smoothing_sigma >= 0 && smoothing_sigma <= 10)) throw Error("region smoothing sigma must be in [0, 10]");
  if (seed_radius < 0 || seed_radius > 20) throw Error("region seed radius must be in [0, 20]");
  if (!(neck_fraction >= 0 && neck_fraction <= 1)) throw Error("region neck fraction must be in [0, 1]");
  if (!(noise_factor >= 0) || !(min_seed_contrast >= 0)) throw Error("region seed thresholds must be >= 0");
  if (!(max_area_fraction > 0 && max_area_fraction <= 1)) throw Error("region max area fraction must be in (0, 1]");
  if (!(guide_floor >= 0 && guide_floor <= 1)) throw Error("region guide floor must be in [0, 1]");
}

Region grow_region(const cv::Mat& bgr8, cv::Point seed, const RegionOptions& options, const cv::Mat& flake_probability) {
  options.validate();
  if (bgr8.type() != CV_8UC3 || bgr8.empty()) throw Error("grow_region: expected an 8-bit BGR image");
  if (!cv::Rect(0, 0, bgr8.cols, bgr8.rows).contains(seed))
    throw Error("point (" + std::to_string(seed.x) + ", " + std::to_string(seed.y) + ") is outside the " +
                std::to_string(bgr8.cols) + "x" + std::to_string(bgr8.rows) + " image");
  if (!flake_probability.empty() && flake_probability.type() != CV_32F)
    throw Error("grow_region: the flake probability map must be CV_32F");

  Region region;
  region.mask = cv::Mat::zeros(bgr8.size(), CV_8U);
  region.background = substrate_colour(bgr8);
  const cv::Mat contrast = contrast_image(bgr8, region.background);
  cv::Mat smooth = contrast;
  if (options.smoothing_sigma > 0) cv::GaussianBlur(contrast, smooth, cv::Size(), options.smoothing_sigma);

  const int r = options.seed_radius;
  const cv::Rect window = cv::Rect(seed.x - r, seed.y - r, 2 * r + 1, 2 * r + 1) & cv::Rect(0, 0, bgr8.cols, bgr8.rows);
  region.seed_contrast = to_bgr(cv::mean(smooth(window)));
  const double seed_norm = norm(region.seed_contrast);
  const double floor = std::max(options.min_seed_contrast, options.noise_factor * median_contrast_norm(smooth));
  if (seed_norm < floor) {
    char text[160];
    std::snprintf(text, sizeof text, "no flake here: the contrast at the point (%.3f) is within the substrate's "
                  "noise (%.3f)", seed_norm, floor);
    region.reason = text;
    return region;
  }

  // Distance of every pixel's contrast to the seed's, against its tolerance.
  const cv::Scalar seed_scalar(region.seed_contrast[0], region.seed_contrast[1], region.seed_contrast[2]);
  const cv::Mat distance = contrast_norm(smooth - seed_scalar);
  cv::Mat allowed(bgr8.size(), CV_32F, cv::Scalar(options.tolerance * seed_norm));
  if (!flake_probability.empty()) {
    cv::Mat guide;
    cv::resize(flake_probability, guide, bgr8.size(), 0, 0, cv::INTER_LINEAR);
    allowed = allowed.mul(guide + options.guide_floor);
  }
  const cv::Mat accepted = (distance <= allowed) / 255;
  cv::Mat grown = component_at(accepted, seed);
  if (grown.at<uint8_t>(seed) == 0) {
    region.reason = "no flake here: the contrast at the point itself is outside the tolerance (an edge?)";
    return region;
  }
  if (options.neck_fraction > 0) grown = cut_necks(grown, seed, options.neck_fraction);
  fill_holes(grown);

  region.area = cv::countNonZero(grown);
  if (region.area > options.max_area_fraction * static_cast<double>(bgr8.total())) {
    region.area = 0;
    region.reason = "no flake here: the region leaks into the substrate (more than " +
                    std::to_string(static_cast<int>(100 * options.max_area_fraction)) +
                    "% of the image); lower the tolerance";
    return region;
  }
  region.found = true;
  region.mask = grown;
  region.bbox = cv::boundingRect(grown);
  region.mean_contrast = to_bgr(cv::mean(contrast, grown));
  return region;
}

}  // namespace maskterial
