// Overexposed scans: channels whose substrate is clipped are found, named, and left out of background,
// classification and training (docs/overexposure.md).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/classify/gmm.hpp"
#include "maskterial/classify/gmm_fit.hpp"
#include "maskterial/classify/network_training.hpp"
#include "maskterial/classify/training_data.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/image/contrast.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "cli_test_helpers.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

namespace {

// A pink oxide: blue and red bright, green darker. x1.6 pins blue and red at 255, green stays measurable.
const cv::Scalar kSubstrate(170, 110, 165);
const Contrast kMonolayer{-0.09f, -0.145f, -0.13f};
const Contrast kBilayer{-0.17f, -0.27f, -0.24f};
const cv::Rect kMonolayerBox(30, 30, 50, 40), kBilayerBox(120, 80, 45, 50);

// Substrate with a little noise and two flat flakes, 8-bit BGR.
cv::Mat scan() {
  cv::Mat image(160, 200, CV_8UC3, kSubstrate);
  const auto flake = [&](const cv::Rect& box, const Contrast& c) {
    image(box).setTo(cv::Scalar(kSubstrate[0] * (1 + c[0]), kSubstrate[1] * (1 + c[1]), kSubstrate[2] * (1 + c[2])));
  };
  flake(kMonolayerBox, kMonolayer);
  flake(kBilayerBox, kBilayer);
  cv::Mat noise(image.size(), CV_16SC3);
  cv::RNG rng(5);
  rng.fill(noise, cv::RNG::UNIFORM, -2, 3);
  cv::Mat noisy;
  cv::add(image, noise, noisy, cv::noArray(), CV_8UC3);
  return noisy;
}

cv::Mat overexposed(const cv::Mat& image, double gain = 1.6) {
  cv::Mat out;
  image.convertTo(out, CV_8UC3, gain);  // saturates at 255 as a camera does
  return out;
}

bool contains(const std::string& text, const std::string& words) { return text.find(words) != std::string::npos; }

GaussianClass gaussian(const std::string& name, const Contrast& mean, double spread) {
  GaussianClass g;
  g.name = name;
  g.mean = {mean[0], mean[1], mean[2]};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) g.covariance[i][j] = (i == j ? 1.0 : 0.5) * spread * spread;
  return g;
}

coco::Annotation annotation(const cv::Size& size, const cv::Rect& box, int64_t id, int64_t image_id, int64_t category) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  mask(box) = 1;
  coco::Annotation a;
  a.id = id;
  a.image_id = image_id;
  a.category_id = category;
  a.segmentation = coco::encode(mask);
  return a;
}

// A fresh folder with scan() as normal.png and its x1.6 copy as bright.png; a dataset of the normal image and
// `bright_copies` entries of the bright one, each with the monolayer (class 1) and the bilayer (class 2).
coco::Dataset normal_and_bright_scans(const fs::path& dir, int bright_copies) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  cv::imwrite((dir / "normal.png").string(), scan());
  cv::imwrite((dir / "bright.png").string(), overexposed(scan()));
  coco::Dataset dataset;
  dataset.images = {{1, "normal.png", 200, 160}};
  for (int i = 0; i < bright_copies; ++i) dataset.images.push_back({2 + i, "bright.png", 200, 160});
  dataset.categories = {{1, "1", ""}, {2, "2", ""}};
  int64_t id = 0;
  for (const auto& image : dataset.images) {
    dataset.annotations.push_back(annotation({200, 160}, kMonolayerBox, ++id, image.id, 1));
    dataset.annotations.push_back(annotation({200, 160}, kBilayerBox, ++id, image.id, 2));
  }
  return dataset;
}

}  // namespace

