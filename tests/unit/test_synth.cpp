// Synthetic flake images: determinism, physical rendering, label consistency, statistics, COCO round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include <opencv2/imgproc.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/image/contrast.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/synth/dataset_writer.hpp"
#include "maskterial/synth/shapes.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::synth;

namespace {
const std::string kShared = MASKTERIAL_SHARED_DATA;

SynthConfig small_config(int size = 256) {
  SynthConfig c;
  c.width = c.height = size;
  c.min_flake_px = 12;
  c.max_flake_px = 100;
  return c;
}

// Flat illumination, no noise, blur, JPEG, white balance, residue or distractors: inside a flake the image is
// the background times (1 + C).
SynthConfig flat_config() {
  SynthConfig config = small_config(384).without_scan_junk();
  config.vignetting_max = config.illumination_gradient_max = config.unevenness_max = 0;
  config.noise_sigma_min = config.noise_sigma_max = 1e-3;
  config.blur_sigma_min = config.blur_sigma_max = 0.3;
  config.jpeg_probability = config.residue_probability = config.bulk_probability = 0;
  config.max_dirt = config.max_bulk_fragments = 0;
  config.white_balance_jitter = 0;
  config.min_flake_px = 60;
  return config;
}

// Inside every flake of `images` images (eroded, at least 50 px), the contrast against the substrate is
// expected(class) to within `relative` of it plus noise and rounding; returns how many flakes were checked.
size_t check_flake_contrasts(const Generator& generator, uint64_t seed, int images, double relative,
                             const std::function<Bgr(int)>& expected) {
  size_t checked = 0;
  for (uint64_t i = 0; i < static_cast<uint64_t>(images); ++i) {
    const SynthSample s = generator.generate(seed, i);
    const Bgr background = estimate_background(s.image);
    const auto masks = s.instance_masks();
    for (size_t k = 0; k < masks.size(); ++k) {
      const Bgr want = expected(s.classes[k]);
      cv::Mat inner;
      cv::erode(masks[k], inner, cv::Mat(), {-1, -1}, 2);
      if (cv::countNonZero(inner) < 50) continue;
      const cv::Scalar mean = cv::mean(s.image, inner);
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(mean[c] / background[c] - 1, want[c], relative * std::abs(want[c]) + 0.01 + 0.5 / background[c])
            << "class " << s.classes[k];
      ++checked;
    }
  }
  return checked;
}

bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}
}  // namespace

TEST(SynthShapes, CleavedEdgesMeetAt60Or120Degrees) {
  Random random(5);
  for (int trial = 0; trial < 50; ++trial) {
    const Polygon p = random_piece(random, {100, 100}, 50, random.uniform(0, M_PI), 3);
    ASSERT_GE(p.size(), 3u);
    for (size_t i = 0; i < p.size(); ++i) {
      const cv::Point2d a = p[(i + p.size() - 1) % p.size()] - p[i], b = p[(i + 1) % p.size()] - p[i];
      if (cv::norm(a) < 1e-6 || cv::norm(b) < 1e-6) continue;
      const double angle = std::acos(a.dot(b) / (cv::norm(a) * cv::norm(b))) * 180 / M_PI;
      EXPECT_TRUE(std::abs(angle - 60) < 1e-6 || std::abs(angle - 120) < 1e-6) << angle;
    }
  }
}

TEST(Synth, DeterministicPerSeedAndIndex) {
  const Generator generator(small_config());
  const SynthSample a = generator.generate(7, 3), b = generator.generate(7, 3);
  EXPECT_TRUE(same(a.image, b.image));
  EXPECT_TRUE(same(a.instance_ids, b.instance_ids));
  EXPECT_EQ(a.classes, b.classes);
  EXPECT_FALSE(same(a.image, generator.generate(7, 4).image));
  EXPECT_FALSE(same(a.image, generator.generate(8, 3).image));
}

TEST(Synth, LabelsAreConsistent) {
  SynthConfig config = small_config();
  config.max_layers = 6;
  const Generator generator(config);
  for (uint64_t i = 0; i < 8; ++i) {
    const SynthSample s = generator.generate(1, i);
    ASSERT_EQ(s.image.type(), CV_8UC3);
    ASSERT_EQ(s.instance_ids.type(), CV_16U);
    ASSERT_EQ(s.image.size(), cv::Size(256, 256));
    double max_id;
    cv::minMaxLoc(s.instance_ids, nullptr, &max_id);
    EXPECT_EQ(static_cast<size_t>(max_id), s.classes.size());
    const auto masks = s.instance_masks();
    ASSERT_EQ(masks.size(), s.classes.size());
    for (size_t k = 0; k < masks.size(); ++k) {
      EXPECT_GT(cv::countNonZero(masks[k]), 0);  // every id is present
      EXPECT_GE(s.classes[k], 1);
      EXPECT_LE(s.classes[k], 6);
    }
  }
}

