#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include <opencv2/imgproc.hpp>

#include "junk_drawing.hpp"

namespace maskterial::synth {
namespace {

constexpr double kEdgeWidthPerSigma = 2.5631;  // 10-90 % rise of a Gaussian-blurred step, in sigmas
constexpr float kResidueVisible = 0.25f;        // film share from which residue counts as a blotch
constexpr double kMaxUnclippedMean = 220;      // mean of a channel that is not to clip (white balance, if need be)

cv::Rect image_rect(const Canvas& canvas) { return {0, 0, canvas.regions.cols, canvas.regions.rows}; }

// Each channel of a tinted object: the same brightness change, shifted a little per channel.
Bgr tint(Random& random, double level, double spread) {
  Bgr factor;
  for (int c = 0; c < 3; ++c) factor[c] = std::max(0.02, level * random.uniform(1 - spread, 1 + spread));
  return factor;
}

// A 0/1 mask of what `draw` draws (in image coordinates) clipped to the image; roi = its bounding box.
template <class Draw>
void paint_drawn(Canvas& canvas, cv::Rect box, int region, int junk_id, Draw&& draw) {
  const cv::Rect roi = box & image_rect(canvas);
  if (roi.area() == 0) return;
  cv::Mat mask(roi.size(), CV_8U, cv::Scalar(0));
  draw(mask, cv::Point(-roi.x, -roi.y));
  if (cv::countNonZero(mask) > 0) canvas.paint(roi, mask, region, 0, junk_id);
}

cv::Point rounded(cv::Point2d p) { return {static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y))}; }

// Gold reflects red and green far more than the oxide does; etched oxide and thin metals darken it.
Bgr marker_factor(Random& random) {
  const double material = random.uniform();
  if (material < 0.5) return {random.uniform(0.8, 1.15), random.uniform(1.4, 2.0), random.uniform(1.5, 2.2)};
  if (material < 0.8) return tint(random, random.uniform(0.55, 0.85), 0.1);
  return tint(random, random.uniform(0.2, 0.45), 0.15);
}

// Chips number their fields as "C12", "12C" or "12-3".
std::string marker_label(int style, int column, int row) {
  const int c = ((column % 100) + 100) % 100, r = ((row % 26) + 26) % 26;
  switch (style) {
    case 0: return std::string(1, static_cast<char>('A' + r)) + std::to_string(c);
    case 1: return std::to_string(c) + std::string(1, static_cast<char>('A' + r));
    default: return std::to_string(c) + "-" + std::to_string(r);
  }
}

}  // namespace

Bgr thick_crystal_factor(Random& random, const SynthConfig& config, const Bgr& optical) {
  if (!random.chance(config.tinted_crystal_share)) return optical;
  return random.chance(0.5) ? tint(random, random.uniform(1.3, 2.0), 0.15) : tint(random, random.uniform(0.15, 0.6), 0.15);
}

JunkKind paint_thick_crystal(Canvas& canvas, Random& random, const SynthConfig& config, const cv::Rect& roi,
                             const cv::Mat& mask, const Bgr& factor, int junk_id) {
  if (!random.chance(config.edge_blur_probability)) {
    canvas.paint(roi, mask, factor, 0, junk_id);
    return JunkKind::thick_crystal;
  }
  const double sigma = random.uniform(config.edge_blur_min_px, config.edge_blur_max_px) / kEdgeWidthPerSigma;
  const int pad = static_cast<int>(std::ceil(3 * sigma)) + 1;
  const cv::Rect padded = cv::Rect(roi.x - pad, roi.y - pad, roi.width + 2 * pad, roi.height + 2 * pad) & image_rect(canvas);
  cv::Mat body(padded.size(), CV_8U, cv::Scalar(0));
  body(roi - padded.tl()).setTo(255, mask);
  // Replicated at the image's border: a crystal cut by the frame continues beyond it.
  cv::Mat weight;
  cv::GaussianBlur(body, weight, {0, 0}, sigma, sigma, cv::BORDER_REPLICATE);
  canvas.paint_soft(padded, weight, body, canvas.add_region(factor), junk_id);
  return JunkKind::blurred_crystal;
}

