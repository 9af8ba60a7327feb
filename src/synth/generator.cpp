#include "maskterial/synth/generator.hpp"

#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "canvas.hpp"
#include "junk_drawing.hpp"
#include "maskterial/synth/shapes.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::synth {
namespace {

using optics::Complex;

constexpr uint64_t kJunkStream = 0x3c6ef372fe94f82bULL;  // the junk's random stream, apart from the image's

// The optics of one image: 1 + C for each layer count, and what to draw thick crystals with.
struct ImageOptics {
  optics::OpticalSetup setup;
  optics::IndexFunction index;
  double layer_nm = 0;
  std::vector<Bgr> layer_factor;     // [n] = 1 + C of n layers, n = 0..max_layers
  std::vector<Bgr> measured_factor;  // [n - 1] = 1 + C of labelled class n, from SynthConfig::flake_contrasts

  Bgr factor_of(int layers) const {
    if (layers < static_cast<int>(layer_factor.size())) return layer_factor[layers];
    const Bgr c = optics::film_contrast(setup, {{index, layers * layer_nm}});
    return {1 + c[0], 1 + c[1], 1 + c[2]};
  }
  // A labelled flake's: the measured contrasts when given (thick crystals keep the optics').
  Bgr flake_factor(int n) const { return measured_factor.empty() ? factor_of(n) : measured_factor[static_cast<size_t>(n - 1)]; }
};

ImageOptics image_optics(const SynthConfig& config, const optics::Spectra& spectra, Random& random) {
  ImageOptics o;
  o.setup.spectra = spectra;
  if (config.agnostic) {
    // A made-up material: index n + ik with a linear dispersion across the visible.
    const bool transparent = random.chance(config.agnostic_transparent_share);
    const double n = transparent ? random.uniform(1.5, 2.4) : random.uniform(config.agnostic_n_min, config.agnostic_n_max);
    const double k = transparent ? random.uniform(0, 0.05)
                                 : config.agnostic_k_max * std::pow(random.uniform(), 1.5);  // transparent ones are common
    const double dn = random.uniform(-0.3, 0.3), dk = random.uniform(-0.3, 0.3) * k;
    o.index = [=](double nm) {
      const double t = (nm - 575.0) / 175.0;
      return Complex(std::max(1.2, n + dn * t), std::max(0.0, k + dk * t));
    };
    o.layer_nm = random.uniform(config.agnostic_layer_nm_min, config.agnostic_layer_nm_max);
    o.setup.oxide_nm = random.uniform(config.agnostic_oxide_min_nm, config.agnostic_oxide_max_nm);
  } else {
    const optics::Material& material = optics::find_material(config.material);
    o.index = material.index;
    o.layer_nm = material.layer_nm;
    o.setup.oxide_nm = config.oxide_nm + random.uniform(-config.oxide_jitter_nm, config.oxide_jitter_nm);
  }
  if (!config.flake_contrasts.empty()) {
    const double scale = 1 + random.uniform(-config.flake_contrast_jitter, config.flake_contrast_jitter);
    for (const Bgr& c : config.flake_contrasts)
      o.measured_factor.push_back({1 + c[0] * scale, 1 + c[1] * scale, 1 + c[2] * scale});
  }
  o.layer_factor.push_back({1, 1, 1});
  for (int layers = 1; layers <= config.max_layers; ++layers) {
    const Bgr c = optics::film_contrast(o.setup, {{o.index, layers * o.layer_nm}});
    o.layer_factor.push_back({1 + c[0], 1 + c[1], 1 + c[2]});
  }
  return o;
}

// Substrate colour a camera white-balanced somewhere between "on a mirror" (the oxide's interference colour)
// and "on the substrate" (gray), at a random exposure.
Bgr substrate_colour(const SynthConfig& config, const ImageOptics& optics, Random& random) {
  const Bgr r = optics::channel_reflectance(optics.setup, {});
  const double brightest = std::max({r[0], r[1], r[2]});
  const double gray = random.uniform();
  const double exposure = random.uniform(config.exposure_min, config.exposure_max);
  Bgr colour;
  for (int c = 0; c < 3; ++c) colour[c] = exposure * (gray + (1 - gray) * r[c] / brightest);
  return colour;
}

cv::Rect bounds(const std::vector<Polygon>& polygons, cv::Size size) {
  double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
  for (const auto& polygon : polygons)
    for (const auto& p : polygon) x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  if (x0 > x1) return {};
  const cv::Rect box(cv::Point(static_cast<int>(std::floor(x0)) - 1, static_cast<int>(std::floor(y0)) - 1),
                     cv::Point(static_cast<int>(std::ceil(x1)) + 2, static_cast<int>(std::ceil(y1)) + 2));
  return box & cv::Rect(0, 0, size.width, size.height);
}

// Mask of the polygons inside roi (coordinates shifted to the roi).
cv::Mat polygon_mask(const std::vector<Polygon>& polygons, const cv::Rect& roi) {
  std::vector<Polygon> shifted = polygons;
  for (auto& polygon : shifted)
    for (auto& p : polygon) p -= cv::Point2d(roi.x, roi.y);
  cv::Mat mask(roi.size(), CV_8U, cv::Scalar(0));
  fill_polygons(mask, shifted, 1);
  return mask;
}

// A rim around a thick crystal (painted first; the crystal then covers its inside).
void draw_halo(Canvas& canvas, Random& random, const SynthConfig& config, const std::vector<Polygon>& outline,
               const cv::Rect& crystal_roi, int junk_id) {
  const int width = static_cast<int>(std::lround(random.uniform(1, config.halo_max_px)));
  const cv::Rect roi = cv::Rect(crystal_roi.tl() - cv::Point(width, width), crystal_roi.size() + cv::Size(2 * width, 2 * width)) &
                       cv::Rect(0, 0, canvas.regions.cols, canvas.regions.rows);
  const cv::Mat inside = polygon_mask(outline, roi);
  cv::Mat rim;
  cv::dilate(inside, rim, cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * width + 1, 2 * width + 1}));
  rim = rim & (inside == 0);
  const double strength = random.uniform(-config.halo_max_contrast, config.halo_max_contrast);
  Bgr factor;
  for (int c = 0; c < 3; ++c) factor[c] = 1 + strength * random.uniform(0.6, 1.2);
  canvas.paint(roi, rim, factor, 0, junk_id);
}