TEST(Overexposure, BackgroundNamesTheSaturatedChannelsAndMeasuresTheOthers) {
  const BackgroundEstimate normal = measure_background(scan());
  EXPECT_EQ(normal.usable(), kAllChannels);
  EXPECT_TRUE(normal.explain().empty());

  const BackgroundEstimate over = measure_background(overexposed(scan()));
  EXPECT_EQ(over.state[0], ChannelState::Saturated);
  EXPECT_EQ(over.state[1], ChannelState::Measured);
  EXPECT_EQ(over.state[2], ChannelState::Saturated);
  EXPECT_EQ(over.usable(), (ChannelMask{false, true, false}));
  EXPECT_FALSE(over.against_clip_level());
  EXPECT_NEAR(over.colour[1], 1.6 * kSubstrate[1], 2.0);
  EXPECT_EQ(over.colour[0], 255.0);
  EXPECT_GT(over.saturated_share[0], 0.8);
  const std::string why = over.explain();
  EXPECT_TRUE(contains(why, "blue and red are saturated (255) on")) << why;
  EXPECT_TRUE(contains(why, "using green only")) << why;
  EXPECT_TRUE(contains(why, "lower the exposure")) << why;
  // The measured colour alone, as before: a channel that is not measured is 0.
  EXPECT_FALSE(has_valid_background(estimate_background(overexposed(scan()))));
  EXPECT_FALSE(has_valid_background(estimate_background(overexposed(scan()), BackgroundRule::training())));
  EXPECT_NEAR(estimate_background(overexposed(scan()), BackgroundRule::training())[1], 1.6 * kSubstrate[1], 2.0);
}

TEST(Overexposure, BrightButUnclippedSubstrateIsMeasuredWhereItIs) {
  // 240 lies above the reference's search range (<= 230) but below the clip band: it is the substrate.
  cv::Mat image(100, 100, CV_8UC3, cv::Scalar(240, 120, 100));
  image(cv::Rect(10, 10, 20, 20)).setTo(cv::Scalar(200, 100, 90));
  const BackgroundEstimate e = measure_background(image);
  EXPECT_EQ(e.usable(), kAllChannels);
  EXPECT_DOUBLE_EQ(e.colour[0], 240.0);
  EXPECT_DOUBLE_EQ(e.colour[1], 120.0);
}

TEST(Overexposure, AllChannelsSaturatedFallsBackToTheClipLevel) {
  const cv::Mat over = overexposed(scan(), 2.5);
  const BackgroundEstimate e = measure_background(over);
  EXPECT_TRUE(e.against_clip_level());
  // Only green has pixels below the clip (the flakes); blue and red are white throughout and carry nothing.
  EXPECT_EQ(e.usable(), (ChannelMask{false, true, false}));
  EXPECT_EQ(e.colour, (Bgr{255, 255, 255}));
  EXPECT_TRUE(contains(e.explain(), "against the clip level (255) in green")) << e.explain();
}

TEST(Overexposure, DarkImageSaysWhatToDoNotThatAChannelIsBelowOne) {
  const cv::Mat black(64, 64, CV_8UC3, cv::Scalar(0, 0, 0));
  const BackgroundEstimate e = measure_background(black);
  EXPECT_FALSE(e.any_usable());
  EXPECT_TRUE(contains(e.explain(), "blue, green and red are black (0, too dark) on 100 % of the image")) << e.explain();
  EXPECT_TRUE(contains(e.explain(), "raise the exposure")) << e.explain();

  const Detector detector(std::make_shared<GmmClassifier>(std::vector<GaussianClass>{gaussian("1", kMonolayer, 0.01)}),
                          DetectorOptions{});
  try {
    detector.detect(black, "dark.jpg");
    FAIL() << "no error for a black image";
  } catch (const Error& error) {
    const std::string what = error.what();
    EXPECT_TRUE(contains(what, "dark.jpg: the substrate colour cannot be measured")) << what;
    EXPECT_TRUE(contains(what, "raise the exposure")) << what;
    EXPECT_FALSE(contains(what, "below 1")) << what;
  }
  std::mt19937_64 rng(1);
  try {
    extract_image_samples(overexposed(cv::Mat(64, 64, CV_8UC3, cv::Scalar(200, 200, 200)), 2.0), {}, {}, rng);
    FAIL() << "no error for a white image";
  } catch (const Error& error) {
    const std::string what = error.what();
    EXPECT_TRUE(contains(what, "blue, green and red are saturated (255) on 100 % of the image")) << what;
    EXPECT_TRUE(contains(what, "lower the exposure")) << what;
  }
}