void draw_markers(Canvas& canvas, Random& random, const SynthConfig& config) {
  if (!random.chance(config.marker_probability)) return;
  const cv::Size size = canvas.regions.size();
  const double pitch = random.uniform(config.marker_pitch_min_px, config.marker_pitch_max_px);
  const double angle = random.uniform(-3, 3) * M_PI / 180;  // chips are mounted nearly square to the camera
  const cv::Point2d along(std::cos(angle), std::sin(angle)), across(-std::sin(angle), std::cos(angle));
  const cv::Point2d origin(random.uniform(0, pitch), random.uniform(0, pitch));
  const int shape = random.integer(0, 2);  // square, cross, L-mark: one kind per chip
  const double extent = pitch * random.uniform(0.06, 0.2);  // half the marker's size
  const int line = std::max(2, static_cast<int>(std::lround(extent * random.uniform(0.15, 0.35))));
  const int region = canvas.add_region(marker_factor(random));
  const bool labelled = random.chance(config.marker_label_probability);
  const int label_style = random.integer(0, 2);
  const int font = std::array<int, 3>{cv::FONT_HERSHEY_SIMPLEX, cv::FONT_HERSHEY_DUPLEX, cv::FONT_HERSHEY_PLAIN}[random.integer(0, 2)];
  const double text_height = std::max(8.0, extent * random.uniform(0.8, 1.6));
  const double font_scale = cv::getFontScaleFromHeight(font, static_cast<int>(text_height));
  const int text_thickness = std::max(1, static_cast<int>(text_height / random.uniform(6, 12)));
  const int first_row = random.integer(0, 25), first_column = random.integer(0, 40);

  const int reach = static_cast<int>(std::ceil((size.width + size.height) / pitch)) + 1;
  for (int j = -reach; j <= reach; ++j)
    for (int i = -reach; i <= reach; ++i) {
      const cv::Point2d centre = origin + along * (i * pitch) + across * (j * pitch);
      if (centre.x < -pitch || centre.y < -pitch || centre.x > size.width + pitch || centre.y > size.height + pitch) continue;
      const int r = static_cast<int>(std::ceil(extent)) + line + 2;
      paint_drawn(canvas, {rounded(centre) - cv::Point(r, r), cv::Size(2 * r + 1, 2 * r + 1)}, region,
                  canvas.add_junk(JunkKind::marker), [&](cv::Mat& mask, cv::Point shift) {
                    const cv::Point2d c = centre + cv::Point2d(shift);
                    const auto at = [&](double u, double v) { return rounded(c + along * u + across * v); };
                    if (shape == 0) {
                      const std::vector<cv::Point> corners{at(-extent, -extent), at(extent, -extent), at(extent, extent),
                                                           at(-extent, extent)};
                      cv::fillConvexPoly(mask, corners, cv::Scalar(1));
                    } else if (shape == 1) {
                      cv::line(mask, at(-extent, 0), at(extent, 0), cv::Scalar(1), line);
                      cv::line(mask, at(0, -extent), at(0, extent), cv::Scalar(1), line);
                    } else {
                      cv::line(mask, at(-extent, -extent), at(-extent, extent), cv::Scalar(1), line);
                      cv::line(mask, at(-extent, extent), at(extent, extent), cv::Scalar(1), line);
                    }
                  });
      if (!labelled) continue;
      const std::string text = marker_label(label_style, first_column + i, first_row + j);
      int baseline = 0;
      const cv::Size text_size = cv::getTextSize(text, font, font_scale, text_thickness, &baseline);
      const cv::Point origin_text = rounded(centre + along * (extent + line + 4) + across * (extent + line + 4)) +
                                    cv::Point(0, text_size.height);
      const cv::Rect box(origin_text - cv::Point(text_thickness + 1, text_size.height + text_thickness + 1),
                         text_size + cv::Size(2 * text_thickness + 2, baseline + 2 * text_thickness + 2));
      paint_drawn(canvas, box, region, canvas.add_junk(JunkKind::letter), [&](cv::Mat& mask, cv::Point shift) {
        cv::putText(mask, text, origin_text + shift, font, font_scale, cv::Scalar(1), text_thickness, cv::LINE_8);
      });
    }
}