// A crystal with up to `terraces` thicker steps inside it (nothing if it lies outside the image). Unlabelled
// ones are junk: their look and edge come from the junk stream.
void draw_crystal(Canvas& canvas, Random& random, Random& junk, const SynthConfig& config, const ImageOptics& optics,
                  cv::Point2d centre, double radius, int layers, int terraces, bool labelled) {
  const cv::Size size = canvas.regions.size();
  const double lattice = random.uniform(0, M_PI / 3);
  const std::vector<Polygon> outline = random_flake(random, centre, radius, lattice, config.max_elongation);
  const cv::Rect roi = bounds(outline, size);
  if (roi.area() == 0) return;
  const cv::Mat mask = polygon_mask(outline, roi);
  const int junk_id = labelled ? 0 : canvas.add_junk(JunkKind::thick_crystal);
  if (!labelled && random.chance(config.halo_probability)) draw_halo(canvas, random, config, outline, roi, junk_id);
  const auto factor = [&](int n) { return labelled ? optics.flake_factor(n) : optics.factor_of(n); };
  const Bgr optical = factor(layers);
  const Bgr body = labelled ? optical : thick_crystal_factor(junk, config, optical);
  const bool tinted = body != optical;
  if (labelled) canvas.paint(roi, mask, body, layers);
  else canvas.junk_kinds[junk_id - 1] = paint_thick_crystal(canvas, junk, config, roi, mask, body, junk_id);
  for (int t = 0; t < terraces; ++t) {
    const int step_layers = labelled ? std::min(config.flake_classes(), layers + random.integer(1, 3))
                                     : static_cast<int>(layers * random.uniform(1.2, 2.5));
    if (step_layers == layers) break;
    const double angle = random.uniform(0, 2 * M_PI);
    const cv::Point2d c = centre + cv::Point2d(std::cos(angle), std::sin(angle)) * radius * random.uniform(0, 0.5);
    const std::vector<Polygon> step{random_piece(random, c, radius * random.uniform(0.2, 0.6), lattice,
                                                 config.max_elongation)};
    cv::Mat step_mask = polygon_mask(step, roi) & mask;
    if (cv::countNonZero(step_mask) == 0) continue;
    Bgr step_factor = body;
    if (tinted) {
      const double darker_or_brighter = junk.uniform(0.75, 1.25);
      for (double& f : step_factor) f *= darker_or_brighter;
    } else {
      step_factor = factor(step_layers);
    }
    canvas.paint(roi, step_mask, step_factor, labelled ? step_layers : 0, junk_id);
    layers = step_layers;
  }
}