TEST(Synth, RendersTheOpticalContrast) {
  SynthConfig config = flat_config();
  config.oxide_jitter_nm = 0;
  const optics::OpticalSetup setup;
  const auto& graphene = optics::find_material("graphene");
  EXPECT_GT(check_flake_contrasts(Generator(config), 3, 4, 0,
                                  [&](int layers) { return optics::layer_contrast(setup, graphene, layers); }),
            3u);
}

TEST(Synth, ImageStatistics) {
  // The substrate alone: junk (bright crystals, markers, overexposure) has its own statistics (test_synth_junk.cpp).
  const SynthConfig config = small_config(192).without_scan_junk();
  const Generator generator(config);
  std::map<int, size_t> per_class;
  std::vector<double> diameters;
  size_t instances = 0;
  for (uint64_t i = 0; i < 60; ++i) {
    const SynthSample s = generator.generate(11, i);
    // Background level: the substrate is within the configured exposure (+- white balance, vignetting), where
    // it is most of the image (a small image can be half covered by a white thick crystal, read as clipped).
    const BackgroundEstimate measured = measure_background(s.image);
    if (*std::max_element(measured.saturated_share.begin(), measured.saturated_share.end()) < 0.4) {
      const Bgr background = estimate_background(s.image);
      const double brightest = std::max({background[0], background[1], background[2]});
      EXPECT_GT(brightest, config.exposure_min * 0.6);
      EXPECT_LT(brightest, 255);
    }
    // Flakes cover a minority of the image.
    EXPECT_LT(cv::countNonZero(s.instance_ids), s.image.total() / 2);
    for (size_t k = 0; k < s.classes.size(); ++k) ++per_class[s.classes[k]];
    instances += s.classes.size();
    cv::Mat any = s.instance_ids > 0;
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(any, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (const auto& c : contours) diameters.push_back(2 * std::sqrt(cv::contourArea(c) / M_PI));
  }
  // Class balance: every layer count occurs, none more than 3x as often as another.
  ASSERT_EQ(per_class.size(), static_cast<size_t>(config.max_layers));
  size_t lo = SIZE_MAX, hi = 0;
  for (const auto& [layers, n] : per_class) lo = std::min(lo, n), hi = std::max(hi, n);
  EXPECT_LE(hi, 3 * lo) << lo << " " << hi;
  EXPECT_GT(instances, 60u * config.min_flakes);
  // Size distribution: log-uniform extents between min and max flake size, so the median lies in between.
  std::sort(diameters.begin(), diameters.end());
  const double median = diameters[diameters.size() / 2];
  EXPECT_GT(median, config.min_flake_px * 0.7);
  EXPECT_LT(median, config.max_flake_px);
}

TEST(Synth, AgnosticModeVariesTheOptics) {
  SynthConfig config = small_config(128);
  config.agnostic = true;
  const Generator generator(config);
  std::vector<Bgr> backgrounds;
  for (uint64_t i = 0; i < 6; ++i) backgrounds.push_back(estimate_background(generator.generate(2, i).image));
  double spread = 0;
  for (const auto& b : backgrounds) spread = std::max(spread, std::abs(b[0] / b[2] - backgrounds[0][0] / backgrounds[0][2]));
  EXPECT_GT(spread, 0.02);  // different oxides give different substrate colours
}

TEST(Synth, StreamIsReproducibleInBatches) {
  auto generator = std::make_shared<const Generator>(small_config(128));
  SynthStream stream(generator, 9, 2);
  auto first = stream.next_batch(3);
  auto second = stream.next_batch(2);
  EXPECT_EQ(stream.position(), 5u);
  first.insert(first.end(), second.begin(), second.end());
  for (size_t i = 0; i < first.size(); ++i) {
    const SynthSample expected = generator->generate(9, i);
    EXPECT_TRUE(same(first[i].image, expected.image)) << i;
    EXPECT_EQ(first[i].classes, expected.classes);
  }
}

TEST(Synth, WritesACocoDatasetThatReadsBack) {
  const fs::path out = fs::temp_directory_path() / "mt_synth_coco";
  fs::remove_all(out);
  const Generator generator(small_config(160));
  SynthRunOptions options;
  options.count = 5;
  options.seed = 4;
  options.progress = false;
  const SynthRunSummary summary = write_synthetic_dataset(generator, out.string(), options);
  EXPECT_EQ(summary.images, 5u);

  const coco::Dataset layered = coco::read_dataset((out / "annotations.json").string());
  const coco::Dataset agnostic = coco::read_dataset((out / "annotations_agnostic.json").string());
  ASSERT_EQ(layered.images.size(), 5u);
  EXPECT_EQ(layered.categories.size(), 10u);
  ASSERT_EQ(agnostic.categories.size(), 1u);
  EXPECT_EQ(agnostic.categories[0].name, "flake");
  EXPECT_EQ(layered.annotations.size(), summary.instances);
  EXPECT_EQ(agnostic.annotations.size(), summary.instances);
  for (const auto& image : layered.images) {
    const SynthSample expected = generator.generate(4, image.id - 1);
    EXPECT_TRUE(same(load_image((out / "images" / image.file_name).string()), expected.image));  // PNG is lossless
    const auto annotations = layered.annotations_of(image.id);
    ASSERT_EQ(annotations.size(), expected.classes.size());
    for (size_t k = 0; k < annotations.size(); ++k) {
      EXPECT_EQ(annotations[k]->category_id, expected.classes[k]);
      EXPECT_TRUE(same(coco::decode(annotations[k]->segmentation), expected.instance_masks()[k]));
      EXPECT_EQ(annotations[k]->area, static_cast<double>(coco::area(annotations[k]->segmentation)));
    }
  }
}

// finetune --unlabelled: the labelled flakes take the measured contrasts given (class n = entry n), jittered
// per image by at most flake_contrast_jitter, instead of the optics'.
TEST(Synth, FlakesTakeTheMeasuredContrastsWhenGiven) {
  SynthConfig config = flat_config();
  config.flake_contrasts = {{-0.05, -0.12, -0.08}, {-0.3, -0.4, -0.2}};
  config.flake_contrast_jitter = 0.1;
  EXPECT_EQ(config.flake_classes(), 2);
  size_t classes_out_of_range = 0;
  const auto given = [&](int n) {
    if (n < 1 || n > 2) return ++classes_out_of_range, Bgr{};
    return config.flake_contrasts[static_cast<size_t>(n - 1)];
  };
  EXPECT_GT(check_flake_contrasts(Generator(config), 4, 6, 0.1, given), 3u);
  EXPECT_EQ(classes_out_of_range, 0u);
  const SynthConfig back = SynthConfig::from_json(config.to_json(), "cfg.json");
  EXPECT_EQ(back.to_json(), config.to_json());
  EXPECT_THROW(SynthConfig::from_json({{"flake_contrasts", {{-1.2, 0, 0}}}}, "cfg.json"), Error);  // darker than black
  EXPECT_THROW(SynthConfig::from_json({{"flake_contrast_jitter", 1.5}}, "cfg.json"), Error);
}

// Measured contrasts are the labelled flakes' only: thick crystals (30 layers and more) keep the optics' colour
// however many contrasts are given, so 40 copies of one contrast make the same images as a single copy.
TEST(Synth, MeasuredContrastsLeaveThickCrystalsToTheOptics) {
  SynthConfig one = small_config(256);
  one.max_bulk_fragments = 15;
  one.flake_contrasts = {{-0.2, -0.25, -0.1}};
  SynthConfig many = one;
  many.flake_contrasts.assign(40, one.flake_contrasts.front());
  many.terrace_probability = one.terrace_probability = 0;  // a terrace steps to another entry: none here
  const Generator a(one), b(many);
  for (uint64_t i = 0; i < 6; ++i) EXPECT_TRUE(same(a.generate(2, i).image, b.generate(2, i).image)) << "image " << i;
}

TEST(Synth, ConfigJsonRoundTripAndErrors) {
  SynthConfig config;
  config.material = "wse2";
  config.max_layers = 4;
  const SynthConfig back = SynthConfig::from_json(config.to_json(), "cfg.json");
  EXPECT_EQ(back.to_json(), config.to_json());
  EXPECT_THROW(SynthConfig::from_json({{"widht", 512}}, "cfg.json"), Error);
  EXPECT_THROW(SynthConfig::from_json({{"width", "big"}}, "cfg.json"), Error);
  EXPECT_THROW(SynthConfig::from_json({{"max_flakes", -1}}, "cfg.json"), Error);
  SynthConfig bad;
  bad.material = "kryptonite";
  EXPECT_THROW(Generator{bad}, Error);
}

TEST(Synth, RealBackgroundsLoseTheirFlakes) {
  const std::string image = kShared + "/2dmatgmm-demo/images";
  REQUIRE_SHARED_DATA(fs::exists(image), "shared data not found");
  const auto paths = list_images({image});
  const cv::Mat original = load_image(paths.front());
  const cv::Mat clean = remove_flakes(original);
  const auto foreground_fraction = [](const cv::Mat& bgr8) {
    cv::Mat c = contrast_image(bgr8, estimate_background(bgr8));
    std::vector<cv::Mat> ch;
    cv::split(cv::abs(c), ch);
    return cv::countNonZero(cv::max(cv::max(ch[0], ch[1]), ch[2]) > 0.15) / static_cast<double>(bgr8.total());
  };
  EXPECT_GT(foreground_fraction(original), 0.002);
  EXPECT_LT(foreground_fraction(clean), 0.0005);
  const BackgroundLibrary library(std::vector<cv::Mat>{clean});
  Random random(1);
  const cv::Mat crop = library.sample(random, {2500, 300});  // wider than the image: mirror-tiled
  EXPECT_EQ(crop.size(), cv::Size(2500, 300));
  EXPECT_EQ(crop.type(), CV_32FC3);
}