TEST(Overexposure, GmmMarginalDropsTheIgnoredRowsAndColumns) {
  GaussianClass g = gaussian("1", kMonolayer, 0.02);
  g.covariance[0][2] = g.covariance[2][0] = 0.1 * 0.02 * 0.02;
  const GmmClassifier gmm({g});
  const std::array<double, 3> x{0.3, -0.1, 0.05};
  const double green_only = std::abs(x[1] - g.mean[1]) / std::sqrt(g.covariance[1][1]);
  EXPECT_NEAR(gmm.distance(x, 0, {false, true, false}), green_only, 1e-9);
  // Blue and red: the 2x2 block's quadratic form.
  const double a = g.covariance[0][0], b = g.covariance[0][2], d = g.covariance[2][2];
  const double u = x[0] - g.mean[0], v = x[2] - g.mean[2];
  const double q = (d * u * u - 2 * b * u * v + a * v * v) / (a * d - b * b);
  EXPECT_NEAR(gmm.distance(x, 0, {true, false, true}), std::sqrt(q), 1e-9);
  EXPECT_NEAR(gmm.flake_uncertainty(x, 1, {false, true, false}), green_only, 1e-9);
  EXPECT_NEAR(gmm.distance(x, 0), gmm.distance(x, 0, kAllChannels), 0.0);

  // The pixel path agrees with the per-contrast path, whatever the lut holds in the ignored channels.
  cv::Mat image(1, 2, CV_8UC3, cv::Scalar(0, 100, 0));
  image.at<cv::Vec3b>(0, 1) = {255, 120, 255};
  ContrastLut lut{};
  for (int v = 0; v < 256; ++v) {
    lut[0][v] = std::numeric_limits<float>::infinity();
    lut[1][v] = static_cast<float>(v / 117.0 - 1.0);
    lut[2][v] = std::numeric_limits<float>::quiet_NaN();
  }
  const PixelClassification pixels = gmm.classify(image, lut, 5.0, cv::Mat(), {false, true, false});
  std::vector<float> distances;
  const auto labels = gmm.classify_contrasts({{0, lut[1][100], 0}, {0, lut[1][120], 0}}, 5.0, &distances,
                                             {false, true, false});
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(pixels.labels.at<uint8_t>(0, i), labels[static_cast<size_t>(i)]);
    EXPECT_NEAR(pixels.distance.at<float>(0, i), distances[static_cast<size_t>(i)], 1e-4);
  }
  EXPECT_EQ(labels[0], 1);  // 100 / 117 - 1 = -0.145: the monolayer's green
}

TEST(Overexposure, DetectorFindsTheFlakesOnGreenAlone) {
  const auto gmm = std::make_shared<GmmClassifier>(
      std::vector<GaussianClass>{gaussian("1", kMonolayer, 0.015), gaussian("2", kBilayer, 0.015)});
  const Detector detector(gmm, DetectorOptions{});
  for (const bool over : {false, true}) {
    const Detection d = detector.detect(over ? overexposed(scan()) : scan(), "scan.png");
    EXPECT_EQ(d.background_note.empty(), !over);
    ASSERT_EQ(d.flakes.size(), 2u) << "overexposed: " << over;
    for (const Flake& f : d.flakes) {
      const bool mono = f.bbox[0] < kBilayerBox.x;
      EXPECT_EQ(f.class_name, mono ? "1" : "2") << "overexposed: " << over;
      EXPECT_LT(f.uncertainty, 3.0) << "overexposed: " << over;
    }
  }
}

TEST(Overexposure, TrainingKeepsAnImageWithSaturatedChannelsAndSaysWhy) {
  const fs::path dir = fs::temp_directory_path() / "mt_overexposure_training";
  const coco::Dataset dataset = normal_and_bright_scans(dir, 1);

  std::mt19937_64 rng(1);
  const cv::Mat bright = overexposed(scan());
  const ContrastSamples raw = extract_image_samples(bright, {&dataset.annotations[2]}, {}, rng);
  ASSERT_GT(raw.size(), 0u);
  for (const Contrast& c : raw.contrasts) {
    EXPECT_TRUE(std::isnan(c[0]) && std::isnan(c[2]));
    EXPECT_FALSE(std::isnan(c[1]));
  }

  TrainingDataOptions options;
  options.show_progress = false;
  options.dbscan = false;
  options.knn_neighbors = 0;
  options.samples_per_class = 0;
  const TrainingData data = prepare_training_data(dataset, dir.string(), options);
  EXPECT_EQ(data.report.images_used, 2u);
  EXPECT_TRUE(data.report.errors.empty());
  ASSERT_EQ(data.report.ignored_channels.size(), 1u);
  EXPECT_TRUE(contains(data.report.ignored_channels[0], "bright.png: blue and red are saturated"))
      << data.report.ignored_channels[0];
  // The bright image's green samples are there; its blue and red take the class's mean from the normal image.
  std::map<int64_t, std::array<double, 3>> sum;
  std::map<int64_t, size_t> count;
  for (size_t i = 0; i < data.samples.size(); ++i) {
    for (int c = 0; c < 3; ++c) {
      ASSERT_FALSE(std::isnan(data.samples.contrasts[i][c]));
      sum[data.samples.labels[i]][c] += data.samples.contrasts[i][c];
    }
    ++count[data.samples.labels[i]];
  }
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(sum[1][c] / count[1], kMonolayer[c], 0.02) << c;
  fs::remove_all(dir);
}