void draw_dirt(Canvas& canvas, Random& random, int count) {
  const cv::Size size = canvas.regions.size();
  for (int i = 0; i < count; ++i) {
    const cv::Point centre(random.integer(0, size.width - 1), random.integer(0, size.height - 1));
    const cv::Size axes(static_cast<int>(random.log_uniform(1, 7)), static_cast<int>(random.log_uniform(1, 7)));
    const cv::Rect roi = cv::Rect(centre - cv::Point(axes.width + 1, axes.height + 1),
                                  cv::Size(2 * axes.width + 3, 2 * axes.height + 3)) &
                         cv::Rect(0, 0, size.width, size.height);
    cv::Mat mask(roi.size(), CV_8U, cv::Scalar(0));
    cv::ellipse(mask, centre - roi.tl(), axes, random.uniform(0, 180), 0, 360, cv::Scalar(1), cv::FILLED);
    const double darkness = random.uniform(0.15, 0.75);
    const Bgr factor{1 - darkness * random.uniform(0.8, 1.1), 1 - darkness, 1 - darkness * random.uniform(0.8, 1.1)};
    canvas.paint(roi, mask, factor, 0, canvas.add_junk(JunkKind::dirt));
  }
}

// Tape residue: smooth blobs of a faint, slightly coloured film; a field in [0, 1], full size, CV_32F.
cv::Mat residue_field(Random& random, cv::Size size) {
  const cv::Size coarse(std::max(2, size.width / 32), std::max(2, size.height / 32));
  cv::Mat noise(coarse, CV_32F);
  cv::RNG rng(random.next());
  rng.fill(noise, cv::RNG::UNIFORM, 0.0, 1.0);
  cv::GaussianBlur(noise, noise, {0, 0}, random.uniform(1.0, 2.5));
  double lo, hi;
  cv::minMaxLoc(noise, &lo, &hi);
  const double threshold = lo + (hi - lo) * random.uniform(0.6, 0.85);
  noise = (noise - threshold) / std::max(1e-6, (hi - threshold) * 0.5);
  cv::Mat field;
  cv::resize(cv::max(cv::min(noise, 1.0), 0.0), field, size, 0, 0, cv::INTER_CUBIC);
  return cv::max(cv::min(field, 1.0), 0.0);
}

