// The junk of real scans in synthetic images: each kind appears with its statistics, is never a flake, is
// recorded apart (annotations_junk.json) and is the same for the same seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>

#include <opencv2/imgproc.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/synth/dataset_writer.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::synth;

namespace {

// Nothing but flakes and the junk a test switches on, on a flat substrate with little noise and no JPEG.
SynthConfig clean_config(int size) {
  SynthConfig c = SynthConfig{}.without_scan_junk();
  c.width = c.height = size;
  c.min_flakes = c.max_flakes = 0;
  c.bulk_probability = c.residue_probability = c.halo_probability = 0;
  c.max_bulk_fragments = c.max_dirt = 0;
  c.vignetting_max = c.illumination_gradient_max = c.unevenness_max = 0;
  c.noise_sigma_min = c.noise_sigma_max = 0.3;
  c.blur_sigma_min = c.blur_sigma_max = 0.3;
  c.jpeg_probability = 0;
  c.white_balance_jitter = 0;
  return c;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

cv::Mat junk_mask(const SynthSample& s, JunkKind kind) {
  cv::Mat mask(s.junk_ids.size(), CV_8U, cv::Scalar(0));
  for (size_t k = 0; k < s.junk_kinds.size(); ++k)
    if (s.junk_kinds[k] == kind) mask |= s.junk_ids == static_cast<int>(k + 1);
  return mask;
}

size_t count_of(const SynthSample& s, JunkKind kind) {
  return static_cast<size_t>(std::count(s.junk_kinds.begin(), s.junk_kinds.end(), kind));
}

// Substrate colour: per-channel median of the pixels that are neither flake nor junk.
cv::Vec3d substrate(const SynthSample& s) {
  const cv::Mat free = (s.junk_ids == 0) & (s.instance_ids == 0);
  cv::Vec3d out;
  std::vector<cv::Mat> channels;
  cv::split(s.image, channels);
  for (int c = 0; c < 3; ++c) {
    std::vector<uint8_t> values;
    for (int y = 0; y < free.rows; ++y)
      for (int x = 0; x < free.cols; ++x)
        if (free.at<uint8_t>(y, x)) values.push_back(channels[c].at<uint8_t>(y, x));
    std::nth_element(values.begin(), values.begin() + static_cast<long>(values.size() / 2), values.end());
    out[c] = values[values.size() / 2];
  }
  return out;
}

// Mean of I / substrate over a mask, per channel.
cv::Vec3d mean_factor(const SynthSample& s, const cv::Mat& mask) {
  const cv::Scalar mean = cv::mean(s.image, mask);
  const cv::Vec3d bg = substrate(s);
  return {mean[0] / bg[0], mean[1] / bg[1], mean[2] / bg[2]};
}

}  // namespace

TEST(SynthJunk, DefaultsDrawEveryKindAndNoneIsEverAFlake) {
  SynthConfig config;
  config.width = config.height = 256;
  config.min_flake_px = 12;
  config.max_flake_px = 120;
  const Generator with_junk(config), without_junk(config.without_scan_junk());
  std::map<JunkKind, size_t> seen;
  size_t overexposed = 0;
  for (uint64_t i = 0; i < 60; ++i) {
    const SynthSample s = with_junk.generate(5, i);
    ASSERT_EQ(s.junk_ids.type(), CV_16U);
    ASSERT_EQ(s.junk_ids.size(), s.image.size());
    // No pixel is both flake and junk, and every junk id is present.
    EXPECT_EQ(cv::countNonZero((s.junk_ids > 0) & (s.instance_ids > 0)), 0) << i;
    double max_id;
    cv::minMaxLoc(s.junk_ids, nullptr, &max_id);
    EXPECT_EQ(static_cast<size_t>(max_id), s.junk_kinds.size());
    for (JunkKind kind : s.junk_kinds) ++seen[kind];
    overexposed += s.exposure_gain != cv::Vec3d(1, 1, 1);

    // The junk comes from its own random stream, so the same image without it has the same flakes: junk only
    // ever covers flake pixels (those pixels are then junk), never adds or relabels any.
    const SynthSample plain = without_junk.generate(5, i);
    const cv::Mat flakes = s.instance_ids > 0, plain_flakes = plain.instance_ids > 0;
    EXPECT_EQ(cv::countNonZero(flakes & ~plain_flakes), 0) << i;
    EXPECT_EQ(cv::countNonZero(plain_flakes & ~flakes & (s.junk_ids == 0)), 0) << i;
    const auto masks = s.instance_masks();
    for (size_t k = 0; k < masks.size(); ++k) {
      double lo, hi;
      cv::minMaxLoc(plain.instance_ids, &lo, &hi, nullptr, nullptr, masks[k]);
      ASSERT_EQ(lo, hi) << "instance " << k + 1 << " of image " << i << " spans several flakes";
      EXPECT_EQ(s.classes[k], plain.classes[static_cast<size_t>(hi) - 1]);
    }
  }
  for (int k = 1; k <= kJunkKinds; ++k) EXPECT_GT(seen[static_cast<JunkKind>(k)], 0u) << junk_kind_name(static_cast<JunkKind>(k));
  EXPECT_GT(overexposed, 0u);
}

TEST(SynthJunk, SameSeedSameJunk) {
  SynthConfig config;
  config.width = config.height = 192;
  config.marker_probability = config.scratch_probability = config.saturation_probability = 0.5;
  const Generator generator(config);
  for (uint64_t i = 0; i < 6; ++i) {
    const SynthSample a = generator.generate(3, i), b = generator.generate(3, i);
    EXPECT_TRUE(same(a.image, b.image));
    EXPECT_TRUE(same(a.junk_ids, b.junk_ids));
    EXPECT_EQ(a.junk_kinds, b.junk_kinds);
    EXPECT_EQ(a.exposure_gain, b.exposure_gain);
    EXPECT_FALSE(same(a.junk_ids, generator.generate(4, i).junk_ids));
  }
}

TEST(SynthJunk, JunkLeavesTheRestOfTheImageAlone) {
  // Markers switched on change the image only on and next to the markers (the optics' blur reaches ~1 px).
  SynthConfig plain = clean_config(256);
  plain.min_flakes = 2;
  plain.max_flakes = 4;
  SynthConfig marked = plain;
  marked.marker_probability = 1;
  for (uint64_t i = 0; i < 4; ++i) {
    const SynthSample a = Generator(plain).generate(9, i), b = Generator(marked).generate(9, i);
    cv::Mat near_junk;
    cv::dilate(b.junk_ids > 0, near_junk, cv::Mat(), {-1, -1}, 3);
    cv::Mat differs;
    cv::cvtColor(cv::abs(a.image - b.image) + cv::abs(b.image - a.image), differs, cv::COLOR_BGR2GRAY);
    EXPECT_GT(cv::countNonZero(b.junk_ids), 0);
    EXPECT_EQ(cv::countNonZero((differs > 0) & ~near_junk), 0) << i;
  }
}

TEST(SynthJunk, BlurredCrystalEdgesSpanTheirWidthRangeAndPassThroughThinLayerContrast) {
  SynthConfig config = clean_config(384);
  config.bulk_probability = 1;
  config.edge_blur_probability = 1;
  const Generator generator(config);
  std::vector<double> widths;
  size_t wide = 0, thin_like = 0;
  for (uint64_t i = 0; i < 24; ++i) {
    const SynthSample s = generator.generate(2, i);
    if (s.junk_kinds.empty()) continue;  // the crystal fell outside the image
    ASSERT_EQ(s.junk_kinds, std::vector<JunkKind>{JunkKind::blurred_crystal});
    // Contrast of each pixel relative to the crystal's, in the channel where the crystal stands out most.
    const cv::Mat crystal = s.junk_ids == 1;
    cv::Mat core;
    cv::erode(crystal, core, cv::Mat(), {-1, -1}, 25);
    if (cv::countNonZero(core) < 200) continue;
    const cv::Vec3d bg = substrate(s), inside = mean_factor(s, core);
    int c = 0;
    for (int k = 1; k < 3; ++k)
      if (std::abs(inside[k] - 1) > std::abs(inside[c] - 1)) c = k;
    if (std::abs(inside[c] - 1) < 0.15) continue;  // too faint to measure a rise on
    cv::Mat channel;
    cv::extractChannel(s.image, channel, c);
    channel.convertTo(channel, CV_32F, 1.0 / bg[c]);
    const cv::Mat share = (channel - 1) / (inside[c] - 1);
    // 10-90 % width: the pixels of the rise over the outline's length (the 50 % contour), counted near the outline
    // only (terraces inside differ in contrast too).
    const cv::Mat half = share > 0.5;
    cv::Mat inner, outer;
    cv::erode(half, inner, cv::Mat(), {-1, -1}, 12);
    cv::dilate(half, outer, cv::Mat(), {-1, -1}, 12);
    const cv::Mat rise = (share > 0.1) & (share < 0.9) & outer & ~inner;
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(half, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
    double outline = 0;
    for (const auto& contour : contours) outline += cv::arcLength(contour, true);
    const double width = cv::countNonZero(rise) / outline;
    widths.push_back(width);
    // A wide rise passes through what a thin layer shows (a few per cent), outside any flake: a halo.
    if (width < 4) continue;
    ++wide;
    const cv::Mat magnitude = cv::abs(channel - 1);
    thin_like += cv::countNonZero((magnitude > 0.03) & (magnitude < 0.08) & (s.junk_ids == 1) & (s.instance_ids == 0)) > 20;
  }
  ASSERT_GE(widths.size(), 8u);
  std::sort(widths.begin(), widths.end());
  EXPECT_LT(widths.front(), 5.0);   // drawn uniformly in 1..15 px
  EXPECT_GT(widths.back(), 9.0);
  EXPECT_LT(widths.back(), 19.0);
  EXPECT_EQ(thin_like, wide);
}

TEST(SynthJunk, SharpCrystalsStaySharp) {
  SynthConfig config = clean_config(256);
  config.max_bulk_fragments = 15;
  const Generator generator(config);
  for (uint64_t i = 0; i < 10; ++i)
    for (JunkKind kind : generator.generate(1, i).junk_kinds) EXPECT_EQ(kind, JunkKind::thick_crystal);
}

TEST(SynthJunk, TintedCrystalsAreBrightOrDark) {
  SynthConfig config = clean_config(512);
  config.bulk_probability = 1;
  config.tinted_crystal_share = 1;
  config.exposure_min = config.exposure_max = 110;  // bright crystals stay below 255
  const Generator generator(config);
  size_t bright = 0, dark = 0;
  for (uint64_t i = 0; i < 24; ++i) {
    const SynthSample s = generator.generate(4, i);
    if (s.junk_kinds.empty()) continue;
    cv::Mat core;
    cv::erode(s.junk_ids == 1, core, cv::Mat(), {-1, -1}, 3);
    if (cv::countNonZero(core) < 100) continue;
    const cv::Vec3d f = mean_factor(s, core);
    const double mean = (f[0] + f[1] + f[2]) / 3;
    EXPECT_TRUE(mean < 0.8 || mean > 1.08) << mean;  // x0.15-0.6 or x1.3-2, terraces x0.75-1.25
    (mean > 1 ? bright : dark)++;
  }
  EXPECT_GE(bright, 4u);
  EXPECT_GE(dark, 4u);
}

TEST(SynthJunk, MarkersSitOnAGridWithTheirLetters) {
  SynthConfig config = clean_config(512);
  config.marker_probability = config.marker_label_probability = 1;
  config.marker_pitch_min_px = 100;
  config.marker_pitch_max_px = 180;
  const Generator generator(config);
  for (uint64_t i = 0; i < 8; ++i) {
    const SynthSample s = generator.generate(6, i);
    // Centres of the markers that lie wholly inside the image.
    std::vector<cv::Point2d> centres;
    for (size_t k = 0; k < s.junk_kinds.size(); ++k) {
      if (s.junk_kinds[k] != JunkKind::marker) continue;
      const cv::Mat mask = s.junk_ids == static_cast<int>(k + 1);
      const cv::Rect box = cv::boundingRect(mask);
      if (box.x <= 0 || box.y <= 0 || box.br().x >= 512 || box.br().y >= 512) continue;
      const cv::Moments m = cv::moments(mask, true);
      centres.emplace_back(m.m10 / m.m00, m.m01 / m.m00);
    }
    ASSERT_GE(centres.size(), 4u) << i;
    EXPECT_LE(centres.size(), 36u) << i;  // (512 / 100 + 1)^2
    // Every marker's nearest neighbour is one pitch away, the same for all (squares and L-marks are not
    // symmetric about their centre of mass: a few px).
    std::vector<double> nearest;
    for (const auto& a : centres) {
      double d = INFINITY;
      for (const auto& b : centres)
        if (&a != &b) d = std::min(d, cv::norm(a - b));
      nearest.push_back(d);
    }
    const auto [lo, hi] = std::minmax_element(nearest.begin(), nearest.end());
    EXPECT_GE(*lo, 95.0) << i;
    EXPECT_LE(*hi, 185.0) << i;
    EXPECT_LE(*hi - *lo, 4.0) << i;
    // Letters beside them, and all of it in high contrast.
    EXPECT_GE(count_of(s, JunkKind::letter), centres.size() / 2) << i;
    const cv::Vec3d f = mean_factor(s, s.junk_ids > 0);
    EXPECT_GT(std::max({std::abs(f[0] - 1), std::abs(f[1] - 1), std::abs(f[2] - 1)}), 0.15) << i;
  }
}

TEST(SynthJunk, ScratchesAreThinAndLong) {
  SynthConfig config = clean_config(512);
  config.scratch_probability = 1;
  const Generator generator(config);
  size_t scratches = 0;
  for (uint64_t i = 0; i < 12; ++i) {
    const SynthSample s = generator.generate(8, i);
    const size_t n = count_of(s, JunkKind::scratch);
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, static_cast<size_t>(config.max_scratches));
    scratches += n;
    for (size_t k = 0; k < s.junk_kinds.size(); ++k) {
      std::vector<cv::Point> points;
      cv::findNonZero(s.junk_ids == static_cast<int>(k + 1), points);
      const cv::RotatedRect box = cv::minAreaRect(points);
      const double length = std::max(box.size.width, box.size.height);
      if (length < 40) continue;  // a scratch that mostly runs outside the image
      EXPECT_LE(points.size() / length, 6.0) << "scratch " << k + 1 << " of image " << i << " is too wide";
    }
  }
  EXPECT_GE(scratches, 18u);  // 1-3 per image
}

TEST(SynthJunk, TapeResidueIsLargeFaintAndTextured) {
  SynthConfig config = clean_config(512);
  config.residue_probability = 1;
  config.noise_sigma_min = config.noise_sigma_max = 0.05;
  SynthConfig smooth = config;
  config.residue_texture = 0.8;
  size_t textured_more = 0, images = 0;
  for (uint64_t i = 0; i < 10; ++i) {
    const SynthSample s = Generator(config).generate(12, i);
    const cv::Mat residue = junk_mask(s, JunkKind::residue);
    if (cv::countNonZero(residue) < 500) continue;
    ++images;
    double largest = 0;
    for (size_t k = 0; k < s.junk_kinds.size(); ++k)
      largest = std::max(largest, static_cast<double>(cv::countNonZero(s.junk_ids == static_cast<int>(k + 1))));
    EXPECT_GT(largest, 400);  // blotches tens of pixels across
    const cv::Vec3d f = mean_factor(s, residue);
    for (int c = 0; c < 3; ++c) EXPECT_LT(std::abs(f[c] - 1), 0.15) << i;  // faint: -10..+5 %
    // The same blotches (drawn from the image's stream) without texture vary less inside.
    const SynthSample flat = Generator(smooth).generate(12, i);
    cv::Mat gray, flat_gray;
    cv::cvtColor(s.image, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(flat.image, flat_gray, cv::COLOR_BGR2GRAY);
    cv::Scalar m, textured_sd, flat_sd;
    cv::meanStdDev(gray, m, textured_sd, residue);
    cv::meanStdDev(flat_gray, m, flat_sd, residue);
    textured_more += textured_sd[0] > flat_sd[0];
  }
  ASSERT_GE(images, 6u);
  EXPECT_GE(textured_more, images - 1);
}

TEST(SynthJunk, DirtIsSmallDarkAndBright) {
  SynthConfig config = clean_config(384);
  config.max_dirt = 20;
  config.max_bright_dirt = 10;
  config.max_dirt_blobs = 4;
  const Generator generator(config);
  size_t dark = 0, bright = 0;
  for (uint64_t i = 0; i < 12; ++i) {
    const SynthSample s = generator.generate(10, i);
    for (size_t k = 0; k < s.junk_kinds.size(); ++k) {
      ASSERT_EQ(s.junk_kinds[k], JunkKind::dirt);
      const cv::Mat mask = s.junk_ids == static_cast<int>(k + 1);
      const int area = cv::countNonZero(mask);
      EXPECT_LT(area, 3000);
      if (area < 9) continue;  // a speck mostly covered by another: too few pixels to measure
      const cv::Vec3d f = mean_factor(s, mask);
      const double mean = (f[0] + f[1] + f[2]) / 3;
      dark += mean < 0.95;
      bright += mean > 1.05;
    }
  }
  EXPECT_GE(dark, 20u);
  EXPECT_GE(bright, 10u);
}

TEST(SynthJunk, OverexposureClipsBlueOrRedNotGreen) {
  SynthConfig config = clean_config(256);
  config.min_flakes = 1;
  config.max_flakes = 4;
  config.saturation_probability = 1;
  config.saturation_overshoot_min = 1.15;
  config.max_flake_px = 80;  // the substrate is most of the image
  const Generator generator(config);
  std::map<std::pair<bool, bool>, size_t> cases;  // (blue clipped, red clipped)
  for (uint64_t i = 0; i < 24; ++i) {
    const SynthSample s = generator.generate(13, i);
    std::vector<cv::Mat> ch;
    cv::split(s.image, ch);
    std::array<double, 3> clipped{};
    for (int c = 0; c < 3; ++c) clipped[c] = cv::countNonZero(ch[c] == 255) / static_cast<double>(s.image.total());
    const bool blue = clipped[0] > 0.45, red = clipped[2] > 0.45;
    EXPECT_TRUE(blue || red) << i << ": " << clipped[0] << " " << clipped[2];
    EXPECT_LT(clipped[1], 0.02) << i << " gain " << s.exposure_gain << " mean " << cv::mean(s.image);  // green keeps the contrast
    for (int c : {0, 2}) {
      if (clipped[c] > 0.45) {
        EXPECT_GT(s.exposure_gain[c], 1.0);
      }
    }
    ++cases[{blue, red}];
  }
  EXPECT_GT(cases[std::make_pair(true, false)], 0u);
  EXPECT_GT(cases[std::make_pair(false, true)], 0u);
  EXPECT_GT(cases[std::make_pair(true, true)], 0u);
}

TEST(SynthJunk, OverexposureHappensAtItsProbability) {
  SynthConfig config = clean_config(96);
  config.saturation_probability = SynthConfig{}.saturation_probability;
  const Generator generator(config);
  size_t overexposed = 0;
  for (uint64_t i = 0; i < 300; ++i) overexposed += generator.generate(14, i).exposure_gain != cv::Vec3d(1, 1, 1);
  // 0.15 x 300 = 45, binomial sd 6.2
  EXPECT_GT(overexposed, 27u);
  EXPECT_LT(overexposed, 63u);
}

TEST(SynthJunk, WriterRecordsJunkApartFromFlakes) {
  const fs::path out = fs::temp_directory_path() / "mt_synth_junk_coco";
  fs::remove_all(out);
  SynthConfig config;
  config.width = config.height = 192;
  config.marker_probability = config.saturation_probability = 0.5;
  const Generator generator(config);
  SynthRunOptions options;
  options.count = 6;
  options.seed = 2;
  options.progress = false;
  const SynthRunSummary summary = write_synthetic_dataset(generator, out.string(), options);

  const coco::Dataset flakes = coco::read_dataset((out / "annotations.json").string());
  const coco::Dataset junk = coco::read_dataset((out / "annotations_junk.json").string());
  ASSERT_EQ(junk.categories.size(), static_cast<size_t>(kJunkKinds));
  for (const auto& category : junk.categories)
    EXPECT_EQ(category.name, junk_kind_name(static_cast<JunkKind>(category.id)));
  ASSERT_EQ(junk.images.size(), 6u);
  size_t junk_total = 0;
  for (const auto& [kind, n] : summary.junk_per_kind) junk_total += n;
  EXPECT_EQ(junk.annotations.size(), junk_total);
  EXPECT_GT(junk_total, 0u);
  for (const auto& image : junk.images) {
    const SynthSample expected = generator.generate(2, image.id - 1);
    const auto annotations = junk.annotations_of(image.id);
    ASSERT_EQ(annotations.size(), expected.junk_kinds.size());
    for (size_t k = 0; k < annotations.size(); ++k) {
      EXPECT_EQ(annotations[k]->category_id, static_cast<int>(expected.junk_kinds[k]));
      for (const coco::Annotation* flake : flakes.annotations_of(image.id))
        EXPECT_EQ(coco::area(coco::merge({annotations[k]->segmentation, flake->segmentation}, true)), 0u);
    }
  }
  // Per image exposure, as the flake score's training reads it.
  const nlohmann::json json = read_json((out / "annotations_junk.json").string());
  size_t overexposed = 0;
  for (const auto& image : json.at("images")) {
    ASSERT_EQ(image.at("exposure_gain").size(), 3u);
    ASSERT_EQ(image.at("clipped_fraction").size(), 3u);
    overexposed += image.at("exposure_gain") != nlohmann::json{1.0, 1.0, 1.0};
  }
  EXPECT_EQ(overexposed, summary.overexposed_images);
  fs::remove_all(out);
}

TEST(SynthJunk, ConfigKeysRoundTripAndAreChecked) {
  SynthConfig config;
  config.edge_blur_max_px = 9;
  config.marker_probability = 0.7;
  config.max_scratches = 5;
  EXPECT_EQ(SynthConfig::from_json(config.to_json(), "cfg.json").to_json(), config.to_json());
  EXPECT_THROW(SynthConfig::from_json({{"edge_blur_min_px", 0}}, "cfg.json"), Error);
  EXPECT_THROW(SynthConfig::from_json({{"edge_blur_min_px", 20}, {"edge_blur_max_px", 10}}, "cfg.json"), Error);
  EXPECT_THROW(SynthConfig::from_json({{"marker_probability", 1.5}}, "cfg.json"), Error);
  EXPECT_THROW(SynthConfig::from_json({{"saturation_overshoot_min", 0.5}}, "cfg.json"), Error);
  EXPECT_THROW(SynthConfig::from_json({{"max_scratches", 0}}, "cfg.json"), Error);
  // A config written before the junk existed still reads, with the junk at its defaults.
  nlohmann::json old = SynthConfig{}.to_json();
  old.erase("marker_probability");
  EXPECT_EQ(SynthConfig::from_json(old, "old.json").marker_probability, SynthConfig{}.marker_probability);
}