// Saturated throughout the substrate, a channel is taken against the clip level; a flake pixel still in the clip
// band there is no darker than the clip, so its contrast is unknown, not 0. The substrate is the clip level:
// its samples keep their contrast (0), or the background class would measure nothing at all.
TEST(Overexposure, ClipLevelTrainingKeepsOnlyPixelsDarkerThanTheClip) {
  cv::Mat image(160, 200, CV_8UC3, cv::Scalar(200, 200, 200));
  const cv::Rect thin(20, 20, 60, 60), thick(110, 60, 60, 60);
  image(thin).setTo(cv::Scalar(180, 140, 110));  // contrast (-0.1, -0.3, -0.45)
  image(thick).setTo(cv::Scalar(140, 120, 100));
  const cv::Mat bright = overexposed(image);  // substrate 320 -> 255; thin's blue 288 -> 255
  ASSERT_TRUE(measure_background(bright, BackgroundRule::training()).against_clip_level());
  std::mt19937_64 rng(1);
  const coco::Annotation a = annotation(image.size(), thin, 1, 1, 1);
  const ContrastSamples samples = extract_image_samples(bright, {&a}, {}, rng);
  size_t flake_samples = 0, substrate_samples = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Contrast& c = samples.contrasts[i];
    if (samples.labels[i] == 1) {
      ++flake_samples;
      EXPECT_TRUE(std::isnan(c[0]));
      EXPECT_NEAR(c[1], 224.0 / 255 - 1, 0.01);
    } else if (c[0] == 0.0f) {
      ++substrate_samples;
      EXPECT_EQ(c, (Contrast{0, 0, 0}));
    }
  }
  EXPECT_GT(flake_samples, 0u);
  EXPECT_GT(substrate_samples, samples.size() / 2);
}

// A channel most of a class's training samples did not measure was imputed with one mean: its spread says
// nothing, and judging a flake on it would call every properly exposed flake of that class unknown.
TEST(Overexposure, AmmJudgesAClassOnlyOnTheChannelsItsTrainingMeasured) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.012f);
  ContrastSamples train;
  for (int i = 0; i < 2000; ++i) train.add({noise(rng), noise(rng), noise(rng)}, 0);
  // Class 1's blue: the imputed mean on all but a few samples.
  for (int i = 0; i < 2000; ++i)
    train.add({kMonolayer[0] + (i % 20 == 0 ? noise(rng) : 0.0f), kMonolayer[1] + noise(rng), kMonolayer[2] + noise(rng)}, 1);
  train.channel_coverage = {{0, {1, 1, 1}}, {1, {0.05, 1, 1}}};
  NetworkTrainingOptions options = NetworkTrainingOptions::defaults(NetworkClassifier::Head::Gda);
  options.iterations = 150;
  options.batch_size = 2000;
  options.show_progress = false;
  const auto amm = train_network(NetworkClassifier::Head::Gda, train, nullptr, options, {});
  ContrastSamples unrecorded = train;
  unrecorded.channel_coverage.clear();
  const auto naive = train_network(NetworkClassifier::Head::Gda, unrecorded, nullptr, options, {});
  const fs::path dir = fs::temp_directory_path() / "mt_overexposure_coverage";
  fs::remove_all(dir);
  amm->save(dir.string());
  const auto loaded = NetworkClassifier::load(dir.string());
  // A monolayer whose blue is measured 0.08 stronger than the few blue samples training had.
  const std::vector<std::array<float, 3>> probe{{kMonolayer[0] - 0.08f, kMonolayer[1], kMonolayer[2]}};
  EXPECT_EQ(naive->classify_contrasts(probe, 10.0), (std::vector<uint8_t>{0}));
  for (const auto& model : {amm, loaded}) EXPECT_EQ(model->classify_contrasts(probe, 10.0), (std::vector<uint8_t>{1}));
  fs::remove_all(dir);
}