// I = background x (1 + C) x residue film x gains (white balance, exposure), in one pass; at a soft edge 1 + C is
// the weighted mean of the object's and what lies below. Pixel: cv::Vec3b (clipped at 255) or cv::Vec3f.
template <class Pixel>
void render(const cv::Mat& background, const Canvas& canvas, const std::vector<cv::Vec3f>& gains, const cv::Mat& residue,
            const Bgr& residue_strength, cv::Mat& out) {
  for (int y = 0; y < out.rows; ++y) {
    const auto* bg = background.ptr<cv::Vec3f>(y);
    const uint8_t* region = canvas.regions.ptr<uint8_t>(y);
    const uint8_t* weight = canvas.alpha.empty() ? nullptr : canvas.alpha.ptr<uint8_t>(y);
    const uint8_t* under = canvas.alpha.empty() ? nullptr : canvas.under.ptr<uint8_t>(y);
    const float* film = residue.empty() ? nullptr : residue.ptr<float>(y);
    auto* pixel = out.ptr<Pixel>(y);
    for (int x = 0; x < out.cols; ++x) {
      cv::Vec3f g = gains[region[x]];
      if (weight && weight[x] < 255) {
        const float w = weight[x] * (1.0f / 255);
        g = g * w + gains[under[x]] * (1 - w);
      }
      for (int c = 0; c < 3; ++c) {
        float v = bg[x][c] * g[c];
        if (film) v *= 1.0f + static_cast<float>(residue_strength[c]) * film[x];
        pixel[x][c] = cv::saturate_cast<typename Pixel::value_type>(v);
      }
    }
  }
}

}  // namespace

std::vector<cv::Mat> SynthSample::instance_masks() const {
  std::vector<cv::Mat> masks;
  for (size_t k = 1; k <= classes.size(); ++k) {
    cv::Mat mask = instance_ids == static_cast<int>(k);
    masks.push_back(mask / 255);
  }
  return masks;
}

Generator::Generator(SynthConfig config, std::shared_ptr<const BackgroundLibrary> backgrounds, optics::Spectra spectra)
    : config_(std::move(config)), backgrounds_(std::move(backgrounds)), spectra_(std::move(spectra)) {
  config_.validate();
  if (!config_.agnostic) optics::find_material(config_.material);  // fail now, not in a worker thread
}