void draw_scratches(Canvas& canvas, Random& random, const SynthConfig& config) {
  if (!random.chance(config.scratch_probability)) return;
  const cv::Size size = canvas.regions.size();
  const double diagonal = std::hypot(size.width, size.height);
  const int count = random.integer(1, config.max_scratches);
  for (int s = 0; s < count; ++s) {
    // A tweezer's or a tip's path: a few straight stretches whose direction drifts a little.
    const int thickness = random.integer(1, 3);
    const double length = diagonal * random.uniform(0.15, 0.8);
    double direction = random.uniform(0, 2 * M_PI);
    const int stretches = random.integer(2, 5);
    std::vector<cv::Point> path{cv::Point(random.integer(0, size.width - 1), random.integer(0, size.height - 1))};
    for (int k = 0; k < stretches; ++k) {
      direction += random.normal() * 0.08;
      const cv::Point2d step = cv::Point2d(std::cos(direction), std::sin(direction)) * (length / stretches);
      path.push_back(rounded(cv::Point2d(path.back()) + step));
    }
    const double change = random.uniform(0.08, 0.35) * (random.chance(0.5) ? 1 : -1);
    const int region = canvas.add_region(tint(random, 1 + change, 0.1 * std::abs(change)));
    paint_drawn(canvas, cv::boundingRect(path) + cv::Size(2 * thickness + 2, 2 * thickness + 2) - cv::Point(thickness + 1, thickness + 1),
                region, canvas.add_junk(JunkKind::scratch), [&](cv::Mat& mask, cv::Point shift) {
                  std::vector<cv::Point> shifted;
                  for (const cv::Point& p : path) shifted.push_back(p + shift);
                  cv::polylines(mask, shifted, false, cv::Scalar(1), thickness);
                });
  }
}

void draw_specks_and_blobs(Canvas& canvas, Random& random, const SynthConfig& config) {
  const cv::Size size = canvas.regions.size();
  const auto random_point = [&] { return cv::Point(random.integer(0, size.width - 1), random.integer(0, size.height - 1)); };
  const int specks = random.integer(0, config.max_bright_dirt);
  for (int i = 0; i < specks; ++i) {
    const cv::Point centre = random_point();
    const cv::Size axes(static_cast<int>(random.log_uniform(1, 5)), static_cast<int>(random.log_uniform(1, 5)));
    const double angle = random.uniform(0, 180);
    const int region = canvas.add_region(tint(random, random.uniform(1.15, 1.6), 0.1));
    paint_drawn(canvas, {centre - cv::Point(axes.width + 1, axes.height + 1), cv::Size(2 * axes.width + 3, 2 * axes.height + 3)}, region,
                canvas.add_junk(JunkKind::dirt), [&](cv::Mat& mask, cv::Point shift) {
                  cv::ellipse(mask, centre + shift, axes, angle, 0, 360, cv::Scalar(1), cv::FILLED);
                });
  }
  const int blobs = random.integer(0, config.max_dirt_blobs);
  for (int i = 0; i < blobs; ++i) {
    // A clump: a few overlapping ellipses.
    const cv::Point centre = random_point();
    const double radius = random.log_uniform(4, 25);
    struct Lobe {
      cv::Point centre;
      cv::Size axes;
      double angle;
    };
    std::vector<Lobe> lobes(static_cast<size_t>(random.integer(2, 5)));
    for (Lobe& lobe : lobes) {
      const double a = random.uniform(0, 2 * M_PI), d = radius * random.uniform(0, 0.7);
      lobe = {centre + rounded({std::cos(a) * d, std::sin(a) * d}),
              cv::Size(std::max(1, static_cast<int>(radius * random.uniform(0.3, 0.8))),
                       std::max(1, static_cast<int>(radius * random.uniform(0.3, 0.8)))),
              random.uniform(0, 180)};
    }
    const bool dark = random.chance(0.6);
    const int region = canvas.add_region(dark ? tint(random, random.uniform(0.3, 0.8), 0.1)
                                              : tint(random, random.uniform(1.15, 1.5), 0.1));
    const int r = static_cast<int>(std::ceil(radius * 1.6)) + 2;
    paint_drawn(canvas, {centre - cv::Point(r, r), cv::Size(2 * r + 1, 2 * r + 1)}, region,
                canvas.add_junk(JunkKind::dirt), [&](cv::Mat& mask, cv::Point shift) {
                  for (const Lobe& lobe : lobes)
                    cv::ellipse(mask, lobe.centre + shift, lobe.axes, lobe.angle, 0, 360, cv::Scalar(1), cv::FILLED);
                });
  }
}