// Two of three images with blue and red saturated: the classes measured only green on most of their pixels, and
// training says that they will be judged on green alone.
TEST(Overexposure, TrainingSaysWhichChannelsAClassWillBeJudgedWithout) {
  const fs::path dir = fs::temp_directory_path() / "mt_overexposure_class_channels";
  const coco::Dataset dataset = normal_and_bright_scans(dir, 2);
  TrainingDataOptions options;
  options.show_progress = false;
  const TrainingData data = prepare_training_data(dataset, dir.string(), options);
  EXPECT_NEAR(data.samples.channel_coverage.at(1)[0], 1.0 / 3, 0.01);
  ASSERT_EQ(data.report.unmeasured_class_channels.size(), 2u);
  EXPECT_EQ(data.report.unmeasured_class_channels[0],
            "class 1: judged on green only; blue and red measured on 33 % of its training pixels (the rest saturated, "
            "clipped or dark)");
  fs::remove_all(dir);
}

TEST(Overexposure, AmmComparesAnIgnoredChannelWithEachClasssMean) {
  std::mt19937_64 rng(2);
  std::normal_distribution<float> noise(0.0f, 0.012f);
  ContrastSamples train;
  for (const auto& [label, centre] : std::map<int64_t, Contrast>{{0, {0, 0, 0}}, {1, kMonolayer}, {2, kBilayer}})
    for (int i = 0; i < 2000; ++i) train.add({centre[0] + noise(rng), centre[1] + noise(rng), centre[2] + noise(rng)}, label);
  NetworkTrainingOptions options = NetworkTrainingOptions::defaults(NetworkClassifier::Head::Gda);
  options.iterations = 150;
  options.batch_size = 2000;
  options.show_progress = false;
  const auto amm = train_network(NetworkClassifier::Head::Gda, train, nullptr, options, {});
  const fs::path dir = fs::temp_directory_path() / "mt_overexposure_amm";
  fs::remove_all(dir);
  amm->save(dir.string());
  const auto loaded = NetworkClassifier::load(dir.string());
  // Blue and red hold nonsense (what a clipped channel gives); green alone tells the classes apart.
  const std::vector<std::array<float, 3>> probes{{0.9f, 0.0f, -0.9f}, {0.9f, kMonolayer[1], -0.9f}, {0.9f, kBilayer[1], -0.9f}};
  for (const auto& model : {amm, loaded}) {
    EXPECT_EQ(model->classify_contrasts(probes, 10.0, nullptr, {false, true, false}), (std::vector<uint8_t>{0, 1, 2}));
    EXPECT_LT(model->flake_uncertainty({0.9, kMonolayer[1], -0.9}, 1, {false, true, false}), 3.0);
  }
  fs::remove_all(dir);
}

TEST(Overexposure, ClassesAreJudgedOnTheChannelsTheyMeasuredAndNeverOnNone) {
  EXPECT_EQ(measured_channels({0.05, 0.9, 1.0}), (ChannelMask{false, true, true}));
  EXPECT_EQ(measured_channels({0.1, 0.3, 0.2}), (ChannelMask{false, true, false}));  // the best one, never none
  EXPECT_EQ(comparison_channels({true, true, false}, {false, true, true}), (ChannelMask{false, true, false}));
  EXPECT_EQ(comparison_channels({true, false, false}, {false, true, true}), (ChannelMask{true, false, false}));
}