SynthSample Generator::generate(uint64_t seed, uint64_t index) const {
  const SynthConfig& cfg = config_;
  Random random(image_seed(seed, index));
  const cv::Size size(cfg.width, cfg.height);
  const ImageOptics optics = image_optics(cfg, spectra_, random);

  const bool real = backgrounds_ && !backgrounds_->empty() && random.chance(cfg.real_background_share);
  const cv::Mat background = real ? backgrounds_->sample(random, size)
                                 : synthetic_background(random, size, substrate_colour(cfg, optics, random),
                                                        {cfg.vignetting_max, cfg.illumination_gradient_max, cfg.unevenness_max});

  Canvas canvas(size);
  const auto random_centre = [&] {
    return cv::Point2d(random.uniform(0, size.width), random.uniform(0, size.height));
  };
  // Thick crystals (unlabelled, as in real datasets): many small fragments, sometimes a large one. Thin flakes:
  // some grow out of a thick crystal's edge (drawn first, so the crystal covers their root), the rest lie free.
  struct Crystal {
    cv::Point2d centre;
    double radius;
    int layers, terraces;
  };
  std::vector<Crystal> thick, attached, free;
  const int fragments = random.integer(0, cfg.max_bulk_fragments);
  for (int i = 0; i < fragments; ++i)
    thick.push_back({random_centre(), random.log_uniform(3, 40), static_cast<int>(random.log_uniform(30, 600)),
                     random.integer(0, 1)});
  if (random.chance(cfg.bulk_probability))
    thick.push_back({random_centre(), random.log_uniform(40, 200), static_cast<int>(random.log_uniform(30, 600)),
                     random.integer(0, 3)});
  const int flakes = random.integer(cfg.min_flakes, cfg.max_flakes);
  for (int i = 0; i < flakes; ++i) {
    Crystal flake{random_centre(), random.log_uniform(cfg.min_flake_px, cfg.max_flake_px) / 2,
                  random.integer(1, cfg.flake_classes()), random.chance(cfg.terrace_probability) ? random.integer(1, 2) : 0};
    if (!thick.empty() && random.chance(cfg.attached_flake_share)) {
      const Crystal& host = thick[static_cast<size_t>(random.integer(0, static_cast<int>(thick.size()) - 1))];
      const double angle = random.uniform(0, 2 * M_PI);
      flake.centre = host.centre + cv::Point2d(std::cos(angle), std::sin(angle)) * (host.radius + flake.radius * 0.5);
      attached.push_back(flake);
    } else {
      free.push_back(flake);
    }
  }
  // Junk beyond the thick crystals and dark dirt comes from a stream of its own (see SynthConfig).
  Random junk(image_seed(seed ^ kJunkStream, index));
  const auto draw = [&](const Crystal& c, bool labelled) {
    draw_crystal(canvas, random, junk, cfg, optics, c.centre, c.radius, c.layers, c.terraces, labelled);
  };
  for (const Crystal& c : attached) draw(c, true);
  for (const Crystal& c : thick) draw(c, false);
  for (const Crystal& c : free) draw(c, true);
  draw_dirt(canvas, random, random.integer(0, cfg.max_dirt));
  draw_specks_and_blobs(canvas, junk, cfg);
  draw_scratches(canvas, junk, cfg);
  draw_markers(canvas, junk, cfg);  // last: nothing lies on a chip's metal

  cv::Mat residue;
  Bgr residue_strength{};
  if (random.chance(cfg.residue_probability)) {
    residue = residue_field(random, size);
    const double strength = random.uniform(-0.08, 0.04);
    for (int c = 0; c < 3; ++c) residue_strength[c] = strength * random.uniform(0.7, 1.3);
    texture_residue(residue, junk, cfg);
    record_residue(canvas, residue);
  }
  Bgr white_balance;
  for (int c = 0; c < 3; ++c)
    white_balance[c] = 1 + random.uniform(-cfg.white_balance_jitter, cfg.white_balance_jitter);

  // Overexposure is one more gain per channel; such an image is rendered unclipped (float) until after the noise,
  // as a sensor clips signal plus noise, so that its clipped pixels are exactly 255.
  const cv::Vec3d exposure = exposure_gain(junk, cfg, background, white_balance);
  std::vector<cv::Vec3f> gains(canvas.factors.size());
  for (size_t r = 0; r < gains.size(); ++r)
    for (int c = 0; c < 3; ++c) gains[r][c] = static_cast<float>(canvas.factors[r][c] * white_balance[c] * exposure[c]);
  const bool overexposed = exposure != cv::Vec3d(1, 1, 1);
  cv::Mat image(size, overexposed ? CV_32FC3 : CV_8UC3);
  if (overexposed) render<cv::Vec3f>(background, canvas, gains, residue, residue_strength, image);
  else render<cv::Vec3b>(background, canvas, gains, residue, residue_strength, image);

  cv::GaussianBlur(image, image, {0, 0}, random.uniform(cfg.blur_sigma_min, cfg.blur_sigma_max));
  cv::Mat noise(size, overexposed ? CV_32FC3 : CV_16SC3);
  cv::RNG noise_rng(random.next());
  noise_rng.fill(noise, cv::RNG::NORMAL, 0.0, random.uniform(cfg.noise_sigma_min, cfg.noise_sigma_max));
  SynthSample sample;
  sample.exposure_gain = exposure;
  cv::add(image, noise, sample.image, cv::noArray(), CV_8U);
  if (random.chance(cfg.jpeg_probability)) {
    std::vector<uint8_t> jpeg;
    cv::imencode(".jpg", sample.image, jpeg,
                 {cv::IMWRITE_JPEG_QUALITY, random.integer(cfg.jpeg_quality_min, cfg.jpeg_quality_max)});
    sample.image = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  }

  sample.instance_ids = std::move(canvas.instances);
  sample.classes = std::move(canvas.classes);
  compact_ids(sample.instance_ids, sample.classes);
  sample.junk_ids = std::move(canvas.junk);
  sample.junk_kinds = std::move(canvas.junk_kinds);
  compact_ids(sample.junk_ids, sample.junk_kinds);
  return sample;
}

}  // namespace maskterial::synth