void texture_residue(cv::Mat& film, Random& random, const SynthConfig& config) {
  if (config.residue_texture <= 0) return;
  // Structure a few tens of pixels across inside the blotches: the film's thickness varies.
  const cv::Size coarse(std::max(2, film.cols / 12), std::max(2, film.rows / 12));
  cv::Mat texture(coarse, CV_32F);
  cv::RNG rng(random.next());
  rng.fill(texture, cv::RNG::NORMAL, 0.0, 1.0);
  cv::GaussianBlur(texture, texture, {0, 0}, random.uniform(0.8, 2.0));
  cv::Scalar mean, deviation;
  cv::meanStdDev(texture, mean, deviation);
  texture = (texture - mean[0]) * (config.residue_texture / std::max(1e-6, deviation[0])) + 1.0;
  cv::Mat full;
  cv::resize(texture, full, film.size(), 0, 0, cv::INTER_LINEAR);
  film = film.mul(cv::max(full, 0.0));
}

void record_residue(Canvas& canvas, const cv::Mat& film) {
  cv::Mat blotches = (film > kResidueVisible) & (canvas.instances == 0) & (canvas.junk == 0);
  cv::Mat components;
  const int count = cv::connectedComponents(blotches, components, 8, CV_32S);
  std::vector<int> id(static_cast<size_t>(count), 0);
  for (int k = 1; k < count; ++k) id[static_cast<size_t>(k)] = canvas.add_junk(JunkKind::residue);
  for (int y = 0; y < components.rows; ++y) {
    const int* c = components.ptr<int>(y);
    uint16_t* junk = canvas.junk.ptr<uint16_t>(y);
    for (int x = 0; x < components.cols; ++x)
      if (c[x] > 0) junk[x] = static_cast<uint16_t>(id[static_cast<size_t>(c[x])]);
  }
}

cv::Vec3d exposure_gain(Random& random, const SynthConfig& config, const cv::Mat& background, const Bgr& white_balance) {
  cv::Vec3d gain(1, 1, 1);
  if (!random.chance(config.saturation_probability)) return gain;
  const int which = random.integer(0, 3);  // B, R, or both (twice as likely: a pink oxide is bright in both)
  const bool clip[3] = {which != 1, false, which != 0};
  const cv::Scalar mean = cv::mean(background);
  double substrate[3], smallest_clipping_gain = INFINITY;
  for (int c = 0; c < 3; ++c) substrate[c] = std::max(1.0, mean[c] * white_balance[c]);
  for (int c = 0; c < 3; ++c)
    if (clip[c]) {
      gain[c] = std::max(1.0, random.uniform(config.saturation_overshoot_min, config.saturation_overshoot_max) * 255 / substrate[c]);
      smallest_clipping_gain = std::min(smallest_clipping_gain, gain[c]);
    }
  for (int c = 0; c < 3; ++c)
    if (!clip[c]) gain[c] = std::min(kMaxUnclippedMean / substrate[c], smallest_clipping_gain);
  return gain;
}

const std::string& junk_kind_name(JunkKind kind) {
  static const std::array<std::string, kJunkKinds> names{"thick_crystal", "blurred_crystal", "marker", "letter",
                                                         "scratch",       "residue",         "dirt"};
  return names.at(static_cast<size_t>(kind) - 1);
}

}  // namespace maskterial::synth