// The GMM fit marginalises a class over what its samples barely measured, and its parameter file says so
// (beside 2DMatGMM's keys, only then).
TEST(Overexposure, GmmLeavesOutTheChannelsAClassBarelyMeasured) {
  std::mt19937_64 rng(4);
  std::normal_distribution<float> noise(0.0f, 0.012f);
  ContrastSamples train;
  for (int i = 0; i < 2000; ++i)
    train.add({kMonolayer[0] + (i % 20 == 0 ? noise(rng) : 0.0f), kMonolayer[1] + noise(rng), kMonolayer[2] + noise(rng)}, 1);
  for (int i = 0; i < 2000; ++i) train.add({kBilayer[0] + noise(rng), kBilayer[1] + noise(rng), kBilayer[2] + noise(rng)}, 2);
  const std::array<double, 3> probe{kMonolayer[0] - 0.08, kMonolayer[1], kMonolayer[2]};
  EXPECT_GT(fit_gmm(train).distance(probe, 0), 5.0);
  train.channel_coverage = {{1, {0.05, 1, 1}}, {2, {1, 1, 1}}};
  const GmmClassifier gmm = fit_gmm(train);
  const auto json = gmm.to_json();
  EXPECT_EQ(json["1"]["measured_channels"], nlohmann::ordered_json({{"b", false}, {"g", true}, {"r", true}}));
  EXPECT_FALSE(json["2"].contains("measured_channels"));
  for (const GmmClassifier& model : {gmm, GmmClassifier::from_json(json, "gmm.json")}) {
    EXPECT_LT(model.distance(probe, 0), 3.0);
    EXPECT_EQ(model.classify_contrasts({{float(probe[0]), float(probe[1]), float(probe[2])}}, 5.0),
              (std::vector<uint8_t>{1}));
  }
}

// The acceptance's overexposed GrapheneH split: each image x1.6, clipped at 255, JPEG 95; an AMM trained on the
// first three annotated images (one of them saturated in every channel) uses all three.
TEST(Overexposure, TrainClassifierUsesEveryOverexposedGrapheneImage) {
  const std::string shared = MASKTERIAL_SHARED_DATA;
  const fs::path images = fs::path(shared) / "maskterial-demo" / "images" / "GrapheneH";
  const fs::path masks = fs::path(shared) / "maskterial-demo" / "instance_masks" / "GrapheneH";
  REQUIRE_SHARED_DATA(fs::exists(masks), "shared data not found");
  const fs::path out = cli_test::fresh_dir("mt_cli_overexposed");
  const fs::path bright = out / "images";
  fs::create_directories(bright);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(masks)) names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  ASSERT_EQ(names.size(), 5u);
  for (const auto& name : names)
    cv::imwrite((bright / (name + ".jpg")).string(), overexposed(cv::imread((images / (name + ".jpg")).string())),
                {cv::IMWRITE_JPEG_QUALITY, 95});
  coco::Dataset all = coco::read_instance_mask_folder(bright.string(), masks.string());
  coco::Dataset train = all;
  train.images.clear();
  for (const auto& im : all.images)
    if (fs::path(im.file_name).stem().string() <= names[2]) train.images.push_back(im);
  ASSERT_EQ(train.images.size(), 3u);
  train.annotations.clear();
  for (const auto& a : all.annotations)
    if (train.find_image(a.image_id)) train.annotations.push_back(a);
  coco::write_dataset((out / "train.json").string(), train);

  const cli_test::CliRun r = cli_test::run_cli("train-classifier --type amm --iterations 300 --images " + bright.string() +
                                               " --annotations " + (out / "train.json").string() + " --out " +
                                               (out / "amm").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "skipping image")) << r.output;
  EXPECT_TRUE(contains(r.output, "saturated")) << r.output;
  EXPECT_TRUE(read_json((out / "amm" / "model.json").string())["training"].contains("class_contrast_means"));

  // The test images, one of them saturated in every channel, are detected, not refused.
  const cli_test::CliRun d = cli_test::run_cli("detect -q --no-overlays --segmenter none --classifier " +
                                               (out / "amm").string() + " --out " + (out / "det").string() + " " +
                                               (bright / (names[3] + ".jpg")).string() + " " +
                                               (bright / (names[4] + ".jpg")).string());
  ASSERT_EQ(d.code, 0) << d.output;
  const auto saturated = read_json((out / "det" / (names[3] + ".json")).string());
  EXPECT_TRUE(contains(saturated.value("ignored_channels", ""), "clip level")) << saturated.dump();
  EXPECT_FALSE(saturated["flakes"].empty());
}
